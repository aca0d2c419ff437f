import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import type { TaskBackend, TaskCheckMessage } from '../backends/backend.js';
import { resolveOutboxOptions } from '../backends/outbox-options.js';
import type {
  OutboxStore,
  OutboxStoreOpener,
} from '../backends/outbox-store.js';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import type { TaskResult } from '../task/task-result.js';
import type { TaskResultData } from '../task/task-result-data.js';
import {
  LOGGER_CONTEXT,
  TASKS_OUTBOX_STORE_OPENER,
} from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TransactionScope } from '../transactions/transaction-scope.js';
import { resolveDataSource } from '../typeorm/resolve-data-source.js';
import { findProvider } from './find-provider.js';

/**
 * How long after it was written a row is left to the process that wrote it
 * (which relays it right after COMMIT) before a sweep may relay it.
 */
export const OUTBOX_GRACE_MS = 5_000;
/** How long a sweep holds the rows it took: another sweep takes them again only if it has not deleted them by then. */
const OUTBOX_LEASE_MS = 15_000;
/** How long a row that cannot be relayed (unreadable, or refused by the backend) is left aside before a sweep tries it again. */
const SET_ASIDE_MS = 3_600_000;
/** Rows a sweep relays at once. */
const OUTBOX_BATCH = 100;
/**
 * How long the committing code waits for the relay of its rows: they are
 * already durable, so a backend that does not answer (Redis frozen) delays
 * a COMMIT, and the connection it holds, this long at most; the relay goes
 * on meanwhile, and the sweep takes over if it never ends.
 */
const COMMIT_WAIT_MS = 1_000;
/** How long a sweep waits for a relay: less than its hold, so that it never relays rows another sweep took again. */
const SWEEP_RELAY_MS = OUTBOX_LEASE_MS / 3;

