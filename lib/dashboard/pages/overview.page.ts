import { ALL_QUEUES, type StatusCount } from '../../backends/backend-admin.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import {
  ACTIVITY_BUCKET_MS,
  ACTIVITY_WINDOW_MS,
  type BackendOverview,
  type Overview,
} from '../dashboard-data.service.js';
import { html, type Html } from '../html.js';
import { activityChart, failureRate, throughput } from './activity-chart.js';
import {
  ago,
  layout,
  query,
  tableBody,
  when,
  type PageContext,
} from './layout.js';

const STATUSES = Object.values(TaskResultStatus);

/** Why a backend's row shows no last-hour figures. */
const NO_ACTIVITY = 'This backend offers no result browsing or activity.';

/** How often the overview refreshes itself. */
const REFRESH = 'every 10s';

/** A count as the overview shows it: estimates and lower bounds say so. */
function figure(count: StatusCount | undefined): Html {
  if (!count) return html`0`;
  const text = TaskMessages.countFigure(count.count, count.precision);
  return (count.precision ?? 'exact') === 'exact'
    ? html`${text}`
    : html`<span class="${count.precision}">${text}</span>`;
}

/** The last hour's figures of a row, or a dash where the backend reports no activity. */
function finishedCells(
  browsable: boolean,
  done: ReturnType<typeof throughput>,
): Html {
  if (!browsable)
    return html`<td class="num muted" title="${NO_ACTIVITY}">—</td>
      <td class="num muted" title="${NO_ACTIVITY}">—</td>`;
  return html`<td class="num">${done.finished}</td>
    <td class="num">${failureRate(done)}</td>`;
}

function countsTable(
  ctx: PageContext,
  backend: BackendOverview,
  now: Date,
): Html {
  const status = backend.status;
  if (!status) return html``;
  const queues = [
    ...new Set(
      status.counts.map((c) => c.queue).filter((queue) => queue !== ALL_QUEUES),
    ),
  ].sort();
  const find = (queue: string, name: string) =>
    status.counts.find((c) => c.queue === queue && c.status === name);
  // Statuses with too many results to count queue by queue: counted over every queue.
  const whole = new Set(
    status.counts.filter((c) => c.queue === ALL_QUEUES).map((c) => c.status),
  );
  // A backend without results browsing (no activity either) has no results pages to link to.
  const browsable = backend.activity !== null;
  const link = (queue: string | undefined, name: string, content: Html) =>
    !browsable
      ? content
      : html`<a
          href="${ctx.base}/results${query({
            backend: backend.alias,
            queue,
            status: name,
          })}"
          >${content}</a
        >`;
  const activity = backend.activity ?? [];
  const rows = queues.map((queue) => {
    const done = throughput(activity, queue);
    return html`<tr data-queue="${queue}">
      <td>${queue}</td>
      ${STATUSES.map(
        (name) =>
          html`<td class="num" data-status="${name}">
            ${link(
              queue,
              name,
              whole.has(name)
                ? html`<span title="counted over every queue only">…</span>`
                : figure(find(queue, name)),
            )}
          </td>`,
      )}
      ${finishedCells(browsable, done)}
    </tr>`;
  });
  const all = throughput(activity);
  if (whole.size > 0)
    rows.push(
      html`<tr data-queue="${ALL_QUEUES}">
        <td>All queues</td>
        ${STATUSES.map((name) => {
          const perQueue = status.counts.filter((c) => c.status === name);
          const count: StatusCount = find(ALL_QUEUES, name) ?? {
            queue: ALL_QUEUES,
            status: name,
            count: perQueue.reduce((sum, c) => sum + c.count, 0),
          };
          return html`<td class="num" data-status="${name}">
            ${link(undefined, name, figure(count))}
          </td>`;
        })}
        ${finishedCells(browsable, all)}
      </tr>`,
    );
  const uncertain = status.counts.some(
    (c) => c.queue === ALL_QUEUES || (c.precision ?? 'exact') !== 'exact',
  );
  return html`<table class="counts">
      <thead>
        <tr>
          <th>Queue</th>
          ${STATUSES.map((name) => html`<th class="num">${name}</th>`)}
          <th class="num">Finished, last hour</th>
          <th class="num">Failure rate</th>
        </tr>
      </thead>
      ${tableBody(rows, STATUSES.length + 3, 'No tasks stored yet.')}
    </table>
    ${
      uncertain
        ? html`<p class="muted">${TaskMessages.countsLegend(ALL_QUEUES)}</p>`
        : null
    }
    ${
      backend.activity
        ? html`<p>
              Last hour: ${all.finished} finished, ${all.failed} failed
              (${failureRate(all)}).
            </p>
            ${activityChart(activity, now, ACTIVITY_WINDOW_MS, ACTIVITY_BUCKET_MS)}`
        : null
    }`;
}

