import type * as otel from '@opentelemetry/api';

/** The metadata keys that carry a task's creation context (W3C Trace Context). */
export const TRACEPARENT_KEY = 'traceparent';
export const TRACESTATE_KEY = 'tracestate';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Writes `span`'s context into `metadata` as W3C `traceparent` (and `tracestate`, when it has one). */
export function writeTraceParent(
  span: otel.SpanContext,
  metadata: Record<string, unknown>,
): void {
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
  metadata[TRACEPARENT_KEY] = `00-${span.traceId}-${span.spanId}-${flags}`;
  const state = span.traceState?.serialize();
  if (state) metadata[TRACESTATE_KEY] = state;
  else delete metadata[TRACESTATE_KEY];
}

/** The remote span context stored in `metadata`, or null when it holds none (or a malformed one). */
export function readTraceParent(
  api: typeof otel,
  metadata: Record<string, unknown>,
): otel.SpanContext | null {
  const header = metadata[TRACEPARENT_KEY];
  const match = typeof header === 'string' ? TRACEPARENT.exec(header) : null;
  if (!match) return null;
  const state = metadata[TRACESTATE_KEY];
  const span: otel.SpanContext = {
    traceId: match[1],
    spanId: match[2],
    traceFlags: parseInt(match[3], 16),
    isRemote: true,
    ...(typeof state === 'string' && state
      ? { traceState: api.createTraceState(state) }
      : {}),
  };
  return api.isSpanContextValid(span) ? span : null;
}
