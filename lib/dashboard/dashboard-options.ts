import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import { TasksError } from '../errors/tasks.error.js';
import { TaskMessages } from '../tasks.messages.js';

/** `TasksDashboardModule.forRoot()` options. */
export interface TasksDashboardOptions {
  /** Where the dashboard is served (below the application's global prefix, if any). Default `'/tasks'`. */
  path?: string;
  /**
   * Decides who may see every page and use every action: a Nest
   * `CanActivate` class. Required unless `public: true`.
   *
   * Beware: the guard runs on the dashboard's own controller and handlers,
   * which carry no metadata of yours. A guard that lets a route through when
   * it finds no metadata (the common `RolesGuard`: `if (!roles) return
   * true`) lets everyone in; give the metadata with `decorators`, or use a
   * guard that refuses by default.
   */
  guard?: Type<CanActivate>;
  /**
   * Class decorators applied to the dashboard's controller, e.g.
   * `[Roles('admin')]`, so that the guard finds the metadata it reads
   * (through `Reflector.getAllAndOverride(key, [context.getHandler(),
   * context.getClass()])` or `Reflector.get(key, context.getClass())`).
   */
  decorators?: ClassDecorator[];
  /**
   * The secret that signs the CSRF tokens (at least 32 characters). Give the
   * same one to every process or replica that serves the dashboard: by
   * default each process draws its own, and a form served by one is
   * refused by another (a note at startup says so when actions are on).
   */
  csrfSecret?: string;
  /** Hide and refuse retry and cancel. Default `true`. */
  readOnly?: boolean;
  /** Serve the dashboard without a guard, to anyone who reaches it. Default `false`. */
  public?: boolean;
  /** Modules that provide what the guard injects, when they are not global. */
  imports?: ModuleMetadata['imports'];
}

/** The options with their defaults, checked. */
export interface DashboardSettings {
  /** Without a trailing slash, e.g. `/tasks`. */
  path: string;
  guard: Type<CanActivate> | null;
  readOnly: boolean;
  public: boolean;
  decorators: ClassDecorator[];
  csrfSecret: string | undefined;
}

/** The token under which the settings are provided. */
export const DASHBOARD_SETTINGS = Symbol('nestjs-tasks:dashboard-settings');

/** Checks the options; a mistake fails the application's bootstrap with the fix in the message. */
export function resolveDashboardOptions(
  options: TasksDashboardOptions = {},
): DashboardSettings {
  const {
    path = '/tasks',
    guard,
    readOnly = true,
    decorators = [],
    csrfSecret,
  } = options;
  if (typeof path !== 'string' || !/^\/?[\w\-./]*$/.test(path))
    throw new TasksError(TaskMessages.dashboardBadPath(path));
  if (guard !== undefined && typeof guard !== 'function')
    throw new TasksError(TaskMessages.dashboardBadGuard(guard));
  if (!guard && options.public !== true)
    throw new TasksError(TaskMessages.dashboardWithoutGuard());
  if (
    !Array.isArray(decorators) ||
    decorators.some((decorator) => typeof decorator !== 'function')
  )
    throw new TasksError(TaskMessages.dashboardBadDecorators(decorators));
  if (
    csrfSecret !== undefined &&
    (typeof csrfSecret !== 'string' || csrfSecret.length < 32)
  )
    throw new TasksError(TaskMessages.dashboardBadCsrfSecret(csrfSecret));
  const trimmed = path.replace(/^\/*/, '/').replace(/\/+$/, '');
  return {
    path: trimmed,
    guard: guard ?? null,
    readOnly: readOnly !== false,
    public: options.public === true,
    decorators,
    csrfSecret,
  };
}
