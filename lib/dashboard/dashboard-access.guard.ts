import {
  Inject,
  Injectable,
  Optional,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { isObservable, lastValueFrom } from 'rxjs';

/** The token of the application's guard instance, when it gave one. */
export const DASHBOARD_USER_GUARD = Symbol('nestjs-tasks:dashboard-guard');

/**
 * Every dashboard route passes here: it asks the application's guard (given
 * to `TasksDashboardModule.forRoot({ guard })`, built by Nest with its
 * dependencies), or lets everyone in when the dashboard was mounted
 * `public: true`. A refusal answers 403.
 */
@Injectable()
export class DashboardAccessGuard implements CanActivate {
  constructor(
    @Optional()
    @Inject(DASHBOARD_USER_GUARD)
    private readonly guard: CanActivate | null,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.guard) return true;
    const verdict = this.guard.canActivate(context);
    return isObservable(verdict) ? lastValueFrom(verdict) : verdict;
  }
}
