import type { TaskRegistry } from '../discovery/task-registry.js';
import type { TaskPort } from '../task/task-port.js';
import { TaskDefinition, defaultTaskState } from '../task/task-definition.js';
import type { TaskResultData } from '../task/task-result-data.js';

/** Distinct stored variants kept at most; past this the cache starts over. */
const MAX_VARIANTS = 1024;

/**
 * The definition a stored result runs with: its task's registered
 * definition (a default one, built afresh, for a name not registered
 * here) with the
 * priority, queue, backend and `runAfter` the result was stored with.
 * Definitions are immutable, so results that agree on these share one:
 * a worker resolving thousands of stored results builds a handful.
 */
export class StoredTaskDefinitions {
  private readonly variants = new Map<string, TaskDefinition<any, any>>();
  /** The variant resolved last, by what keys it: results resolved together (a claim, a bulk enqueue) mostly share one. */
  private last: {
    taskName: string;
    priority: number;
    queueName: string;
    backend: string;
    runAfter: number | null;
    definition: TaskDefinition<any, any>;
  } | null = null;

  constructor(
    private readonly port: TaskPort,
    private readonly registry: TaskRegistry,
  ) {}

  resolve(data: TaskResultData): TaskDefinition<any, any> {
    const registered = this.registry.find(data.taskName)?.definition;
    if (!registered)
      return this.variant(
        new TaskDefinition(this.port, defaultTaskState(data.taskName)),
        data,
      );
    const runAfter = data.runAfter?.getTime() ?? null;
    // An unreadable date keys nothing: it is built afresh.
    if (runAfter !== null && !Number.isFinite(runAfter))
      return this.variant(registered, data);
    const last = this.last;
    if (
      last !== null &&
      last.taskName === data.taskName &&
      last.priority === data.priority &&
      last.queueName === data.queueName &&
      last.backend === data.backend &&
      last.runAfter === runAfter
    )
      return last.definition;
    const key = JSON.stringify([
      data.taskName,
      data.priority,
      data.queueName,
      data.backend,
      runAfter,
    ]);
    let definition = this.variants.get(key);
    if (!definition) {
      definition = this.variant(registered, data);
      if (this.variants.size >= MAX_VARIANTS) this.variants.clear();
      this.variants.set(key, definition);
    }
    this.last = {
      taskName: data.taskName,
      priority: data.priority,
      queueName: data.queueName,
      backend: data.backend,
      runAfter,
      definition,
    };
    return definition;
  }

  private variant(
    base: TaskDefinition<any, any>,
    data: TaskResultData,
  ): TaskDefinition<any, any> {
    return base.with({
      priority: data.priority,
      queueName: data.queueName,
      backend: data.backend,
      runAfter: data.runAfter,
    });
  }
}
