import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** A tracer provider registered globally, as an application's SDK registers one, whose spans stay in memory. */
export interface TestTracing {
  /** The ended spans, oldest first. */
  spans(): ReadableSpan[];
  /** The one ended span called `name`. */
  span(name: string): ReadableSpan;
  /** Unregisters the provider and the context manager. */
  uninstall(): Promise<void>;
}

/** Registers an in-memory tracer provider and an AsyncLocalStorage context manager. */
export function installTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  const spans = () => exporter.getFinishedSpans();
  return {
    spans,
    span: (name) => {
      const named = spans().filter((span) => span.name === name);
      expect(named).toHaveLength(1);
      return named[0];
    },
    uninstall: async () => {
      trace.disable();
      context.disable();
      await provider.shutdown();
    },
  };
}

/** The id of the span `span` is a child of, if any. */
export function parentSpanId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
