import { Injectable, Logger } from '@nestjs/common';
import type { TaskResult } from '../task/task-result.js';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskEventName } from '../task/task-event.js';

interface Listener {
  site: string;
  handler: (event: { result: TaskResult<unknown>; error?: unknown }) => unknown;
}

/** Delivers task events to `@OnTaskEvent()` listeners; a throwing listener is logged and isolated. */
@Injectable()
export class TaskEventBus {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly listeners = new Map<TaskEventName, Listener[]>();

  subscribe(event: TaskEventName, listener: Listener): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
  }

  async emit(
    event: TaskEventName,
    result: TaskResult<unknown>,
    error?: unknown,
  ): Promise<void> {
    for (const listener of this.listeners.get(event) ?? []) {
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
