import 'reflect-metadata';
import {
  Catch,
  Injectable,
  Module,
  SetMetadata,
  UnauthorizedException,
  type ArgumentsHost,
  type CanActivate,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  type HttpServer,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
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

/** Roles metadata, as an application's `@Roles()` decorator sets it. */
export const ROLES_KEY = 'roles';
export const Roles = (...roles: string[]) => SetMetadata(ROLES_KEY, roles);

/**
 * The common roles guard: lets a route through when it finds no roles
 * metadata, else when the x-role header is one of them.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.getAllAndOverride<string[] | undefined>(
      ROLES_KEY,
      [context.getHandler(), context.getClass()],
    );
    if (!roles) return true;
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined> }>();
    return roles.includes(request.headers['x-role'] ?? '');
  }
}

/** Lets everyone in, and sets a session cookie of its own as it does (Express or Fastify). */
@Injectable()
export class SessionCookieGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const response = context.switchToHttp().getResponse<{
      setHeader?: (name: string, value: string) => void;
      header?: (name: string, value: string) => void;
    }>();
    if (response.setHeader) response.setHeader('Set-Cookie', 'session=abc');
    else response.header!('set-cookie', 'session=abc');
    return true;
  }
}

/** Refuses with an UnauthorizedException of its own, for the application's filters to answer. */
@Injectable()
export class UnauthorizedGuard implements CanActivate {
  canActivate(): boolean {
    throw new UnauthorizedException('log in first');
  }
}

/** The application's own filter of UnauthorizedException: a 401 with a body of its own. */
@Catch(UnauthorizedException)
export class AppUnauthorizedFilter implements ExceptionFilter {
  constructor(private readonly adapter: HttpServer) {}

  catch(_error: UnauthorizedException, host: ArgumentsHost): void {
    this.adapter.reply(
      host.switchToHttp().getResponse(),
      'answered by the application',
      401,
    );
  }
}
