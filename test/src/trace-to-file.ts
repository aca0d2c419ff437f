import { appendFileSync } from 'node:fs';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

/** One finished span, as a line of the trace file. */
export interface TracedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: ReadableSpan['attributes'];
  status: ReadableSpan['status'];
}

/** Registers a tracer provider, as an application's SDK would, that appends each finished span to `file` as a JSON line. */
export function traceToFile(file: string): void {
  const exporter: SpanExporter = {
    export: (spans, done) => {
      for (const span of spans) {
        const line: TracedSpan = {
          name: span.name,
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
          parentSpanId: span.parentSpanContext?.spanId,
          attributes: span.attributes,
          status: span.status,
        };
        appendFileSync(file, `${JSON.stringify(line)}\n`);
      }
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  context.setGlobalContextManager(
    new AsyncLocalStorageContextManager().enable(),
  );
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    }),
  );
}
