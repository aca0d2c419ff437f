import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { DataSource } from 'typeorm';
import { TaskQueue, TaskResultStatus, TasksError } from '../../lib/index.js';
import { TasksDashboardModule } from '../../lib/dashboard/index.js';
import {
  CsrfTokens,
  CSRF_TOKEN_TTL_MS,
} from '../../lib/dashboard/csrf-tokens.js';
import { DashboardAccessGuard } from '../../lib/dashboard/dashboard-access.guard.js';
import { DashboardData } from '../../lib/dashboard/dashboard-data.service.js';
import { resolveDashboardOptions } from '../../lib/dashboard/dashboard-options.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
} from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import {
  ADMIN_COOKIE,
  AdminCookieGuard,
  AppUnauthorizedFilter,
  DashboardTasks,
  Roles,
  RolesGuard,
  SessionCookieGuard,
  UnauthorizedGuard,
  dashboardApp,
} from './dashboard.fixtures.js';

const sqlite = availableDatabases().find((db) => db.name === 'sqlite')!;
const ADMIN = `${ADMIN_COOKIE.name}=${ADMIN_COOKIE.value}`;
const SECRET = 'a-secret-shared-by-every-replica-0123456789';
const PLATFORMS = [
  { name: 'Express', adapter: () => new ExpressAdapter() },
  { name: 'Fastify', adapter: () => new FastifyAdapter() },
];

/** The CSRF cookie a page sets, as a Cookie header pair, and its forms' token. */
async function csrfOf(response: Response) {
  const cookie = response.headers
    .getSetCookie()
    .map((value) => /nestjs_tasks_csrf=[^;]+/.exec(value)?.[0])
    .find(Boolean);
  const token = /name="_csrf"\s+value="([^"]+)"/.exec(
    await response.text(),
  )?.[1];
  if (!cookie || !token) throw new Error('no CSRF cookie or field');
  return { cookie, token: encodeURIComponent(token) };
}

describe('dashboard options and parts', () => {
  it('refuses a short csrfSecret and decorators that are not functions', () => {
    expect(() =>
      TasksDashboardModule.forRoot({ public: true, csrfSecret: 'short' }),
    ).toThrow(/'csrfSecret' must be a string of at least 32 characters/);
    expect(() =>
      TasksDashboardModule.forRoot({
        public: true,
        decorators: ['admin' as unknown as ClassDecorator],
      }),
    ).toThrow(TasksError);
  });

  it('lets no one in when no guard was given and the dashboard is not public', async () => {
    const settings = {
      ...resolveDashboardOptions({ public: true }),
      public: false,
    };
    const guard = new DashboardAccessGuard(settings, null);
    const context = {
      switchToHttp: () => ({
        getRequest: () => ({ url: '/tasks', headers: {} }),
      }),
      getHandler: () => DashboardAccessGuard,
    };
    await expect(guard.canActivate(context as never)).rejects.toMatchObject({
      status: 403,
    });
    const open = new DashboardAccessGuard({ ...settings, public: true }, null);
    await expect(open.canActivate(context as never)).resolves.toBe(true);
  });

  it('accepts a token signed with the same secret, until it expires', () => {
    let now = 1_700_000_000_000;
    const clock = () => now;
    const one = new CsrfTokens(SECRET, clock);
    const other = new CsrfTokens(SECRET, clock);
    const stranger = new CsrfTokens(undefined, clock);
    const token = one.issue();
    expect(other.accepts(token, token)).toBe(true);
    expect(stranger.accepts(token, token)).toBe(false);
    expect(other.needsRenewal(token)).toBe(false);
    now += CSRF_TOKEN_TTL_MS / 2 + 1;
    expect(other.accepts(token, token)).toBe(true);
    expect(other.needsRenewal(token)).toBe(true);
    now += CSRF_TOKEN_TTL_MS;
    expect(other.accepts(token, token)).toBe(false);
  });
});

