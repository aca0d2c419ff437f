import {
  Controller,
  ForbiddenException,
  NotFoundException,
  Get,
  Inject,
  Param,
  Post,
  Req,
  Res,
  UseFilters,
  UseGuards,
  type Type,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ResultFilter } from '../backends/results-admin.js';
import { TaskResultDoesNotExistError } from '../errors/task-result-does-not-exist.error.js';
import { TasksError } from '../errors/tasks.error.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { DEFAULT_BACKEND_ALIAS } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { CSRF_COOKIE, CSRF_FIELD, CsrfTokens } from './csrf-tokens.js';
import { DashboardAccessGuard } from './dashboard-access.guard.js';
import { DASHBOARD_CSS, htmxScript } from './dashboard-assets.js';
import { DashboardData } from './dashboard-data.service.js';
import { DashboardErrorFilter } from './dashboard-error.filter.js';
import {
  DASHBOARD_SETTINGS,
  type DashboardSettings,
} from './dashboard-options.js';
import {
  csrfCookie,
  dashboardBase,
  formField,
  type DashboardRequest,
} from './dashboard-request.js';
import { sendPage, sendText } from './dashboard-response.js';
import type { Html } from './html.js';
import { query, type PageContext } from './pages/layout.js';
import { overviewFragment, overviewPage } from './pages/overview.page.js';
import { resultFragment, resultPage } from './pages/result.page.js';
import { filterParams, resultsPage } from './pages/results.page.js';

/** Results per page of the list. */
const PAGE_SIZE = 50;

const STATUSES = new Set<string>(Object.values(TaskResultStatus));

/** A request's query or form fields, as the platform parsed them. */
type Fields = Record<string, unknown>;

