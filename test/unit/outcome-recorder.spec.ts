import { Logger } from '@nestjs/common';
import { TaskResultStatus, type TaskResultData } from '../../lib/index.js';
import { OutageLog } from '../../lib/worker/outage-log.js';
import { OutcomeRecorder } from '../../lib/worker/outcome-recorder.js';
import type { AttemptRecord, WorkerQueue } from '../../lib/index.js';

class Refused extends Error {}

/** A worker source whose writes fail as scripted: 'lost' (connection), 'refused' (data), or succeed. */
function scriptedSource(script: ('lost' | 'refused' | 'ok')[]) {
  const written: AttemptRecord[][] = [];
  const source = {
    complete: async (records: readonly AttemptRecord[]) => {
      const step = script.shift() ?? 'ok';
      if (step === 'lost')
        throw new Error('Connection terminated unexpectedly');
      if (step === 'refused')
        throw new Refused('Data too long for column errors');
      written.push([...records]);
      return records.map((record) => record.data.id);
    },
    isRefusal: (error: unknown) => error instanceof Refused,
  } as unknown as WorkerQueue;
  return { source, written };
}

function record(errors: number): AttemptRecord {
  const data = {
    id: 'a1',
    taskName: 'Reports.build',
    status: TaskResultStatus.SUCCESSFUL,
    returnValue: { big: 'x'.repeat(10) },
    finishedAt: new Date(),
    errors: Array.from({ length: errors }, (_, i) => ({
      errorClass: 'Error',
      message: `failure ${i}`,
      traceback: 'y'.repeat(5000),
    })),
  } as unknown as TaskResultData;
  return { data, workerId: 'w1', attempt: errors + 1, retryAt: null };
}

describe('OutcomeRecorder', () => {
  const logger = new Logger('test');
  const recorder = (queue: WorkerQueue, giveUp = () => false) =>
    new OutcomeRecorder(
      queue,
      logger,
      new OutageLog(logger, 'default'),
      giveUp,
    );
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() =>
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']),
  );

  it('retries the real outcome while the connection is lost, never replacing it', async () => {
    const { source, written } = scriptedSource(['lost', 'lost', 'ok']);
    const original = record(0);
    const { stored, written: took } = await recorder(source).record(original);
    expect(stored).toBe(original);
    expect(took).toBe(true);
    expect(written).toEqual([[original]]);
  });

  it('stores a FAILED stand-in, with the last errors clipped, when the data is refused', async () => {
    const { source, written } = scriptedSource(['refused', 'ok']);
    const { stored } = await recorder(source).record(record(5));
    expect(stored.data.status).toBe(TaskResultStatus.FAILED);
    expect(stored.data.returnValue).toBeNull();
    expect(
      stored.data.errors.map((error) => error.message.slice(0, 9)),
    ).toEqual(['failure 2', 'failure 3', 'failure 4', 'The outco']);
    expect(stored.data.errors[0].traceback.length).toBeLessThan(2100);
    expect(written).toEqual([[stored]]);
  });

  it('falls back to the refusal alone when the stand-in is refused too, and gives up after that', async () => {
    const { source } = scriptedSource(['refused', 'refused', 'ok']);
    const { stored } = await recorder(source).record(record(5));
    expect(stored.data.errors).toHaveLength(1);
    const { source: hopeless } = scriptedSource([
      'refused',
      'refused',
      'refused',
    ]);
    await expect(recorder(hopeless).record(record(1))).rejects.toThrow(
      /refused every form/,
    );
  });

  it('stops retrying a lost connection once told to give up (the shutdown deadline passed)', async () => {
    const { source } = scriptedSource(['lost', 'lost', 'lost', 'lost']);
    let calls = 0;
    await expect(
      recorder(source, () => ++calls > 2).record(record(0)),
    ).rejects.toThrow(/Connection terminated/);
  });

  it('reports an outcome the store did not take (the attempt was no longer held)', async () => {
    const queue = {
      complete: async () => [],
      isRefusal: () => false,
    } as unknown as WorkerQueue;
    const { written } = await recorder(queue).record(record(0));
    expect(written).toBe(false);
  });
});
