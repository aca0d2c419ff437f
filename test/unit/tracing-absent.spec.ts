import { Injectable } from '@nestjs/common';
import { ImmediateBackend, Task, TaskResultStatus } from '../../lib/index.js';
import {
  activeTaskTracing,
  loadTaskTracing,
} from '../../lib/tracing/task-tracing.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import { installTestTracing, type TestTracing } from '../support/tracing.js';

@Injectable()
class PlainTasks {
  @Task()
  async greet(name: string): Promise<string> {
    return `hello ${name}`;
  }
}

/** An application without @opentelemetry/api installed: its import fails, tracing stays off. */
describe('OpenTelemetry tracing without @opentelemetry/api', () => {
  let app: BootedApp | undefined;
  let tracing: TestTracing;

  beforeAll(async () => {
    // The first look decides, as the module's start-up would have.
    await loadTaskTracing(() =>
      Promise.reject(
        Object.assign(new Error("Cannot find module '@opentelemetry/api'"), {
          code: 'MODULE_NOT_FOUND',
        }),
      ),
    );
  });

  beforeEach(() => {
    tracing = installTestTracing();
  });

  afterEach(async () => {
    await app?.close();
    await tracing.uninstall();
  });

  it('boots, enqueues and runs tasks, and records nothing', async () => {
    app = await bootApp({
      tasks: {
        backends: { default: { backend: ImmediateBackend, queues: [] } },
      },
      providers: [PlainTasks],
    });

    const result = await app.tasks.enqueue(PlainTasks, 'greet', 'ada');

    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue).toBe('hello ada');
    expect(result.metadata).toEqual({});
    expect(activeTaskTracing()).toBeNull();
    expect(tracing.spans()).toEqual([]);
  });
});
