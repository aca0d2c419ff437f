import {
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnModuleInit,
} from '@nestjs/common';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { CsrfTokens } from './csrf-tokens.js';
import {
  DASHBOARD_USER_GUARD,
  DashboardAccessGuard,
} from './dashboard-access.guard.js';
import { DashboardData } from './dashboard-data.service.js';
import { dashboardControllerAt } from './dashboard.controller.js';
import {
  DASHBOARD_SETTINGS,
  resolveDashboardOptions,
  type DashboardSettings,
  type TasksDashboardOptions,
} from './dashboard-options.js';

/**
 * An operator's web dashboard, served by the application itself (Express or
 * Fastify): counts, throughput, workers and periodic tasks; results to
 * filter and open; retry and cancel unless read-only. Import it beside
 * `TasksModule`.
 */
@Module({})
export class TasksDashboardModule implements OnModuleInit {
  constructor(
    @Inject(DASHBOARD_SETTINGS) private readonly settings: DashboardSettings,
  ) {}

  static forRoot(options: TasksDashboardOptions = {}): DynamicModule {
    const settings = resolveDashboardOptions(options);
    return {
      module: TasksDashboardModule,
      imports: options.imports ?? [],
      controllers: [dashboardControllerAt(settings.path)],
      providers: [
        { provide: DASHBOARD_SETTINGS, useValue: settings },
        ...(settings.guard
          ? [{ provide: DASHBOARD_USER_GUARD, useClass: settings.guard }]
          : []),
        DashboardAccessGuard,
        DashboardData,
        { provide: CsrfTokens, useValue: new CsrfTokens() },
      ],
    };
  }

  /** Says so when the dashboard is open to anyone who reaches it. */
  onModuleInit(): void {
    if (!this.settings.guard)
      new Logger(LOGGER_CONTEXT).warn(
        TaskMessages.dashboardPublic(this.settings.path || '/'),
      );
  }
}
