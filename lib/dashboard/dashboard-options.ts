import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import { TasksError } from '../errors/tasks.error.js';
import { TaskMessages } from '../tasks.messages.js';

/** `TasksDashboardModule.forRoot()` options. */
export interface TasksDashboardOptions {
  /** Where the dashboard is served (below the application's global prefix, if any). Default `'/tasks'`. */
  path?: string;
  /** Decides who may see every page and use every action: a Nest `CanActivate` class. Required unless `public: true`. */
  guard?: Type<CanActivate>;
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
}

/** The token under which the settings are provided. */
export const DASHBOARD_SETTINGS = Symbol('nestjs-tasks:dashboard-settings');

/** Checks the options; a mistake fails the application's bootstrap with the fix in the message. */
export function resolveDashboardOptions(
  options: TasksDashboardOptions = {},
): DashboardSettings {
  const { path = '/tasks', guard, readOnly = true } = options;
  if (typeof path !== 'string' || !/^\/?[\w\-./]*$/.test(path))
    throw new TasksError(TaskMessages.dashboardBadPath(path));
  if (guard !== undefined && typeof guard !== 'function')
    throw new TasksError(TaskMessages.dashboardBadGuard(guard));
  if (!guard && options.public !== true)
    throw new TasksError(TaskMessages.dashboardWithoutGuard());
  const trimmed = path.replace(/^\/*/, '/').replace(/\/+$/, '');
  return { path: trimmed, guard: guard ?? null, readOnly: readOnly !== false };
}
