import { readFile } from 'node:fs/promises';
import { packageFilePath } from './package-file.cjs';

/** The htmx build the pages load, from the installed `htmx.org` package. */
const HTMX_FILE = 'htmx.org/dist/htmx.min.js';

/** The dashboard's stylesheet: no inline styles, so the pages' CSP can forbid them. */
export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --ok: #2e7d32; --bad: #c62828; --muted: #777; --line: #8884; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; }
header { display: flex; gap: 1.5rem; align-items: baseline; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0; }
header nav a { margin-right: 1rem; }
main { padding: 1rem 1.5rem 3rem; max-width: 80rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .4rem; }
table { border-collapse: collapse; margin: .25rem 0 1rem; }
th, td { text-align: left; padding: .25rem .75rem .25rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; word-break: break-word; padding: .5rem .75rem; border: 1px solid var(--line); border-radius: 4px; margin: .25rem 0 .75rem; max-height: 30rem; overflow: auto; }
.muted { color: var(--muted); }
.notice { padding: .5rem .75rem; border: 1px solid var(--line); border-radius: 4px; margin: .5rem 0 1rem; }
.status { font-weight: 600; }
.status-SUCCESSFUL { color: var(--ok); }
.status-FAILED { color: var(--bad); }
.status-CANCELLED { color: var(--muted); }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: .5rem 0 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; }
form.inline { display: inline; }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0 1rem; align-items: center; }
button { font: inherit; padding: .2rem .7rem; cursor: pointer; }
progress { width: 20rem; height: 1rem; }
svg.chart { display: block; margin: .25rem 0; }
svg.chart .ok { fill: var(--ok); }
svg.chart .bad { fill: var(--bad); }
svg.chart .axis { stroke: var(--line); }
`;

let htmx: Promise<string> | undefined;

/** The text of htmx's minified build, read once. */
export function htmxScript(): Promise<string> {
  htmx ??= readFile(packageFilePath(HTMX_FILE), 'utf8').catch((error) => {
    htmx = undefined;
    throw error;
  });
  return htmx;
}
