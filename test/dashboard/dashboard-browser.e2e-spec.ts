import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Page } from 'playwright-core';
import type { DataSource } from 'typeorm';
import {
  TaskQueue,
  TaskResultStatus,
  type TaskResult,
} from '../../lib/index.js';
import {
  chromiumAvailable,
  launchBrowser,
  type TestBrowser,
} from '../support/browser.js';
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
  DashboardTasks,
  XSS_PROBES,
  dashboardApp,
} from './dashboard.fixtures.js';

const ARTIFACTS = join(process.cwd(), 'test', 'artifacts');
const postgres = availableDatabases().find((db) => db.name === 'postgres');
const PLATFORMS = [
  { name: 'Express', adapter: () => new ExpressAdapter() },
  { name: 'Fastify', adapter: () => new FastifyAdapter() },
];

const hasChromium = chromiumAvailable();
if (!hasChromium && process.env.CI === 'true') {
  it('needs Chromium under CI', () => {
    throw new Error(
      'CI=true and /usr/bin/chromium is missing: install it (apt-get install -y chromium), as .ci/run does.',
    );
  });
}

async function finished(result: TaskResult): Promise<void> {
  await waitFor(`${result.task.name} ${result.id} to finish`, async () => {
    await result.refresh();
    return result.isFinished;
  });
}

/**
 * The dashboard in a real headless Chromium, on Express and on Fastify,
 * against PostgreSQL with a worker running in the application.
 */
