import { Injectable } from '@nestjs/common';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import type { TaskDefinition } from '../task/task-definition.js';
import { TaskMessages } from '../tasks.messages.js';

/** One `@Task()` method found in the application. */
export interface RegisteredTask {
  name: string;
  /** `Class.method`, for messages. */
  site: string;
  instance: object;
  methodName: string;
  definition: TaskDefinition<any, any>;
}

/** The only place that maps a stored task name back to code. */
@Injectable()
export class TaskRegistry {
  private readonly byName = new Map<string, RegisteredTask>();
  private readonly byMethod = new Map<object, RegisteredTask>();

  add(task: RegisteredTask): void {
    const existing = this.byName.get(task.name);
    if (existing) {
      throw new InvalidTaskError(
        TaskMessages.duplicateTaskName(task.name, existing.site, task.site),
      );
    }
    this.byName.set(task.name, task);
    this.byMethod.set(
      (task.instance as Record<string, object>)[task.methodName],
      task,
    );
  }

  find(name: string): RegisteredTask | undefined {
    return this.byName.get(name);
  }

  get(name: string): RegisteredTask {
    const task = this.byName.get(name);
    if (!task)
      throw new InvalidTaskError(
        TaskMessages.unknownTaskName(name, this.names()),
      );
    return task;
  }

  /** The task behind a decorated method function, if its provider was discovered. */
  findByMethod(method: object): RegisteredTask | undefined {
    return this.byMethod.get(method);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  all(): RegisteredTask[] {
    return [...this.byName.values()];
  }
}