/** Resolves with `work`, or after `ms` (`late` is then true) while `work` goes on. */
async function waitAtMost<T>(
  work: Promise<T>,
  ms: number,
): Promise<{ late: true } | { late: false; value: T }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ late: true }>((resolve) => {
    timer = setTimeout(() => resolve({ late: true }), ms);
  });
  try {
    return await Promise.race([
      work.then((value) => ({ late: false as const, value })),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const reason = (error: unknown): string =>
  (error as Error)?.message ?? String(error);

/**
 * The durable outbox of backend aliases with `outbox`: an enqueue inside a
 * transaction on the outbox's DataSource writes a row in that transaction;
 * after the outermost COMMIT the rows are relayed to the backend and
 * deleted; rows a process left (it died, or the backend did not answer)
 * are relayed by the sweeps of the backend's workers. A relay stores each
 * result at most once (`TaskBackend.relay`), so a row relayed twice is
 * still one task. The table is reached through the `OutboxStore` contract,
 * opened by the `TASKS_OUTBOX_STORE_OPENER` the module provides.
 */
@Injectable()
export class TaskOutbox {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  /** The opened outbox of each alias with one. */
  private readonly stores = new Map<string, Promise<OutboxStore>>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly events: TaskEventBus,
    @Inject(TASKS_OUTBOX_STORE_OPENER)
    private readonly openStore: OutboxStoreOpener,
  ) {}

  /** Whether an enqueue for `backend` made inside the transaction of `manager` is written to its outbox. */
  async covers(backend: TaskBackend, manager: EntityManager): Promise<boolean> {
    if (!backend.outbox) return false;
    const store = await this.open(backend);
    return store.joins(manager);
  }

  /**
   * Writes `rows` to the outbox of `backend` in the transaction `scope` of
   * `manager` (which `covers` it) and relays them once it has committed.
   * Returns their results at once, updated in place by the relay.
   */
  async enqueue(
    backend: TaskBackend,
    scope: TransactionScope,
    manager: EntityManager,
    taskName: string,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    const store = await this.open(backend);
    try {
      await store.write(manager, rows, OUTBOX_GRACE_MS);
    } catch (error) {
      throw new InvalidTaskBackendError(
        store.isMissingTable(error)
          ? TaskMessages.outboxTableMissing(
              backend.alias,
              store.table,
              reason(error),
            )
          : TaskMessages.outboxWriteFailed(
              backend.alias,
              taskName,
              rows.length,
              reason(error),
            ),
        { cause: error },
      );
    }
    const held = rows.map((row) => backend.toResult(row));
    scope.onCommit(async () => {
      await waitAtMost(
        this.relayCommitted(backend, store, rows, held),
        COMMIT_WAIT_MS,
      );
    });
    return held;
  }

  /**
   * Relays the rows of `backend` that are due in its outbox (left there
   * for longer than the grace period, or due within `aheadMs`), a batch at a time, and returns how
   * many. Throws when the database or the backend does not answer: the
   * rows it took are taken again once their lease has run out.
   */
  async sweep(backend: TaskBackend, aheadMs = 0): Promise<number> {
    const store = await this.open(backend);
    let relayed = 0;
    for (;;) {
      const entries = await store.claim(
        backend.alias,
        OUTBOX_BATCH,
        OUTBOX_LEASE_MS,
        aheadMs,
      );
      const rows: TaskResultData[] = [];
      const unreadable: string[] = [];
      for (const { id, data, problem } of entries) {
        if (data) rows.push(data);
        else {
          unreadable.push(id);
          this.logger.error(
            TaskMessages.outboxRowUnreadable(
              backend.alias,
              id,
              String(problem),
              SET_ASIDE_MS,
            ),
          );
        }
      }
      if (unreadable.length) await store.postpone(unreadable, SET_ASIDE_MS);
      if (rows.length > 0)
        relayed += await this.relayTaken(backend, store, rows);
      if (entries.length < OUTBOX_BATCH) break;
    }
    if (relayed > 0)
      this.logger.log(TaskMessages.outboxRelayed(backend.alias, relayed));
    return relayed;
  }

  /**
   * Sweeps every row of `backend` but those set aside: also those in their
   * grace period and those another sweep holds (a relay is idempotent, so
   * racing one is safe). What `tasks:prune` runs before deleting results.
   */
  sweepAll(backend: TaskBackend): Promise<number> {
    return this.sweep(backend, Math.max(OUTBOX_GRACE_MS, OUTBOX_LEASE_MS));
  }

  /**
   * Relays rows a sweep took and deletes them; returns how many. When the
   * batch fails, row by row: a row the backend refuses on its own (one it
   * cannot store) is set aside for `SET_ASIDE_MS`, logged, and does not
   * hold the others back; when every row fails, the backend is taken to be
   * down and the first error is thrown.
   */
  private async relayTaken(
    backend: TaskBackend,
    store: OutboxStore,
    rows: TaskResultData[],
  ): Promise<number> {
    const relay = async (batch: TaskResultData[]) => {
      const relayed = await waitAtMost(backend.relay(batch), SWEEP_RELAY_MS);
      if (relayed.late)
        throw new InvalidTaskBackendError(
          TaskMessages.outboxRelayStalled(
            backend.alias,
            batch.length,
            SWEEP_RELAY_MS,
          ),
        );
    };
    try {
      await relay(rows);
      await this.remove(backend, store, rows);
      return rows.length;
    } catch (error) {
      if (rows.length === 1) throw error;
      const relayed: TaskResultData[] = [];
      const refused = new Map<string, unknown>();
      for (const row of rows)
        await relay([row]).then(
          () => relayed.push(row),
          (failure: unknown) => refused.set(row.id, failure),
        );
      if (relayed.length === 0) throw error;
      await this.remove(backend, store, relayed);
      await store.postpone([...refused.keys()], SET_ASIDE_MS);
      for (const [id, failure] of refused)
        this.logger.error(
          TaskMessages.outboxRowRefused(
            backend.alias,
            id,
            reason(failure),
            SET_ASIDE_MS,
          ),
        );
      return relayed.length;
    }
  }

  /** The problems of the outbox of `backend` (none without one): its table missing or behind, its database unreachable. */
  async check(backend: TaskBackend): Promise<TaskCheckMessage[]> {
    if (!backend.outbox) return [];
    try {
      const store = await this.open(backend);
      const lag = await store.lag();
      if (!lag) return [];
      return [
        {
          level: 'error',
          message: TaskMessages.outboxTableMissing(
            backend.alias,
            store.table,
            lag,
          ),
        },
      ];
    } catch (error) {
      return [
        {
          level: 'error',
          message: TaskMessages.outboxCheckFailed(backend.alias, reason(error)),
        },
      ];
    }
  }

  /** Releases the connections of the outboxes opened. */
  async close(): Promise<void> {
    const opened = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(
      opened.map((opening) =>
        opening.then(
          (store) => store.close(),
          () => undefined,
        ),
      ),
    );
  }

  /**
   * After COMMIT: relays the rows, updates the results handed out, deletes
   * the rows. A failure is logged and emitted as `dispatchFailed`, never
   * thrown into the code that committed: the rows stay for a sweep.
   */
  private async relayCommitted(
    backend: TaskBackend,
    store: OutboxStore,
    rows: TaskResultData[],
    held: TaskResult<any>[],
  ): Promise<void> {
    let relayed: TaskResult<any>[];
    try {
      relayed = await backend.relay(rows);
    } catch (error) {
      this.logger.error(
        TaskMessages.outboxRelayFailed(
          backend.alias,
          rows[0].taskName,
          rows.length,
        ),
        (error as Error)?.stack,
      );
      for (const result of held)
        await this.events.emit('dispatchFailed', result, error);
      return;
    }
    relayed.forEach((result, index) => held[index].update(result.snapshot));
    await this.remove(backend, store, rows);
  }

  /** Deletes relayed rows; one left behind is relayed again by a sweep, which stores nothing twice. */
  private async remove(
    backend: TaskBackend,
    store: OutboxStore,
    rows: readonly TaskResultData[],
  ): Promise<void> {
    try {
      await store.remove(rows.map((row) => row.id));
    } catch (error) {
      this.logger.warn(
        TaskMessages.outboxRemoveFailed(backend.alias, rows.length, error),
      );
    }
  }

  /** The outbox of `backend`, opened on first use (again after a failure). */
  private open(backend: TaskBackend): Promise<OutboxStore> {
    let opening = this.stores.get(backend.alias);
    if (!opening) {
      const { dataSource, tableName } = resolveOutboxOptions(
        backend.alias,
        backend.outbox,
      );
      const who = TaskMessages.outboxOf(backend.alias);
      opening = resolveDataSource(
        dataSource,
        (token) => findProvider(this.moduleRef, token),
        who,
      ).then((resolved) => this.openStore(resolved, tableName, who));
      this.stores.set(backend.alias, opening);
      const failed = opening;
      failed.catch(() => {
        if (this.stores.get(backend.alias) === failed)
          this.stores.delete(backend.alias);
      });
    }
    return opening;
  }
}
