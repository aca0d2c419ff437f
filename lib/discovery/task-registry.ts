import { Injectable } from '@nestjs/common';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import type {
  RegisteredTask,
  TaskLookup,
} from '../execution/registered-task.js';
import {
  TaskDefinition,
  taskStateFromOptions,
} from '../task/task-definition.js';
import { TASK_OPTION_KEYS, type TaskOptions } from '../task/task-options.js';
import type { TaskPort } from '../task/task-port.js';
import { TaskSchedule } from '../task/task-schedule.js';
import { TaskMessages } from '../tasks.messages.js';

/** A `@Task()` method as discovery found it, before its definition is built. */
export interface CollectedTask {
  name: string;
  /** `Class.method`, for messages. */
  site: string;
  instance: object;
  methodName: string;
  options: TaskOptions;
}

/**
 * The only place that maps a stored task name back to code. Discovery adds
 * what it collects; `define()` then builds the definitions, bound to the
 * port that enqueues them.
 */
@Injectable()
export class TaskRegistry implements TaskLookup {
  private readonly collected = new Map<string, CollectedTask>();
  private readonly byName = new Map<string, RegisteredTask>();
  private readonly byMethod = new Map<object, RegisteredTask>();

  /** Records a collected task; a second task of the same name is refused, naming both sites. */
  add(task: CollectedTask): void {
    const existing = this.collected.get(task.name);
    if (existing) {
      throw new InvalidTaskError(
        TaskMessages.duplicateTaskName(task.name, existing.site, task.site),
      );
    }
    this.collected.set(task.name, task);
  }

  /** Builds the definition of every collected task. */
  define(port: TaskPort): void {
    for (const { options, ...task } of this.collected.values()) {
      const unknown = Object.keys(options).filter(
        (key) => !TASK_OPTION_KEYS.includes(key as keyof TaskOptions),
      );
      if (unknown.length)
        throw new InvalidTaskError(
          TaskMessages.unknownTaskOptions(task.site, unknown, TASK_OPTION_KEYS),
        );
      const registered: RegisteredTask = {
        ...task,
        schedule: this.scheduleOf(task, options),
        definition: new TaskDefinition(
          port,
          taskStateFromOptions(task.name, options),
        ),
      };
      this.byName.set(task.name, registered);
      this.byMethod.set(
        (task.instance as Record<string, object>)[task.methodName],
        registered,
      );
    }
  }

  /** The task's schedule, checked; a scheduled method must need no arguments. */
  private scheduleOf(
    task: Omit<CollectedTask, 'options'>,
    options: TaskOptions,
  ): TaskSchedule | null {
    if (options.schedule === undefined) return null;
    const schedule = TaskSchedule.parse(task.name, options.schedule);
    const method = (
      task.instance as Record<string, (...args: unknown[]) => unknown>
    )[task.methodName];
    const required = method.length - (options.takesContext ? 1 : 0);
    if (required > 0)
      throw new InvalidTaskError(
        TaskMessages.scheduledTaskTakesArguments(
          task.name,
          task.site,
          required,
        ),
      );
    return schedule;
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

  /** The tasks that have a schedule. */
  periodic(): (RegisteredTask & { schedule: TaskSchedule })[] {
    return this.all().filter(
      (task): task is RegisteredTask & { schedule: TaskSchedule } =>
        task.schedule !== null,
    );
  }
}
