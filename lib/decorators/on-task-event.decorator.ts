import { TASK_EVENT_METADATA } from '../tasks.constants.js';
import { TASK_EVENT_NAMES, type TaskEventName } from '../task/task-event.js';
import { TaskMessages } from '../tasks.messages.js';

/** Calls the decorated provider method with `{ result }` when a task is enqueued, started or finished. */
export function OnTaskEvent(event: TaskEventName): MethodDecorator {
  if (!TASK_EVENT_NAMES.includes(event))
    throw new TypeError(TaskMessages.badEventName(event));
  return (_target, _propertyKey, descriptor) => {
    const method = descriptor.value as object;
    const events: TaskEventName[] =
      Reflect.getMetadata(TASK_EVENT_METADATA, method) ?? [];
    Reflect.defineMetadata(TASK_EVENT_METADATA, [...events, event], method);
    return descriptor;
  };
}
