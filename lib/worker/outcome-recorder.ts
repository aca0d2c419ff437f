import type { Logger } from '@nestjs/common';
import type {
  AttemptRecord,
  CompletionReport,
  WorkerQueue,
} from '../backends/worker-queue.js';
import { attemptCancelled } from '../execution/attempt-policy.js';
import { toErrorRecord } from '../task/task-error-record.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { TaskMessages } from '../tasks.messages.js';
import { CompletionBatcher } from './completion-batcher.js';
import type { OutageLog } from './outage-log.js';

/** What became of an outcome: what was stored, and whether the store took it (false: the attempt was no longer held). */
export interface Recorded {
  stored: AttemptRecord;
  written: boolean;
}

/** A store's answer to `complete()`: the ids it wrote, and those of them it wrote CANCELLED. */
interface StoreAnswer {
  written: ReadonlySet<string>;
  cancelled: ReadonlySet<string>;
}

function answerOf(answer: string[] | CompletionReport): StoreAnswer {
  return Array.isArray(answer)
    ? { written: new Set(answer), cancelled: new Set() }
    : {
        written: new Set(answer.written),
        cancelled: new Set(answer.cancelled),
      };
}

/** What became of `record` by the store's answer: written as it was, CANCELLED instead, or not at all. */
function recordedBy(record: AttemptRecord, answer: StoreAnswer): Recorded {
  const id = record.data.id;
  if (!answer.cancelled.has(id))
    return { stored: record, written: answer.written.has(id) };
  return { stored: { ...record, ...attemptCancelled(record) }, written: true };
}

/**
 * Writes attempt outcomes, many per call. When the store refuses an
 * outcome's data (too large, invalid), the batch is split so the others are
 * not held back, and that outcome is stored as FAILED without its payload.
 * When the store is unreachable, writes are retried with backoff (the
 * tasks' leases keep being extended meanwhile) until `giveUp()` says so.
 */
export class OutcomeRecorder {
  private readonly batcher = new CompletionBatcher<AttemptRecord, Recorded>(
    (records) => this.writeBatch(records),
  );

  constructor(
    private readonly queue: WorkerQueue,
    private readonly logger: Logger,
    private readonly outage: OutageLog,
    /** True once retrying is pointless (the shutdown deadline passed). */
    private readonly giveUp: () => boolean,
  ) {}

  record(record: AttemptRecord): Promise<Recorded> {
    return this.batcher.add(record);
  }

  private async writeBatch(
    records: readonly AttemptRecord[],
  ): Promise<Recorded[]> {
    if (records.length > 1) {
      try {
        const answer = answerOf(await this.queue.complete(records));
        this.outage.answered();
        return records.map((record) => recordedBy(record, answer));
      } catch {
        // Split: find out which outcome the store refuses, or retry each while it is unreachable.
      }
    }
    const recorded: Recorded[] = [];
    for (const record of records) recorded.push(await this.writeAlone(record));
    return recorded;
  }

  /**
   * Writes one outcome. If the store refuses its data, a FAILED stand-in
   * with its last few errors is written instead, and if even that is refused,
   * one with the refusal alone.
   */
  private async writeAlone(record: AttemptRecord): Promise<Recorded> {
    const first = await this.writeUntilReachable(record);
    if (first.ok) return recordedBy(record, first.answer);
    let refusal = first.refusal;
    for (const keptErrors of [3, 0]) {
      const standIn = unstorable(record, refusal, keptErrors);
      const outcome = await this.writeUntilReachable(standIn);
      if (outcome.ok) {
        const recorded = recordedBy(standIn, outcome.answer);
        if (recorded.written) {
          this.logger.error(
            TaskMessages.outcomeRefused(
              record.data.id,
              record.data.taskName,
              refusal,
            ),
          );
        }
        return recorded;
      }
      refusal = outcome.refusal;
    }
    throw new Error(
      TaskMessages.outcomeRefusedEntirely(record.data.id, refusal),
    );
  }

  /** Writes one record, retrying lost connections with backoff; a refusal of the data is returned, not retried. */
  private async writeUntilReachable(
    record: AttemptRecord,
  ): Promise<
    { ok: true; answer: StoreAnswer } | { ok: false; refusal: unknown }
  > {
    for (let failures = 0; ; failures++) {
      try {
        const answer = answerOf(await this.queue.complete([record]));
        this.outage.answered();
        return { ok: true, answer };
      } catch (error) {
        if (this.queue.isRefusal(error)) return { ok: false, refusal: error };
        if (this.giveUp()) throw error;
        this.outage.failed('recording outcomes', error);
        const delay = Math.min(100 * 2 ** failures, 5000);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

const KEEP_CHARS = 2000;
const clip = (text: unknown) => {
  const value = String(text ?? '');
  return value.length > KEEP_CHARS
    ? `${value.slice(0, KEEP_CHARS)}… (clipped)`
    : value;
};

/**
 * A stand-in for an outcome the store refused (too large, invalid):
 * FAILED, without a return value, keeping only the last `keptErrors` errors
 * (clipped) and the refusal, so that it stays small enough to be written.
 */
function unstorable(
  record: AttemptRecord,
  refusal: unknown,
  keptErrors: number,
): AttemptRecord {
  const reason = toErrorRecord(refusal);
  const kept = keptErrors > 0 ? record.data.errors.slice(-keptErrors) : [];
  const errors = [
    ...kept,
    {
      ...reason,
      message: TaskMessages.outcomeNotStored(record.attempt, reason.message),
    },
  ].map((error) => ({
    errorClass: clip(error.errorClass),
    message: clip(error.message),
    traceback: clip(error.traceback),
  }));
  return {
    ...record,
    data: {
      ...record.data,
      status: TaskResultStatus.FAILED,
      finishedAt: new Date(),
      returnValue: null,
      errors,
    },
    retryAt: null,
  };
}
