/**
 * What `tasks:work` and `tasks:status --watch` write: where standard output
 * is not a terminal (a pipe, a log collector), plain log lines, JSON or
 * text, and status snapshots one after another; on a terminal, a live line
 * per queue and a redrawn screen.
 */
import {
  Injectable,
  Module,
  type INestApplicationContext,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Task, TaskQueue, TasksModule } from '../../lib/index.js';
import { TaskEventBus } from '../../lib/events/task-event-bus.js';
import { watch } from '../../lib/cli/watch.js';
import { reportWork } from '../../lib/cli/work-reporter.js';
import {
  dropMemoryStore,
  MemoryQueueBackend,
} from '../fixtures/memory-queue.backend.js';
import { runCommand } from '../support/run-command.js';

const STORE = 'cli-output';

@Injectable()
class OutputTasks {
  @Task()
  async double(value: number): Promise<number> {
    return value * 2;
  }

  @Task({ queueName: 'mail' })
  async send(to: string): Promise<void> {
    throw new Error(`cannot reach "${to}"`);
  }
}

@Module({
  imports: [
    TasksModule.forRoot({
      backends: {
        default: {
          backend: MemoryQueueBackend,
          queues: ['default', 'mail'],
          options: { name: STORE },
        },
      },
    }),
  ],
  providers: [OutputTasks],
})
class OutputApp {}

/** The JSON lines of `output` that are objects with an `event`. */
function events(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => 'event' in line);
}

