import { Injectable, Logger } from '@nestjs/common';
import type { TaskResult } from '../task/task-result.js';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskEventName } from '../task/task-event.js';

interface Listener {
  site: string;
  handler: (event: { result: TaskResult<unknown>; error?: unknown }) => unknown;
}

const NOTHING_TO_DELIVER = Promise.resolve();

/** Delivers task events to `@OnTaskEvent()` listeners; a throwing listener is logged and isolated. */
@Injectable()
export class TaskEventBus {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly listeners = new Map<TaskEventName, Listener[]>();

  subscribe(event: TaskEventName, listener: Listener): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
  }

  /** Delivers an event to its listeners in turn; settled at once when it has none, as most events of a busy worker do. */
  emit(
    event: TaskEventName,
    result: TaskResult<unknown>,
    error?: unknown,
  ): Promise<void> {
    const listeners = this.listeners.get(event);
    return listeners
      ? this.deliver(event, listeners, result, error)
      : NOTHING_TO_DELIVER;
  }

  private async deliver(
    event: TaskEventName,
    listeners: readonly Listener[],
    result: TaskResult<unknown>,
    error: unknown,
  ): Promise<void> {
    for (const listener of listeners) {
      try {
        await listener.handler(
          error === undefined ? { result } : { result, error },
        );
      } catch (thrown) {
        this.logger.error(
          TaskMessages.listenerFailed(event, listener.site),
          (thrown as Error)?.stack ?? String(thrown),
        );
      }
    }
  }
}
