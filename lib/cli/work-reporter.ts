import type { INestApplicationContext } from '@nestjs/common';
import { TaskEventBus } from '../events/task-event-bus.js';
import type { TaskResult } from '../task/task-result.js';
import { activityLine, WorkActivity } from './work-activity.js';
import {
  logLine,
  stoppedFields,
  taskFields,
  type WorkLogFormat,
} from './work-log.js';
import type { WatchOutput } from './watch.js';

/** How often the live line is redrawn. */
const LIVE_LINE_MS = 1000;

/** Erases the terminal's current line and returns to its start. */
const CLEAR_LINE = '\r\x1b[2K';

/**
 * What `tasks:work` tells about its tasks: on a terminal (and no
 * `--log-format` asked), one line redrawn every second with, per queue, the
 * results processed and failed, the attempts running and the rate; else a
 * log line per task started and finished, and one when the worker stops.
 * Returns a function that stops reporting.
 */
export function reportWork(
  app: INestApplicationContext,
  output: WatchOutput,
  format: WorkLogFormat | undefined,
): () => void {
  const activity = new WorkActivity();
  const live = output.isTTY === true && format === undefined;
  const on = (
    event: 'started' | 'finished',
    handle: (result: TaskResult<unknown>) => void,
  ) =>
    app.get(TaskEventBus, { strict: false }).subscribe(event, {
      site: 'tasks:work',
      handler: ({ result }) => handle(result),
    });
  on('started', (result) => {
    activity.started(result.task.queueName, result.id);
    if (!live)
      output.write(logLine(format ?? 'text', taskFields('started', result)));
  });
  on('finished', (result) => {
    activity.finished(result.task.queueName, result.id, result.status);
    if (!live)
      output.write(logLine(format ?? 'text', taskFields('finished', result)));
  });
  if (!live)
    return () =>
      output.write(
        logLine(format ?? 'text', stoppedFields(activity.snapshot())),
      );
  const draw = () =>
    output.write(`${CLEAR_LINE}${activityLine(activity.snapshot())}`);
  draw();
  const timer = setInterval(draw, LIVE_LINE_MS);
  return () => {
    clearInterval(timer);
    draw();
    output.write('\n');
  };
}