describe('tasks:work and tasks:status output', () => {
  let app: INestApplicationContext;
  let tasks: TaskQueue;

  beforeAll(async () => {
    app = await NestFactory.createApplicationContext(OutputApp, {
      logger: false,
    });
    tasks = app.get(TaskQueue);
  });

  afterAll(async () => {
    await app?.close();
    dropMemoryStore(STORE);
  });

  it('tasks:work --log-format json writes a JSON line per task started and finished, and one when it stops', async () => {
    const doubled = await tasks.enqueue(OutputTasks, 'double', 21);
    const sent = await tasks.enqueue(OutputTasks, 'send', 'a b');
    const { output, exitCode } = await runCommand(OutputApp, [
      'tasks:work',
      '--batch',
      '--interval',
      '20',
      '--log-format',
      'json',
    ]);
    expect(exitCode).toBe(0);
    const lines = events(output);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: 'started',
          task: 'OutputTasks.double',
          id: doubled.id,
          queue: 'default',
          attempt: 1,
        }),
        expect.objectContaining({
          event: 'finished',
          task: 'OutputTasks.double',
          id: doubled.id,
          status: 'SUCCESSFUL',
          durationMs: expect.any(Number),
        }),
        expect.objectContaining({
          event: 'finished',
          id: sent.id,
          queue: 'mail',
          status: 'FAILED',
          error: 'cannot reach "a b"',
        }),
      ]),
    );
    expect(lines.at(-1)).toMatchObject({
      event: 'stopped',
      'default.processed': 1,
      'default.failed': 0,
      'mail.processed': 1,
      'mail.failed': 1,
    });
    for (const line of lines)
      expect(new Date(String(line.time)).toISOString()).toBe(line.time);
    // Nest's own lines are JSON too (Node's warnings, printed once per process, are not the app's).
    expect(
      output
        .split('\n')
        .filter(
          (line) => line.trim() !== '' && !/^\((node:\d+|Use `node)/.test(line),
        )
        .every((line) => line.startsWith('{')),
    ).toBe(true);
  });

  it('tasks:work writes text lines by default where standard output is no terminal', async () => {
    const sent = await tasks.enqueue(OutputTasks, 'send', 'x=y');
    const { output, exitCode } = await runCommand(OutputApp, [
      'tasks:work',
      '--batch',
      '--interval',
      '20',
    ]);
    expect(exitCode).toBe(0);
    expect(output).toMatch(
      new RegExp(
        `^time=\\S+ event=finished task=OutputTasks.send id=${sent.id} queue=mail status=FAILED attempt=1 durationMs=\\d+ error="cannot reach \\\\"x=y\\\\""$`,
        'm',
      ),
    );
    expect(output).toMatch(
      /^time=\S+ event=stopped mail.processed=1 mail.failed=1$/m,
    );
    expect(output).not.toContain('\x1b[');
  });

  it('on a terminal, draws one line per queue in place', async () => {
    const bus = new TaskEventBus();
    const written: string[] = [];
    const stop = reportWork(
      { get: () => bus } as unknown as INestApplicationContext,
      { write: (text: string) => written.push(text), isTTY: true },
      undefined,
    );
    const result = await tasks.enqueue(OutputTasks, 'double', 1);
    await bus.emit('started', result);
    stop();
    expect(written.at(0)).toBe('\r\x1b[2Kwaiting for tasks…');
    expect(written.at(-2)).toBe(
      '\r\x1b[2Kdefault: 0 processed, 0 failed, 1 running, 0.0/s',
    );
    expect(written.at(-1)).toBe('\n');
  });

  it('tasks:work --batch on a terminal keeps one line per queue, ending with what each processed and failed', async () => {
    await tasks.enqueue(OutputTasks, 'double', 2);
    await tasks.enqueue(OutputTasks, 'send', 'z');
    const { stdout, exitCode } = await runCommand(
      OutputApp,
      ['tasks:work', '--batch', '--interval', '20'],
      { tty: true },
    );
    expect(exitCode).toBe(0);
    const drawn = stdout.split('\r\x1b[2K');
    expect(drawn.at(-1)).toMatch(
      /^default: [1-9]\d* processed, 0 failed, 0 running, \d+\.\d\/s · mail: 1 processed, 1 failed, 0 running, \d+\.\d\/s\n/,
    );
    // No log line per task on a terminal.
    expect(stdout).not.toContain('event=');
  });

  it('tasks:work --log-format text writes text lines even on a terminal', async () => {
    const doubled = await tasks.enqueue(OutputTasks, 'double', 3);
    const { stdout, exitCode } = await runCommand(
      OutputApp,
      ['tasks:work', '--batch', '--interval', '20', '--log-format', 'text'],
      { tty: true },
    );
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(
      new RegExp(
        `^time=\\S+ event=finished task=OutputTasks.double id=${doubled.id} queue=default status=SUCCESSFUL attempt=1 durationMs=\\d+$`,
        'm',
      ),
    );
    expect(stdout).not.toContain('\x1b[');
  });

  it('tasks:status --watch writes a snapshot per interval until SIGTERM', async () => {
    await tasks.enqueue(OutputTasks, 'double', 4);
    const before = process.listeners('SIGTERM');
    const running = runCommand(OutputApp, [
      'tasks:status',
      '--watch',
      '--interval',
      '100',
    ]);
    // Its SIGTERM listener, called as the signal would call it (a real signal would reach jest too).
    let stop: (() => void) | undefined;
    for (let i = 0; i < 200 && !stop; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      stop = process
        .listeners('SIGTERM')
        .find(
          (listener) => !before.includes(listener) && listener.name === 'stop',
        ) as (() => void) | undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 350));
    stop!();
    const { stdout, exitCode } = await running;
    expect(exitCode).toBe(0);
    const snapshots = stdout.match(/^--- \S+Z ---$/gm) ?? [];
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(stdout.split(/^--- \S+Z ---$/m)[1]).toContain('default');
    expect(process.listeners('SIGTERM')).toEqual(before);
  });

  it('tasks:status --watch appends a snapshot per interval, each under its time, until stopped', async () => {
    const written: string[] = [];
    const controller = new AbortController();
    let renders = 0;
    await watch(
      async () => {
        renders += 1;
        if (renders === 3) controller.abort();
        return `snapshot ${renders}\n`;
      },
      { write: (text: string) => written.push(text), isTTY: false },
      10,
      controller.signal,
    );
    expect(written).toEqual([
      expect.stringMatching(/^--- \S+Z ---\nsnapshot 1\n$/),
      expect.stringMatching(/^--- \S+Z ---\nsnapshot 2\n$/),
    ]);
  });

  it('tasks:status --watch redraws the screen on a terminal', async () => {
    const written: string[] = [];
    const controller = new AbortController();
    await watch(
      async () => {
        if (written.length === 1) controller.abort();
        return 'table\n';
      },
      { write: (text: string) => written.push(text), isTTY: true },
      10,
      controller.signal,
    );
    expect(written).toEqual(['\x1b[H\x1b[2Jtable\n']);
  });
});
