import { TaskResultStatus } from '../../task/task-result-status.js';
import type { Dialect } from './dialects/dialect.js';
import { SCHEDULED, TASK_INDEXES, type IndexSpec } from './task-columns.js';

export { SCHEDULED };

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/** What the backend knows of a status a row of the tasks table may hold. */
interface StoredStatus {
  /** The status results in it read as. */
  reads: TaskResultStatus;
  /** The suffix of the index that holds its rows (see `TASK_INDEXES`). */
  index: string;
}

/**
 * Every status the backend writes in a row, with the status it reads as
 * and the index its rows are found through. The status column holds the
 * result's status, or SCHEDULED: a READY result that was not due yet when
 * it was written (a future `runAfter`, a retry waiting its delay).
 * SCHEDULED rows stay out of the claim index, so a claim never walks past
 * them however many there are; workers promote them to READY once due
 * (`TaskStore.promoteDue`). Everything that reads, counts or filters rows
 * goes through this one map, and takes SCHEDULED for READY: it is never
 * shown.
 */
const STORED_STATUSES: Readonly<Record<string, StoredStatus>> = {
  READY: { reads: READY, index: 'claim' },
  [SCHEDULED]: { reads: READY, index: 'scheduled' },
  RUNNING: { reads: RUNNING, index: 'lease' },
  SUCCESSFUL: { reads: SUCCESSFUL, index: 'finished' },
  FAILED: { reads: FAILED, index: 'finished' },
  CANCELLED: { reads: CANCELLED, index: 'finished' },
};

/** Every status the backend writes in a row. */
export const everyStoredStatus = (): string[] => Object.keys(STORED_STATUSES);

/** The status a row holding `stored` reads as; null for a status the backend never writes. */
export function publicStatus(stored: string): TaskResultStatus | null {
  return Object.hasOwn(STORED_STATUSES, stored)
    ? STORED_STATUSES[stored].reads
    : null;
}

/** The result's status of a stored one (one the backend never writes as it is). */
export function shownStatus(stored: string): string {
  return publicStatus(stored) ?? stored;
}

/** The statuses rows of results in `status` may hold. */
export function storedStatusesOf(status: TaskResultStatus): string[] {
  return everyStoredStatus().filter(
    (stored) => publicStatus(stored) === status,
  );
}

/** The stored statuses of results in one of `statuses` (one the backend never writes as it is). */
export function storedStatuses(statuses: readonly string[]): string[] {
  return statuses.flatMap((status) => {
    const stored = storedStatusesOf(status as TaskResultStatus);
    return stored.length ? stored : [status];
  });
}

/** How a result in `status`, claimable from `availableAt`, is stored when written at `now` (epoch ms). */
export function storedStatus(
  status: TaskResultStatus,
  availableAt: number,
  now: number,
): string {
  return status === READY && availableAt > now ? SCHEDULED : status;
}

/**
 * The rows of a stored status as the index that holds them reads them: the
 * condition that selects them there (a partial index serves only a query
 * that implies its condition; a column standing in for one, a query on
 * that column: see `Dialect.readThrough`), and the order of its entries.
 */
export function rowsOfStatus(
  stored: string,
  dialect: Dialect,
): {
  index: IndexSpec;
  where: string;
  order: string;
} {
  const suffix = STORED_STATUSES[stored]?.index;
  const index = TASK_INDEXES.find((spec) => spec.suffix === suffix);
  if (!index) throw new Error(`No index holds rows of status '${stored}'`);
  const read = dialect.readThrough(index);
  const equal = `${read.column('status')} = '${stored}'`;
  const where =
    read.rows && read.rows !== equal ? `${equal} AND ${read.rows}` : equal;
  const order = index.columns.filter((column) => column !== 'status');
  return { index, where, order: order.join(', ') };
}
