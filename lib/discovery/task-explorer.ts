import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { TASK_EVENT_METADATA, TASK_METADATA } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskMetadata } from '../decorators/task.decorator.js';
import type { TaskEventName } from '../events/task-event-name.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import { TaskDefinition, defaultTaskState } from '../task/task-definition.js';
import { TaskDispatcher } from '../dispatch/task-dispatcher.js';
import { TaskRegistry } from './task-registry.js';

/** Collects `@Task()` and `@OnTaskEvent()` methods of every provider, then validates the tasks. */
@Injectable()
export class TaskExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: TaskRegistry,
    private readonly events: TaskEventBus,
    private readonly dispatcher: TaskDispatcher,
  ) {}

  onModuleInit(): void {
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
    for (const task of this.registry.all())
      this.dispatcher.validate(task.definition);
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
    if (task.schedule !== undefined) {
      throw new InvalidTaskError(TaskMessages.scheduleNotSupported(site));
    }
    const defaults = defaultTaskState(task.name);
    const definition = new TaskDefinition(this.dispatcher, {
      ...defaults,
      priority: task.priority ?? defaults.priority,
      queueName: task.queueName ?? defaults.queueName,
      backend: task.backend ?? defaults.backend,
      takesContext: task.takesContext ?? defaults.takesContext,
      maxAttempts: task.maxAttempts ?? defaults.maxAttempts,
      retryDelay: task.retryDelay ?? defaults.retryDelay,
      timeout: task.timeout ?? defaults.timeout,
      uniqueKeyOf: task.unique?.key ?? defaults.uniqueKeyOf,
    });
    this.registry.add({
      name: task.name,
      site,
      instance,
      methodName,
      definition,
    });
  }
}
