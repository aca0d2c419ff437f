import * as api from '@opentelemetry/api';
import {
  readTraceParent,
  writeTraceParent,
} from '../../lib/tracing/trace-parent.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

/** The W3C Trace Context a task carries in its metadata. */
describe('trace context in task metadata', () => {
  it('round-trips a span context, its flags and trace state', () => {
    const metadata: Record<string, unknown> = { scheduledFor: 'kept' };
    writeTraceParent(
      {
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        traceFlags: api.TraceFlags.SAMPLED,
        traceState: api.createTraceState('vendor=value'),
      },
      metadata,
    );

    expect(metadata).toEqual({
      scheduledFor: 'kept',
      traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`,
      tracestate: 'vendor=value',
    });
    const read = readTraceParent(api, metadata)!;
    expect(read).toMatchObject({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: api.TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(read.traceState?.get('vendor')).toBe('value');
  });

  it('drops a trace state left by an earlier context', () => {
    const metadata: Record<string, unknown> = { tracestate: 'old=1' };
    writeTraceParent(
      { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 },
      metadata,
    );
    expect(metadata).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` });
  });

  it.each([
    ['no traceparent', {}],
    ['a number', { traceparent: 42 }],
    ['garbage', { traceparent: 'not a trace' }],
    ['an unknown version', { traceparent: `01-${TRACE_ID}-${SPAN_ID}-01` }],
    [
      'upper case',
      { traceparent: `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01` },
    ],
    [
      'an all-zero trace id',
      { traceparent: `00-${'0'.repeat(32)}-${SPAN_ID}-01` },
    ],
    [
      'an all-zero span id',
      { traceparent: `00-${TRACE_ID}-${'0'.repeat(16)}-01` },
    ],
  ])('reads no context from %s', (_, metadata) => {
    expect(readTraceParent(api, metadata)).toBeNull();
  });
});
