import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { TASK_EVENT_METADATA, TASK_METADATA } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskMetadata } from '../task/task-options.js';
import type { TaskEventName } from '../task/task-event.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import { TaskRegistry } from './task-registry.js';

/**
 * Collects the `@Task()` and `@OnTaskEvent()` methods of every provider into
 * the registry and the event bus. It only collects: definitions are built and
 * validated by the next step of the module's start-up.
 */
@Injectable()
export class TaskExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: TaskRegistry,
    private readonly events: TaskEventBus,
  ) {}

  collect(): void {
    // One instance may stand behind several providers (useExisting aliases, re-provided values).
    const explored = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (wrapper.isAlias) continue;
      if (instance && typeof instance === 'object') {
        if (explored.has(instance)) continue;
        explored.add(instance);
      }
      this.explore(wrapper);
    }
  }

  private explore(wrapper: InstanceWrapper): void {
    const singleton = wrapper.isDependencyTreeStatic() && !wrapper.isTransient;
    const instance: unknown = singleton ? wrapper.instance : undefined;
    const prototype =
      instance && typeof instance === 'object'
        ? Object.getPrototypeOf(instance)
        : typeof wrapper.metatype === 'function' && !wrapper.inject
          ? wrapper.metatype.prototype
          : undefined;
    if (!prototype) return;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = prototype[methodName];
      const task: TaskMetadata | undefined = Reflect.getMetadata(
        TASK_METADATA,
        method,
      );
      const events: TaskEventName[] | undefined = Reflect.getMetadata(
        TASK_EVENT_METADATA,
        method,
      );
      if (!task && !events) continue;
      const site = `${prototype.constructor.name}.${methodName}`;
      if (!singleton) {
        throw new InvalidTaskError(
          task
            ? TaskMessages.requestScopedTask(site)
            : TaskMessages.requestScopedListener(site),
        );
      }
      const target = instance as Record<
        string,
        (...args: unknown[]) => unknown
      >;
      if (task) this.register(task, site, target, methodName);
      for (const event of events ?? []) {
        this.events.subscribe(event, {
          site,
          handler: (payload) => target[methodName](payload),
        });
      }
    }
  }

  private register(
    task: TaskMetadata,
    site: string,
    instance: object,
    methodName: string,
  ): void {
    const { name, site: _declaredAt, ...options } = task;
    this.registry.add({ name, site, instance, methodName, options });
  }
}