/** A text field, trimmed; absent when empty or not text. */
function text(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The backend alias a request names, the default one unless given. */
function backendOf(fields: Fields): string {
  return text(fields, 'backend') ?? DEFAULT_BACKEND_ALIAS;
}

/** The results filter a request names. */
function readFilter(fields: Fields): ResultFilter {
  const status = text(fields, 'status');
  if (status !== undefined && !STATUSES.has(status))
    throw new TasksError(TaskMessages.dashboardBadFilter('status', status));
  return {
    taskName: text(fields, 'task'),
    status: status as TaskResultStatus | undefined,
    queue: text(fields, 'queue'),
    id: text(fields, 'id'),
  };
}

/** The words for what an action did, from the fixed set a redirect names (never text from the URL). */
function notice(fields: Fields): string | undefined {
  const count = Number(text(fields, 'count') ?? 0);
  const some = Number.isSafeInteger(count) && count >= 0 ? count : 0;
  switch (text(fields, 'done')) {
    case 'retried':
      return 'Retried: it runs again as a new attempt of the same result.';
    case 'cancelled':
      return 'Cancelled (a running attempt stops at its worker’s next heartbeat).';
    case 'bulk-retried':
      return `${some} result(s) retried, each as a new attempt of the same result.`;
    case 'bulk-cancelled':
      return `${some} result(s) cancelled.`;
    default:
      return undefined;
  }
}

/**
 * The dashboard's routes, below the path it is mounted at (see
 * `dashboardControllerAt`). Every route passes the access guard; actions
 * are POSTs that carry a CSRF token and are refused when read-only.
 */
@UseGuards(DashboardAccessGuard)
@UseFilters(DashboardErrorFilter)
export class DashboardController {
  constructor(
    private readonly data: DashboardData,
    private readonly csrf: CsrfTokens,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(DASHBOARD_SETTINGS) private readonly settings: DashboardSettings,
  ) {}

  @Get()
  async overview(
    @Req() request: DashboardRequest,
    @Res() response: unknown,
  ): Promise<void> {
    const ctx = this.page(request, response);
    this.send(response, overviewPage(ctx, await this.data.overview()));
  }

  @Get('overview/live')
  async overviewLive(
    @Req() request: DashboardRequest,
    @Res() response: unknown,
  ): Promise<void> {
    const ctx = this.page(request, response);
    this.send(response, overviewFragment(ctx, await this.data.overview()));
  }

  @Get('results')
  async results(
    @Req() request: DashboardRequest & { query: Fields },
    @Res() response: unknown,
  ): Promise<void> {
    const ctx = this.page(request, response);
    const fields = request.query ?? {};
    const backend = backendOf(fields);
    const filter = readFilter(fields);
    const after = text(fields, 'after');
    const page = await this.data
      .results(backend)
      .list({ ...filter, limit: PAGE_SIZE, after });
    this.send(
      response,
      resultsPage(ctx, {
        backend,
        backends: this.data.aliases(),
        taskNames: this.data.taskNames(),
        filter,
        page,
        deep: after !== undefined,
        notice: notice(fields),
      }),
    );
  }

  @Get('results/:id')
  async result(
    @Req() request: DashboardRequest & { query: Fields },
    @Res() response: unknown,
    @Param('id') id: string,
  ): Promise<void> {
    const ctx = this.page(request, response);
    const backend = backendOf(request.query ?? {});
    const result = await this.find(backend, id);
    this.send(
      response,
      resultPage(ctx, backend, result, notice(request.query ?? {})),
    );
  }

  @Get('results/:id/live')
  async resultLive(
    @Req() request: DashboardRequest & { query: Fields },
    @Res() response: unknown,
    @Param('id') id: string,
  ): Promise<void> {
    const ctx = this.page(request, response);
    const backend = backendOf(request.query ?? {});
    this.send(
      response,
      resultFragment(ctx, backend, await this.find(backend, id)),
    );
  }

  @Post('results/:id/:action')
  async act(
    @Req() request: DashboardRequest & { query: Fields },
    @Res() response: unknown,
    @Param('id') id: string,
    @Param('action') action: string,
  ): Promise<void> {
    this.authorizeAction(request);
    const backend = backendOf(request.query ?? {});
    if (action === 'retry') await this.data.results(backend).retry(id);
    else if (action === 'cancel') await this.data.backend(backend).cancel(id);
    else throw new NotFoundException();
    const done = action === 'retry' ? 'retried' : 'cancelled';
    const base = dashboardBase(request, this.settings.path);
    this.adapter.redirect(
      response,
      303,
      `${base}/results/${encodeURIComponent(id)}${query({ backend, done })}`,
    );
  }

  /** Retries or cancels every result matching the posted filter. */
  @Post('bulk/:action')
  async bulk(
    @Req() request: DashboardRequest,
    @Res() response: unknown,
    @Param('action') action: string,
  ): Promise<void> {
    this.authorizeAction(request);
    const fields = (request.body ?? {}) as Fields;
    const backend = backendOf(fields);
    const filter = readFilter(fields);
    const results = this.data.results(backend);
    let count: number;
    if (action === 'retry') count = await results.retryMatching(filter);
    else if (action === 'cancel') count = await results.cancelMatching(filter);
    else throw new NotFoundException();
    const done = action === 'retry' ? 'bulk-retried' : 'bulk-cancelled';
    const base = dashboardBase(request, this.settings.path);
    this.adapter.redirect(
      response,
      303,
      `${base}/results${query({ ...filterParams(backend, filter), done, count: String(count) })}`,
    );
  }

  @Get('assets/htmx.min.js')
  async htmx(@Res() response: unknown): Promise<void> {
    sendText(
      this.adapter,
      response,
      await htmxScript(),
      'text/javascript; charset=utf-8',
      200,
      { 'Cache-Control': 'private, max-age=3600' },
    );
  }

  @Get('assets/dashboard.css')
  css(@Res() response: unknown): void {
    sendText(
      this.adapter,
      response,
      DASHBOARD_CSS,
      'text/css; charset=utf-8',
      200,
      {
        'Cache-Control': 'private, max-age=3600',
      },
    );
  }

  private get adapter() {
    return this.adapterHost.httpAdapter;
  }

  /**
   * What a page needs to know of its request; gives the browser a CSRF
   * cookie when it has no genuine one.
   */
  private page(request: DashboardRequest, response: unknown): PageContext {
    const base = dashboardBase(request, this.settings.path);
    let token = csrfCookie(request);
    if (!this.csrf.isGenuine(token)) {
      token = this.csrf.issue();
      const secure = request.protocol === 'https' ? '; Secure' : '';
      this.adapter.setHeader(
        response,
        'Set-Cookie',
        // The path as the request spelled it, reduced to characters a cookie attribute may hold.
        `${CSRF_COOKIE}=${token}; Path=${base.replace(/[^\w\-./%]/g, '') || '/'}; HttpOnly; SameSite=Strict${secure}`,
      );
    }
    return { base, readOnly: this.settings.readOnly, csrf: token };
  }

  private send(response: unknown, page: Html): void {
    sendPage(this.adapter, response, page.text);
  }

  /** Refuses an action when the dashboard is read-only or the form's CSRF token does not match the cookie's. */
  private authorizeAction(request: DashboardRequest): void {
    if (this.settings.readOnly)
      throw new ForbiddenException(TaskMessages.dashboardReadOnly());
    if (!this.csrf.accepts(csrfCookie(request), formField(request, CSRF_FIELD)))
      throw new ForbiddenException(TaskMessages.dashboardCsrf());
  }

  private async find(backend: string, id: string) {
    const result = await this.data.results(backend).find(id);
    if (!result)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, backend),
      );
    return result;
  }
}

/** The dashboard's controller, served at `path`. */
export function dashboardControllerAt(path: string): Type<DashboardController> {
  @Controller(path)
  class TasksDashboardController extends DashboardController {}
  return TasksDashboardController;
}