// Skipped without Chromium (said above) or PostgreSQL (said by the global setup).
(hasChromium && postgres
  ? describe.each(PLATFORMS)
  : describe.skip.each(PLATFORMS))(
  'dashboard in a browser on $name',
  ({ name, adapter }) => {
    const table = uniqueTableName('t_dashboard');
    let ds: DataSource;
    let app: INestApplication;
    let url: string;
    let browser: TestBrowser;
    let tasks: TaskQueue;
    let fixtures: DashboardTasks;
    const seeded: Record<string, TaskResult> = {};

    beforeAll(async () => {
      ds = await openTestDataSource(postgres!, table);
      app = await NestFactory.create(
        dashboardApp(ds, table, { guard: AdminCookieGuard, readOnly: false }),
        adapter(),
        { logger: false },
      );
      await app.listen(0, '127.0.0.1');
      url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      tasks = app.get(TaskQueue);
      fixtures = app.get(DashboardTasks);
      seeded.added = await tasks.enqueue(DashboardTasks, 'add', 1, 2);
      await tasks.enqueue(DashboardTasks, 'add', 3, 4);
      seeded.flaky = await tasks.enqueue(DashboardTasks, 'flaky', name);
      seeded.hostile = await tasks
        .task(DashboardTasks, 'hostile')
        .using({ metadata: { note: XSS_PROBES.join(' ') } })
        .enqueue(...XSS_PROBES);
      for (const result of Object.values(seeded)) await finished(result);
      browser = await launchBrowser();
      await browser.context.addCookies([{ ...ADMIN_COOKIE, url }]);
      mkdirSync(ARTIFACTS, { recursive: true });
    });

    afterAll(async () => {
      fixtures.finishCrawl = true;
      await browser?.close();
      await app?.close();
      await closeTestDataSource(postgres!, ds, table);
    });

    let page: Page;
    /** The dialogs the test's page opened, accepted when `acceptDialogs`, else dismissed. */
    const dialogs: string[] = [];
    let acceptDialogs = false;
    beforeEach(async () => {
      dialogs.length = 0;
      acceptDialogs = false;
      page = await browser.context.newPage();
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void (acceptDialogs ? dialog.accept() : dialog.dismiss());
      });
    });
    afterEach(async () => {
      await page.close();
    });

    it('shows the counts per queue and status on the overview', async () => {
      await page.goto(`${url}/tasks/results`);
      await Promise.all([
        page.waitForURL(/\/tasks$/),
        page.click('header nav a:text("Overview")'),
      ]);
      const row = page.locator(
        'section[data-backend="default"] tr[data-queue="default"]',
      );
      const count = async (status: string) =>
        (
          await row.locator(`td[data-status="${status}"]`).textContent()
        )?.trim();
      await expect(count('SUCCESSFUL')).resolves.toBe('2');
      await expect(count('FAILED')).resolves.toBe('2');
      await expect(count('READY')).resolves.toBe('0');
      await expect(page.locator('svg.chart').count()).resolves.toBe(1);
      // The application's own worker, with its concurrency.
      await expect(
        page
          .locator('table.workers tbody tr td.num')
          .nth(1)
          .textContent()
          .then((text) => text?.trim()),
      ).resolves.toBe('4');
      await page.screenshot({
        path: join(ARTIFACTS, `dashboard-overview-${name.toLowerCase()}.png`),
        fullPage: true,
      });
    });

    it('filters to FAILED, opens a failed result, shows its traceback, and retries it to success', async () => {
      await page.goto(`${url}/tasks/results`);
      await page.selectOption('select[name="status"]', 'FAILED');
      await Promise.all([
        page.waitForURL(/status=FAILED/),
        page.click('form.filters button[type="submit"]'),
      ]);
      const statuses = await page
        .locator('table.results tr.result td.status')
        .allTextContents();
      expect(statuses).toEqual(['FAILED', 'FAILED']);
      await page.click(`tr.result[data-id="${seeded.flaky.id}"] a`);
      await expect(
        page.locator('.error-message').first().textContent(),
      ).resolves.toBe(`flaky failure for ${name}`);
      await expect(
        page.locator('pre.traceback').first().textContent(),
      ).resolves.toMatch(/Error: flaky failure[\s\S]*\n\s+at /);
      await page.click('button:has-text("Retry as a new attempt")');
      await page.waitForSelector('#result-status:text("SUCCESSFUL")');
      await expect(page.locator('#result-return').textContent()).resolves.toBe(
        JSON.stringify(`recovered ${name}`),
      );
      await seeded.flaky.refresh();
      expect(seeded.flaky.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(seeded.flaky.attempts).toBe(2);
      expect(seeded.flaky.errors).toHaveLength(1);
    });

    it("moves a RUNNING task's progress bar without reloading, and cancels it", async () => {
      const crawl = await tasks.enqueue(DashboardTasks, 'crawl', 40);
      await waitFor('the crawl to report progress', async () => {
        await crawl.refresh();
        return (crawl.progress ?? 0) > 0;
      });
      await page.goto(`${url}/tasks/results/${crawl.id}`);
      // Gone if the page were loaded again.
      await page.evaluate('window.loadedOnce = true');
      const progress = () =>
        page.locator('#result-progress').getAttribute('value').then(Number);
      const first = await progress();
      await waitFor(
        'the progress bar to move',
        async () => (await progress()) > first,
      );
      expect(await progress()).toBeGreaterThan(first);
      await expect(page.evaluate('window.loadedOnce')).resolves.toBe(true);
      await page.screenshot({
        path: join(ARTIFACTS, `dashboard-result-${name.toLowerCase()}.png`),
        fullPage: true,
      });
      await page.click('button:has-text("Cancel")');
      await page.waitForSelector('#result-status:text("CANCELLED")');
      await finished(crawl);
      expect(crawl.status).toBe(TaskResultStatus.CANCELLED);
    });

    it('retries every result a filter selects, once confirmed', async () => {
      await page.goto(
        `${url}/tasks/results?status=FAILED&task=DashboardTasks.hostile`,
      );
      const retry = page.locator(
        'button:has-text("Retry the FAILED and CANCELLED ones")',
      );
      await retry.click();
      expect(dialogs).toEqual([expect.stringMatching(/^Retry every FAILED/)]);
      acceptDialogs = true;
      await retry.click();
      await page.waitForSelector('.notice:text("1 result(s) retried")');
      await waitFor('the hostile task to fail again', async () => {
        await seeded.hostile.refresh();
        return seeded.hostile.attempts === 2 && seeded.hostile.isFinished;
      });
      expect(seeded.hostile.errors).toHaveLength(2);
    });

    it('shows XSS probes in args, metadata and an error message as text, and never runs them', async () => {
      await page.goto(`${url}/tasks/results/${seeded.hostile.id}`);
      const args = await page.locator('#result-args').textContent();
      const metadata = await page.locator('#result-metadata').textContent();
      const message = await page
        .locator('.error-message')
        .first()
        .textContent();
      for (const probe of XSS_PROBES) {
        expect(args).toContain(JSON.stringify(probe).slice(1, -1));
        expect(message).toContain(probe);
      }
      expect(metadata).toContain(
        JSON.stringify(XSS_PROBES.join(' ')).slice(1, -1),
      );
      await expect(page.locator('main img').count()).resolves.toBe(0);
      await expect(page.locator('main script').count()).resolves.toBe(0);
      await expect(page.evaluate('window.__xss')).resolves.toBeUndefined();
      expect(dialogs).toEqual([]);
    });
  },
);
