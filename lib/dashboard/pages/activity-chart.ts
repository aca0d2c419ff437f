import type { ActivityBucket } from '../../backends/results-admin.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { html, type Html } from '../html.js';

const WIDTH = 360;
const HEIGHT = 60;

/** Finished and failed results of a span of time. */
export interface Throughput {
  finished: number;
  failed: number;
}

/** Totals of `buckets`, of one queue or all. */
export function throughput(
  buckets: readonly ActivityBucket[],
  queue?: string,
): Throughput {
  let finished = 0;
  let failed = 0;
  for (const bucket of buckets) {
    if (queue !== undefined && bucket.queue !== queue) continue;
    finished += bucket.count;
    if (bucket.status === TaskResultStatus.FAILED) failed += bucket.count;
  }
  return { finished, failed };
}

/** A failure rate as a percentage, or a dash when nothing finished. */
export function failureRate({ finished, failed }: Throughput): string {
  return finished === 0 ? '—' : `${((100 * failed) / finished).toFixed(1)} %`;
}

/**
 * Results finished per bucket over the window ending at `now`, as an inline
 * SVG bar chart: failed on top of the others, one bar per bucket.
 */
export function activityChart(
  buckets: readonly ActivityBucket[],
  now: Date,
  windowMs: number,
  bucketMs: number,
): Html {
  const count = Math.round(windowMs / bucketMs);
  const first = Math.floor((now.getTime() - windowMs) / bucketMs) + 1;
  const ok = new Array<number>(count).fill(0);
  const bad = new Array<number>(count).fill(0);
  for (const bucket of buckets) {
    const slot = Math.floor(bucket.start.getTime() / bucketMs) - first;
    if (slot < 0 || slot >= count) continue;
    if (bucket.status === TaskResultStatus.FAILED) bad[slot] += bucket.count;
    else ok[slot] += bucket.count;
  }
  const peak = Math.max(1, ...ok.map((value, i) => value + bad[i]));
  const barWidth = WIDTH / count;
  const bars = ok.map((done, i) => {
    const x = (i * barWidth).toFixed(1);
    const okHeight = (done / peak) * (HEIGHT - 1);
    const badHeight = (bad[i] / peak) * (HEIGHT - 1);
    const start = new Date((first + i) * bucketMs);
    return html`<g
      ><title>
        ${start.toISOString().slice(11, 16)} UTC: ${done} done, ${bad[i]} failed</title
      ><rect
        class="ok"
        x="${x}"
        y="${(HEIGHT - okHeight).toFixed(1)}"
        width="${(barWidth - 1).toFixed(1)}"
        height="${okHeight.toFixed(1)}"
      ></rect
      ><rect
        class="bad"
        x="${x}"
        y="${(HEIGHT - okHeight - badHeight).toFixed(1)}"
        width="${(barWidth - 1).toFixed(1)}"
        height="${badHeight.toFixed(1)}"
      ></rect
    ></g>`;
  });
  return html`<svg
    class="chart"
    role="img"
    aria-label="Results finished per minute over the last hour"
    width="${WIDTH}"
    height="${HEIGHT + 1}"
    viewBox="0 0 ${WIDTH} ${HEIGHT + 1}"
  >
    <line
      class="axis"
      x1="0"
      y1="${HEIGHT + 0.5}"
      x2="${WIDTH}"
      y2="${HEIGHT + 0.5}"
    ></line>
    ${bars}
  </svg>`;
}
