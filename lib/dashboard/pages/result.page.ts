import {
  isFinishedStatus,
  TaskResultStatus,
} from '../../task/task-result-status.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { html, type Html } from '../html.js';
import { layout, postForm, query, when, type PageContext } from './layout.js';

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/** How often a result that has not finished refreshes itself. */
const REFRESH = 'every 1s';

/** A stored JSON value, indented. */
function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

function actions(
  ctx: PageContext,
  backend: string,
  result: TaskResultData,
): Html {
  if (ctx.readOnly) return html``;
  const at = `${ctx.base}/results/${encodeURIComponent(result.id)}`;
  const params = query({ backend });
  if (result.status === READY || result.status === RUNNING)
    return html`<div class="actions">
      ${postForm(ctx, `${at}/cancel${params}`, 'Cancel')}<span class="muted"
        >${
          result.status === READY
            ? 'It will never run.'
            : 'Its running attempt is told to stop (its signal aborts); it ends CANCELLED and is not retried.'
        }</span
      >
    </div>`;
  if (result.status === FAILED || result.status === CANCELLED)
    return html`<div class="actions">
      ${postForm(ctx, `${at}/retry${params}`, 'Retry as a new attempt')}<span
        class="muted"
        >Runs this same result again (same id) as attempt
        ${result.attempts + 1}; the errors of earlier attempts are kept. It is
        not a new task.</span
      >
    </div>`;
  return html``;
}

function errors(result: TaskResultData): Html {
  if (result.errors.length === 0) return html``;
  return html`<h3>Errors</h3>
    ${result.errors.map(
      (error, i) =>
        html`<div class="error">
          <p>
            <strong>Attempt ${i + 1}</strong>: <code>${error.errorClass}</code>:
            <span class="error-message">${error.message}</span>
          </p>
          <pre class="traceback">${error.traceback}</pre>
        </div>`,
    )}`;
}

/** Everything about a result that may change while it runs; polls itself until it has finished. */
export function resultFragment(
  ctx: PageContext,
  backend: string,
  result: TaskResultData,
): Html {
  const finished = isFinishedStatus(result.status);
  const live = finished
    ? null
    : html` hx-get="${ctx.base}/results/${encodeURIComponent(result.id)}/live${query({ backend })}"
      hx-trigger="${REFRESH}" hx-swap="outerHTML"`;
  return html`<section id="result-live" data-status="${result.status}" ${live}>
    <p>
      Status:
      <span class="status status-${result.status}" id="result-status"
        >${result.status}</span
      >
    </p>
    ${actions(ctx, backend, result)}
    <h3>Progress</h3>
    ${
      result.progress === null
        ? html`<p class="muted">No progress reported.</p>`
        : html`<p>
            <progress id="result-progress" max="1" value="${result.progress}">
              ${Math.round(result.progress * 100)} %
            </progress>
            <span id="result-progress-text"
              >${(result.progress * 100).toFixed(0)} %</span
            >
          </p>`
    }
    <h3>Metadata</h3>
    <pre id="result-metadata">${json(result.metadata)}</pre>
    <table class="details">
      <tr>
        <th>Attempts</th>
        <td>${result.attempts} of ${result.maxAttempts} allowed</td>
      </tr>
      <tr>
        <th>Enqueued</th>
        <td>${when(result.enqueuedAt)}</td>
      </tr>
      <tr>
        <th>Run after</th>
        <td>${when(result.runAfter)}</td>
      </tr>
      <tr>
        <th>Started</th>
        <td>${when(result.startedAt)}</td>
      </tr>
      <tr>
        <th>Last attempted</th>
        <td>${when(result.lastAttemptedAt)}</td>
      </tr>
      <tr>
        <th>Finished</th>
        <td>${when(result.finishedAt)}</td>
      </tr>
      <tr>
        <th>Workers</th>
        <td>
          ${result.workerIds.length ? result.workerIds.map((id) => html`<code>${id}</code> `) : '—'}
        </td>
      </tr>
    </table>
    ${
      result.status === SUCCESSFUL
        ? html`<h3>Return value</h3>
            <pre id="result-return">${json(result.returnValue)}</pre>`
        : null
    }
    ${errors(result)}
  </section>`;
}

export function resultPage(
  ctx: PageContext,
  backend: string,
  result: TaskResultData,
  notice?: string,
): Html {
  return layout(
    ctx,
    result.taskName,
    html`<h2>
        ${result.taskName} <span class="muted"><code>${result.id}</code></span>
      </h2>
      ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
      <table class="details">
        <tr>
          <th>Backend</th>
          <td>${backend}</td>
        </tr>
        <tr>
          <th>Queue</th>
          <td>
            <a
              href="${ctx.base}/results${query({ backend, queue: result.queueName })}"
              >${result.queueName}</a
            >
          </td>
        </tr>
        <tr>
          <th>Priority</th>
          <td>${result.priority}</td>
        </tr>
        <tr>
          <th>Unique key</th>
          <td>${result.uniqueKey ?? '—'}</td>
        </tr>
      </table>
      <h3>Arguments</h3>
      <pre id="result-args">${json(result.args)}</pre>
      ${resultFragment(ctx, backend, result)}`,
  );
}
