import { TASK_METADATA } from '../tasks.constants.js';
import type { TaskMetadata, TaskOptions } from '../task/task-options.js';

/**
 * Marks a provider method as a task. The provider must be singleton-scoped.
 * The default name is `Class.method`; keep names stable across deploys.
 */
export function Task(options: TaskOptions = {}): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const site = `${target.constructor.name}.${String(propertyKey)}`;
    const metadata: TaskMetadata = {
      ...options,
      name: options.name ?? site,
      site,
    };
    Reflect.defineMetadata(TASK_METADATA, metadata, descriptor.value as object);
    return descriptor;
  };
}
