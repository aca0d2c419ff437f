import {
  Inject,
  Injectable,
  Optional,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { isObservable, lastValueFrom } from 'rxjs';
import { TaskMessages } from '../tasks.messages.js';
import {
  DASHBOARD_SETTINGS,
  type DashboardSettings,
} from './dashboard-options.js';
import { DashboardRefusal } from './dashboard-refusal.js';
import { rememberBase, type DashboardRequest } from './dashboard-request.js';

/** The token of the application's guard instance, when it gave one. */
export const DASHBOARD_USER_GUARD = Symbol('nestjs-tasks:dashboard-guard');

/**
 * Every dashboard route passes here: it asks the application's guard (given
 * to `TasksDashboardModule.forRoot({ guard })`, built by Nest with its
 * dependencies), or lets everyone in when the dashboard was mounted
 * `public: true`; without either it lets no one in. A refusal answers 403;
 * an exception the application's guard throws reaches the application's
 * exception filters.
 */
@Injectable()
export class DashboardAccessGuard implements CanActivate {
  constructor(
    @Inject(DASHBOARD_SETTINGS) private readonly settings: DashboardSettings,
    @Optional()
    @Inject(DASHBOARD_USER_GUARD)
    private readonly guard: CanActivate | null,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    rememberBase(
      context.switchToHttp().getRequest<DashboardRequest>(),
      context.getHandler(),
    );
    if (await this.allows(context)) return true;
    throw new DashboardRefusal(403, TaskMessages.dashboardForbidden());
  }

  private async allows(context: ExecutionContext): Promise<boolean> {
    if (!this.guard) return this.settings.public;
    const verdict = this.guard.canActivate(context);
    return isObservable(verdict) ? lastValueFrom(verdict) : verdict;
  }
}