function workersTable(backend: BackendOverview, now: Date): Html {
  const workers = backend.status?.workers ?? [];
  if (!backend.status) return html``;
  return html`<h3>Workers alive</h3>
    <table class="workers">
      <thead>
        <tr>
          <th>Worker</th>
          <th>Host</th>
          <th class="num">PID</th>
          <th>Queues</th>
          <th class="num">Concurrency</th>
          <th>Last heartbeat</th>
        </tr>
      </thead>
      ${tableBody(
        workers.map(
          (w) =>
            html`<tr>
              <td><code>${w.id}</code></td>
              <td>${w.hostname}</td>
              <td class="num">${w.pid}</td>
              <td>${w.queues.length ? w.queues.join(', ') : '*'}</td>
              <td class="num">${w.concurrency}</td>
              <td title="${when(w.heartbeatAt)}">${ago(w.heartbeatAt, now)}</td>
            </tr>`,
        ),
        6,
        'No worker is heartbeating.',
      )}
    </table>`;
}

function backendSection(
  ctx: PageContext,
  backend: BackendOverview,
  now: Date,
): Html {
  return html`<section class="backend" data-backend="${backend.alias}">
    <h2>${backend.alias} <span class="muted">${backend.backendClass}</span></h2>
    ${
      backend.status
        ? html`${countsTable(ctx, backend, now)}${workersTable(backend, now)}`
        : html`<p class="muted">
            This backend keeps no results: tasks run in the enqueuing process or
            are only recorded.
          </p>`
    }
  </section>`;
}

function periodicSection(overview: Overview): Html {
  if (overview.periodic.length === 0) return html``;
  return html`<section>
    <h2>Periodic tasks</h2>
    <table class="periodic">
      <thead>
        <tr>
          <th>Task</th>
          <th>Backend</th>
          <th>Queue</th>
          <th>Cron</th>
          <th>Time zone</th>
          <th>Next run</th>
          <th>Last tick enqueued</th>
        </tr>
      </thead>
      <tbody>
        ${overview.periodic.map(
          (task) =>
            html`<tr>
              <td>${task.name}</td>
              <td>${task.backend}</td>
              <td>${task.queue}</td>
              <td><code>${task.cron}</code></td>
              <td>${task.timeZone}</td>
              <td>${when(task.nextRun)}</td>
              <td>${when(task.lastTick)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/** The overview's content, which refreshes itself through htmx. */
export function overviewFragment(ctx: PageContext, overview: Overview): Html {
  return html`<div
    id="overview"
    hx-get="${ctx.base}/overview/live"
    hx-trigger="${REFRESH}"
    hx-swap="outerHTML"
  >
    ${overview.backends.map((backend) => backendSection(ctx, backend, overview.at))}
    ${periodicSection(overview)}
    <p class="muted">Updated ${when(overview.at)}</p>
  </div>`;
}

export function overviewPage(ctx: PageContext, overview: Overview): Html {
  return layout(ctx, 'Overview', overviewFragment(ctx, overview));
}
