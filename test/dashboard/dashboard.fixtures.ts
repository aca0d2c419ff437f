import 'reflect-metadata';
import {
  Injectable,
  Module,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  DatabaseBackend,
  ImmediateBackend,
  Task,
  TaskContext,
  TasksModule,
} from '../../lib/index.js';
import {
  TasksDashboardModule,
  type TasksDashboardOptions,
} from '../../lib/dashboard/index.js';

/** Text that would run if the dashboard wrote task data into its pages as markup. */
export const XSS_PROBES = [
  '<script>window.__xss = "script"</script>',
  '"><img src=x onerror="window.__xss = \'img\'">',
];

/** The cookie the test guard lets in. */
export const ADMIN_COOKIE = { name: 'dashboard_admin', value: 'yes' };

/** Lets in requests that carry the admin cookie, and no other. */
@Injectable()
export class AdminCookieGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined> }>();
    return (request.headers.cookie ?? '')
      .split(';')
      .some(
        (part) => part.trim() === `${ADMIN_COOKIE.name}=${ADMIN_COOKIE.value}`,
      );
  }
}

/** A provider of a module that is not global: what `imports` makes reachable to a guard. */
@Injectable()
export class AdminTokens {
  readonly valid = 'let-me-in';
}

@Module({ providers: [AdminTokens], exports: [AdminTokens] })
export class AdminTokensModule {}

/** Lets in requests whose x-admin-token header `AdminTokens` accepts. */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(private readonly tokens: AdminTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined> }>();
    return request.headers['x-admin-token'] === this.tokens.valid;
  }
}

/** Tasks the dashboard shows. */
@Injectable()
export class DashboardTasks {
  /** Keys whose first run has failed. */
  private readonly failedOnce = new Set<string>();
  /** Set to let `crawl` finish. */
  finishCrawl = false;

  @Task()
  add(a: number, b: number): number {
    return a + b;
  }

  /** Fails its first run per key, succeeds after. */
  @Task()
  flaky(key: string): string {
    if (!this.failedOnce.has(key)) {
      this.failedOnce.add(key);
      throw new Error(`flaky failure for ${key}`);
    }
    return `recovered ${key}`;
  }

  /** Fails with a message made of XSS probes. */
  @Task()
  hostile(..._probes: string[]): never {
    throw new Error(`hostile: ${XSS_PROBES.join(' ')}`);
  }

  /** Reports progress in small steps until cancelled or told to finish. */
  @Task({ takesContext: true })
  async crawl(ctx: TaskContext, pages: number): Promise<number> {
    for (let page = 1; page <= pages; page++) {
      if (ctx.signal.aborted || this.finishCrawl) break;
      await ctx.setProgress(page / pages, { page });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return pages;
  }
}

/** The application under test: a DatabaseBackend with (unless `withWorker` is false) a worker in the process, and the dashboard. */
export function dashboardApp(
  dataSource: DataSource,
  tableName: string,
  dashboard: TasksDashboardOptions,
  withWorker = true,
): DynamicModule {
  @Module({})
  class DashboardTestApp {}
  return {
    module: DashboardTestApp,
    imports: [
      TasksModule.forRoot({
        backends: {
          default: {
            backend: DatabaseBackend,
            queues: [],
            options: { dataSource, tableName },
          },
          // Keeps no results: the dashboard says so.
          inline: { backend: ImmediateBackend },
        },
        ...(withWorker ? { worker: { concurrency: 4 } } : {}),
      }),
      TasksDashboardModule.forRoot(dashboard),
    ],
    providers: [DashboardTasks],
  };
}
