import { html, type Html } from '../html.js';
import { CSRF_FIELD } from '../csrf-tokens.js';

/** What every page knows about the request it answers. */
export interface PageContext {
  /** The dashboard's URL path, e.g. `/tasks` (with the application's global prefix). */
  base: string;
  readOnly: boolean;
  /** The CSRF token this browser's forms send back. */
  csrf: string;
}

/**
 * htmx settings: no inline styles or scripts (the pages' CSP forbids them),
 * no `eval`, and no history snapshots of live fragments.
 */
const HTMX_CONFIG =
  '{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyEnabled":false}';

/** A whole page around `body`. */
export function layout(ctx: PageContext, title: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content="${HTMX_CONFIG}" />
        <title>${title} · Tasks</title>
        <link rel="stylesheet" href="${ctx.base}/assets/dashboard.css" />
        <script src="${ctx.base}/assets/htmx.min.js" defer></script>
      </head>
      <body>
        <header>
          <h1>Tasks</h1>
          <nav>
            <a href="${ctx.base || '/'}">Overview</a
            ><a href="${ctx.base}/results">Results</a>
          </nav>
          ${ctx.readOnly ? html`<span class="muted">read-only</span>` : null}
        </header>
        <main>${body}</main>
      </body>
    </html> `;
}

/** A form posting to `action` with this browser's CSRF token, a button and hidden `fields`. */
export function postForm(
  ctx: PageContext,
  action: string,
  label: string,
  fields: Record<string, string | undefined> = {},
  confirm?: string,
): Html {
  const hidden = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(
      ([name, value]) =>
        html`<input type="hidden" name="${name}" value="${value}" />`,
    );
  return html`<form
    class="inline"
    method="post"
    action="${action}"
    ${confirm ? html` hx-boost="true" hx-confirm="${confirm}"` : null}
  >
    <input
      type="hidden"
      name="${CSRF_FIELD}"
      value="${ctx.csrf}"
    />${hidden}<button type="submit">${label}</button>
  </form>`;
}

/** A date as ISO text, or a dash. */
export function when(date: Date | null | undefined): string {
  return date ? date.toISOString() : '—';
}

/** How long ago `date` was, from `now`, in words. */
export function ago(date: Date, now: Date): string {
  const seconds = Math.max(
    0,
    Math.round((now.getTime() - date.getTime()) / 1000),
  );
  if (seconds < 120) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min ago`;
  return `${Math.round(minutes / 60)} h ago`;
}

/** A query string of the given parameters, the empty ones left out. */
export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A table body of `rows`, or one row saying `empty` across `columns`. */
export function tableBody(
  rows: readonly Html[],
  columns: number,
  empty: string,
): Html {
  return html`<tbody>
    ${
      rows.length
        ? rows
        : html`<tr>
            <td colspan="${columns}" class="muted">${empty}</td>
          </tr>`
    }
  </tbody>`;
}
