import type { ResultFilter, ResultPage } from '../../backends/results-admin.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { html, type Html } from '../html.js';
import {
  layout,
  postForm,
  query,
  tableBody,
  when,
  type PageContext,
} from './layout.js';

/** The results list as the request asks for it. */
export interface ResultsView {
  backend: string;
  backends: string[];
  taskNames: string[];
  filter: ResultFilter;
  page: ResultPage;
  /** Whether this is a page after the first. */
  deep: boolean;
  /** What the last bulk action did, if the page follows one. */
  notice?: string;
  /** When the page was read (ms): its bulk actions cover no result finished or enqueued later. */
  asOf: number;
}

/** The filter as URL parameters. */
export function filterParams(
  backend: string,
  filter: ResultFilter,
): Record<string, string | undefined> {
  return {
    backend,
    task: filter.taskName,
    status: filter.status,
    queue: filter.queue,
    id: filter.id,
  };
}

function filterForm(ctx: PageContext, view: ResultsView): Html {
  const { filter } = view;
  const option = (value: string, selected: boolean) =>
    html`<option value="${value}" ${selected ? html` selected` : null}>
      ${value || 'any'}
    </option>`;
  return html`<form class="filters" method="get" action="${ctx.base}/results">
    ${
      view.backends.length > 1
        ? html`<label
            >Backend<select name="backend">
              ${view.backends.map((alias) => option(alias, alias === view.backend))}
            </select></label
          >`
        : html`<input type="hidden" name="backend" value="${view.backend}" />`
    }
    <label
      >Task<input
        name="task"
        list="task-names"
        value="${filter.taskName ?? ''}"
    /></label>
    <datalist id="task-names">
      ${view.taskNames.map((name) => html`<option value="${name}"></option>`)}
    </datalist>
    <label
      >Status<select name="status">
        ${['', ...Object.values(TaskResultStatus)].map((name) => option(name, name === (filter.status ?? '')))}
      </select></label
    >
    <label>Queue<input name="queue" value="${filter.queue ?? ''}" /></label>
    <label>Id<input name="id" value="${filter.id ?? ''}" size="38" /></label>
    <button type="submit">Filter</button>
    <a href="${ctx.base}/results${query({ backend: view.backend })}">Clear</a>
  </form>`;
}

function bulkActions(ctx: PageContext, view: ResultsView): Html {
  if (ctx.readOnly) return html``;
  const { backend, ...filter } = filterParams(view.backend, view.filter);
  if (Object.values(filter).every((value) => value === undefined))
    return html`<p class="muted">
      Filter the results to retry or cancel all that match.
    </p>`;
  const fields = { backend, ...filter, asOf: String(view.asOf) };
  return html`<div class="actions">
    <span class="muted"
      >Every result matching this filter, as of this page:</span
    >
    ${postForm(ctx, `${ctx.base}/bulk/retry`, 'Retry the FAILED and CANCELLED ones', fields, 'Retry every FAILED and CANCELLED result matching this filter, each as a new attempt of the same result?')}
    ${postForm(ctx, `${ctx.base}/bulk/cancel`, 'Cancel the READY and RUNNING ones', fields, 'Cancel every READY and RUNNING result matching this filter?')}
  </div>`;
}

export function resultsPage(ctx: PageContext, view: ResultsView): Html {
  const params = filterParams(view.backend, view.filter);
  const order =
    view.page.order ??
    (view.filter.status === undefined ||
    view.filter.status === TaskResultStatus.READY ||
    view.filter.status === TaskResultStatus.RUNNING
      ? 'newest enqueued first'
      : 'most recently finished first');
  const rows = view.page.results.map(
    (result) =>
      html`<tr class="result" data-id="${result.id}">
        <td>
          <a
            href="${ctx.base}/results/${encodeURIComponent(result.id)}${query({ backend: view.backend })}"
            ><code>${result.id}</code></a
          >
        </td>
        <td>${result.taskName}</td>
        <td>${result.queueName}</td>
        <td class="status status-${result.status}">${result.status}</td>
        <td class="num">${result.attempts}/${result.maxAttempts}</td>
        <td>${when(result.enqueuedAt)}</td>
        <td>${when(result.finishedAt)}</td>
      </tr>`,
  );
  return layout(
    ctx,
    'Results',
    html`<h2>Results <span class="muted">${view.backend} · ${order}</span></h2>
      ${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : null}
      ${filterForm(ctx, view)} ${bulkActions(ctx, view)}
      <table class="results">
        <thead>
          <tr>
            <th>Id</th>
            <th>Task</th>
            <th>Queue</th>
            <th>Status</th>
            <th class="num">Attempts</th>
            <th>Enqueued</th>
            <th>Finished</th>
          </tr>
        </thead>
        ${tableBody(rows, 7, 'No result matches.')}
      </table>
      ${
        view.page.stoppedAfter
          ? html`<p class="muted search-stopped">
              This page searched the next
              ${view.page.stoppedAfter.toLocaleString('en-US')} results for
              matches; older ones may match too.
            </p>`
          : null
      }
      <p class="actions">
        ${view.deep ? html`<a href="${ctx.base}/results${query(params)}">First page</a>` : null}
        ${view.page.next ? html`<a rel="next" href="${ctx.base}/results${query({ ...params, after: view.page.next })}">${view.page.stoppedAfter ? 'Search older results' : 'Next page'}</a>` : null}
      </p>`,
  );
}