describe.each(PLATFORMS)('dashboard hardening on $name', ({ adapter }) => {
  const table = uniqueTableName('t_dash_hard');
  let ds: DataSource;
  const apps: INestApplication[] = [];

  /** Starts an app with the dashboard, returns the dashboard's URL. */
  const start = async (
    options: Parameters<typeof TasksDashboardModule.forRoot>[0],
    setUp: (app: INestApplication) => void = () => undefined,
    mount = '/tasks',
  ) => {
    const app = await NestFactory.create(
      dashboardApp(ds, table, options ?? {}, apps.length === 0),
      adapter(),
      { logger: false },
    );
    apps.push(app);
    setUp(app);
    await app.listen(0, '127.0.0.1');
    return (await app.getUrl()).replace('[::1]', '127.0.0.1') + mount;
  };

  let url: string;
  let failedId: string;

  beforeAll(async () => {
    ds = await openTestDataSource(sqlite, table);
    url = await start({
      guard: AdminCookieGuard,
      readOnly: false,
      csrfSecret: SECRET,
    });
    const failed = await apps[0]
      .get(TaskQueue)
      .enqueue(DashboardTasks, 'flaky', 'hardening');
    await waitFor('the flaky task to fail', async () => {
      await failed.refresh();
      return failed.isFinished;
    });
    failedId = failed.id;
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await closeTestDataSource(sqlite, ds, table);
  });

  const get = (path: string, at = url) =>
    fetch(`${at}${path}`, { headers: { cookie: ADMIN } });

  it('answers 400, not 500, to a filter, id or cursor no row can match', async () => {
    for (const path of [
      '/results?after=9999999999999999999',
      '/results?after=99999999999999999',
      '/results?after=nonsense',
      // A cursor of the whole list given to a list by finish time.
      '/results?status=FAILED&after=5',
      '/results?task=a%00b',
      '/results?queue=a%00b',
      '/results?id=a%00b',
      `/results?queue=${'q'.repeat(101)}`,
      '/results/a%00b',
      '/results?status=FAILED&status=READY',
      '/results?task=a&task=b',
    ]) {
      const response = await get(path);
      expect([path, response.status]).toEqual([path, 400]);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    }
    expect(
      await (await get('/results?status=FAILED&status=READY')).text(),
    ).toContain('The field &#39;status&#39; must be given once, as text');
  });

  it('refuses a bulk action whose filter fields are not text, changing nothing', async () => {
    const page = await get('/results?queue=default');
    const { cookie, token } = await csrfOf(page);
    for (const filter of [
      { status: { x: 1 } },
      { task: ['a', 'b'] },
      { queue: 'a\u0000b' },
    ]) {
      const response = await fetch(`${url}/bulk/retry`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: `${ADMIN}; ${cookie}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ _csrf: decodeURIComponent(token), ...filter }),
      });
      expect([filter, response.status]).toEqual([filter, 400]);
    }
    const result = await apps[0].get(TaskQueue).getResult(failedId);
    expect(result.status).toBe(TaskResultStatus.FAILED);
  });

  it('refuses a POST another site sends, by Origin or Sec-Fetch-Site', async () => {
    const { cookie, token } = await csrfOf(await get('/results?queue=default'));
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/bulk/cancel`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: `${ADMIN}; ${cookie}`,
          'content-type': 'application/x-www-form-urlencoded',
          ...headers,
        },
        body: `_csrf=${token}&queue=nowhere`,
      });
    const crossSite: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: new URL(url).origin },
    ];
    for (const headers of crossSite) {
      const response = await post(headers);
      expect([headers, response.status]).toEqual([headers, 403]);
      expect(await response.text()).toContain('comes from another site');
    }
    const same = await post({
      origin: new URL(url).origin,
      'sec-fetch-site': 'same-origin',
    });
    expect(same.status).toBe(303);
  });

  it('accepts a form served by another replica sharing csrfSecret', async () => {
    const replica = await start({
      guard: AdminCookieGuard,
      readOnly: false,
      csrfSecret: SECRET,
    });
    const { cookie, token } = await csrfOf(await get('/results?queue=default'));
    const response = await fetch(`${replica}/bulk/cancel`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: `${ADMIN}; ${cookie}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `_csrf=${token}&queue=nowhere`,
    });
    expect(response.status).toBe(303);
  });

  it('gives a roles guard the metadata of `decorators`', async () => {
    const open = await start({ guard: RolesGuard });
    // Without metadata, the usual roles guard lets everyone in: what the docs warn of.
    expect((await fetch(open)).status).toBe(200);
    const closed = await start(
      {
        guard: RolesGuard,
        decorators: [Roles('admin')],
        path: '/roles',
      },
      undefined,
      '/roles',
    );
    expect((await fetch(closed)).status).toBe(403);
    expect(
      (await fetch(closed, { headers: { 'x-role': 'admin' } })).status,
    ).toBe(200);
  });

  it('keeps the Set-Cookie headers the guard set beside its CSRF cookie', async () => {
    const at = await start(
      { guard: SessionCookieGuard, path: '/cookies' },
      undefined,
      '/cookies',
    );
    const cookies = (await fetch(at)).headers.getSetCookie();
    expect(cookies).toEqual(
      expect.arrayContaining([
        'session=abc',
        expect.stringMatching(/^nestjs_tasks_csrf=/),
      ]),
    );
  });

  it("leaves the guard's own exceptions to the application's filters", async () => {
    const at = await start(
      { guard: UnauthorizedGuard, path: '/unauthorized' },
      (app) =>
        app.useGlobalFilters(new AppUnauthorizedFilter(app.getHttpAdapter())),
      '/unauthorized',
    );
    const response = await fetch(at);
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('answered by the application');
  });

  it('links below a global prefix that repeats the mount path', async () => {
    const at = await start(
      { guard: AdminCookieGuard, path: '/tasks' },
      (app) => app.setGlobalPrefix('tasks'),
      '/tasks/tasks',
    );
    const response = await get(`/results/${failedId}`, at);
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain('href="/tasks/tasks/results');
    expect(page).toContain('src="/tasks/tasks/assets/htmx.min.js"');
    expect(response.headers.getSetCookie().join()).toContain(
      'Path=/tasks/tasks;',
    );
  });

  it('binds a bulk action to its page: a second submission retries nothing again', async () => {
    const queue = apps[0].get(TaskQueue);
    const hostile = await queue.enqueue(DashboardTasks, 'hostile');
    await waitFor('the hostile task to fail', async () => {
      await hostile.refresh();
      return hostile.isFinished;
    });
    const unfiltered = await (await get('/results')).text();
    expect(unfiltered).not.toContain('/bulk/retry');
    const page = await get(
      '/results?status=FAILED&task=DashboardTasks.hostile',
    );
    const { cookie, token } = await csrfOf(page.clone());
    const html = await page.text();
    expect(html).toContain('hx-disabled-elt="find button"');
    const asOf = /name="asOf"\s+value="(\d+)"/.exec(html)?.[1];
    expect(asOf).toBeDefined();
    const submit = (fields: string) =>
      fetch(`${url}/bulk/retry`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: `${ADMIN}; ${cookie}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `_csrf=${token}&backend=default&${fields}`,
      });
    const form = `status=FAILED&task=DashboardTasks.hostile&asOf=${asOf}`;
    const first = await submit(form);
    expect(first.headers.get('location')).toContain('count=1');
    await waitFor('the hostile task to fail again', async () => {
      await hostile.refresh();
      return hostile.attempts === 2 && hostile.isFinished;
    });
    const again = await submit(form);
    expect(again.headers.get('location')).toContain('count=0');
    expect(hostile.attempts).toBe(2);
    expect((await submit('asOf=1')).status).toBe(400);
    expect((await submit('queue=default&asOf=soon')).status).toBe(400);
  });

  it('reads the overview once for every request within its cache time', async () => {
    const data = apps[0].get(DashboardData);
    const first = data.overview();
    expect(data.overview()).toBe(first);
    await first;
    expect(data.overview()).toBe(first);
  });
});
