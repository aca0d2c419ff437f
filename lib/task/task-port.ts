import type { TaskDefinition } from './task-definition.js';
import type { TaskResult } from './task-result.js';

/**
 * What a task definition needs from the rest of the library. The `task/` layer
 * knows no backend and no registry: the module supplies this port.
 */
export interface TaskPort {
  /** Throws when the definition cannot be used as it stands (unknown backend, invalid options). */
  validate(task: TaskDefinition<any, any>): void;
  enqueue(
    task: TaskDefinition<any, any>,
    argsList: unknown[][],
  ): Promise<TaskResult<any>[]>;
  getResult(backend: string, id: string): Promise<TaskResult<any>>;
  call(task: TaskDefinition<any, any>, args: unknown[]): Promise<unknown>;
}
