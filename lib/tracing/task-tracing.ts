import type * as otel from '@opentelemetry/api';
import { importOptionalPeer } from '../optional-peer.js';
import type { TaskDefinition } from '../task/task-definition.js';
import {
  toErrorRecord,
  type TaskErrorRecord,
} from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import type { TaskResultData } from '../task/task-result-data.js';
import { readTraceParent, writeTraceParent } from './trace-parent.js';

type OtelApi = typeof otel;

/** The tracer's name, and `messaging.system` on every span. */
const INSTRUMENTATION = 'nestjs-tasks';

/** How an attempt ended, as far as its span cares. */
type AttemptEnd = { ok: true } | { ok: false; error: TaskErrorRecord };

let loading: Promise<void> | null = null;
let tracing: TaskTracing | null = null;

/**
 * Looks for `@opentelemetry/api`, once: without it tracing stays off. Later
 * calls return the first one's promise (`load` is how the first looks).
 */
export function loadTaskTracing(
  load: () => Promise<unknown> = () => importOptionalPeer('@opentelemetry/api'),
): Promise<void> {
  loading ??= load().then(
    (loaded) => {
      const api = loaded as OtelApi & { default?: OtelApi };
      tracing = new TaskTracing(api.trace ? api : api.default!);
    },
    () => undefined,
  );
  return loading;
}

/** The tracing to use now: null while `@opentelemetry/api` is absent or no tracer provider is registered. */
export function activeTaskTracing(): TaskTracing | null {
  return tracing?.isOn() ? tracing : null;
}

/**
 * Spans of enqueues (producer) and attempts (consumer), with the messaging
 * semantic conventions. The enqueue span's context travels in each task's
 * metadata (`traceparent`), and each attempt's span is its child.
 */
export class TaskTracing {
  /** The class of the API's no-op tracer provider (the delegate until an app registers one). */
  private readonly noop: object;

  constructor(private readonly api: OtelApi) {
    this.noop = new api.ProxyTracerProvider().getDelegate().constructor;
  }

  /** Whether an application has registered a tracer provider. */
  isOn(): boolean {
    const provider = this.api.trace.getTracerProvider() as otel.TracerProvider &
      Partial<Pick<otel.ProxyTracerProvider, 'getDelegate'>>;
    const delegate = provider.getDelegate ? provider.getDelegate() : provider;
    return delegate.constructor !== this.noop;
  }

  /** Runs `send` (storing `rows` of `task`) in an `enqueue <task>` span whose context each row carries. */
  async enqueue<T extends readonly { id: string }[]>(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
    send: () => Promise<T>,
  ): Promise<T> {
    const { api } = this;
    const span = this.tracer().startSpan(`enqueue ${task.name}`, {
      kind: api.SpanKind.PRODUCER,
      attributes: {
        'messaging.system': INSTRUMENTATION,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'enqueue',
        'messaging.destination.name': task.queueName,
        'nestjs_tasks.task.name': task.name,
        'nestjs_tasks.backend': task.backend,
        ...(rows.length === 1
          ? { 'messaging.message.id': rows[0].id }
          : { 'messaging.batch.message_count': rows.length }),
      },
    });
    const created = span.spanContext();
    if (api.isSpanContextValid(created))
      for (const row of rows) writeTraceParent(created, row.metadata);
    try {
      const results = await api.context.with(
        api.trace.setSpan(api.context.active(), span),
        send,
      );
      // A unique task's enqueue may return the result already stored.
      if (results.length === 1)
        span.setAttribute('messaging.message.id', results[0].id);
      return results;
    } catch (error) {
      this.recordFailure(span, toErrorRecord(error));
      throw error;
    } finally {
      span.end();
    }
  }

  /** Runs one attempt of `result` in a `run <task>` span, a child of the context its enqueue stored. */
  async attempt<T extends AttemptEnd>(
    result: TaskResult<unknown>,
    attempt: number,
    run: () => Promise<T>,
  ): Promise<T> {
    const { api } = this;
    const active = api.context.active();
    const created = readTraceParent(api, result.metadata);
    const parent = created ? api.trace.setSpanContext(active, created) : active;
    const span = this.tracer().startSpan(
      `run ${result.task.name}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          'messaging.system': INSTRUMENTATION,
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'run',
          'messaging.destination.name': result.task.queueName,
          'messaging.message.id': result.id,
          'nestjs_tasks.task.name': result.task.name,
          'nestjs_tasks.task.attempt': attempt,
          'nestjs_tasks.backend': result.backend,
        },
      },
      parent,
    );
    try {
      const outcome = await api.context.with(
        api.trace.setSpan(parent, span),
        run,
      );
      if (!outcome.ok) this.recordFailure(span, outcome.error);
      return outcome;
    } finally {
      span.end();
    }
  }

  private tracer(): otel.Tracer {
    return this.api.trace.getTracer(INSTRUMENTATION);
  }

  /** An exception event and status ERROR. */
  private recordFailure(span: otel.Span, error: TaskErrorRecord): void {
    span.recordException({
      name: error.errorClass,
      message: error.message,
      ...(error.traceback ? { stack: error.traceback } : {}),
    });
    span.setAttribute('error.type', error.errorClass);
    span.setStatus({
      code: this.api.SpanStatusCode.ERROR,
      message: error.message,
    });
  }
}
