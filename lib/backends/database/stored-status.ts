import { TaskResultStatus } from '../../task/task-result-status.js';
import { TASK_INDEXES, type IndexSpec } from './task-columns.js';

/** What the backend knows of a status a row of the tasks table may hold. */
interface StoredStatus {
  /** The status results in it read as. */
  reads: TaskResultStatus;
  /** The suffix of the index that holds its rows (see `TASK_INDEXES`). */
  index: string;
}

/**
 * Every status the backend writes in a row, with the status it reads as
 * and the index its rows are found through. Counts and filters by status
 * go through this one map.
 */
const STORED_STATUSES: Readonly<Record<string, StoredStatus>> = {
  READY: { reads: TaskResultStatus.READY, index: 'claim' },
  RUNNING: { reads: TaskResultStatus.RUNNING, index: 'lease' },
  SUCCESSFUL: { reads: TaskResultStatus.SUCCESSFUL, index: 'finished' },
  FAILED: { reads: TaskResultStatus.FAILED, index: 'finished' },
  CANCELLED: { reads: TaskResultStatus.CANCELLED, index: 'finished' },
};

/** Every status the backend writes in a row. */
export const storedStatuses = (): string[] => Object.keys(STORED_STATUSES);

/** The status a row holding `stored` reads as; null for a status the backend never writes. */
export function publicStatus(stored: string): TaskResultStatus | null {
  return Object.hasOwn(STORED_STATUSES, stored)
    ? STORED_STATUSES[stored].reads
    : null;
}

/** The statuses rows of results in `status` may hold. */
export function storedStatusesOf(status: TaskResultStatus): string[] {
  return storedStatuses().filter((stored) => publicStatus(stored) === status);
}

/**
 * The rows of a stored status as the index that holds them reads them: the
 * condition that selects them there (a partial index serves only a query
 * that implies its condition), and the order of its entries.
 */
export function rowsOfStatus(stored: string): {
  index: IndexSpec;
  where: string;
  order: string;
} {
  const suffix = STORED_STATUSES[stored]?.index;
  const index = TASK_INDEXES.find((spec) => spec.suffix === suffix);
  if (!index) throw new Error(`No index holds rows of status '${stored}'`);
  const equal = `status = '${stored}'`;
  const where =
    index.partial && index.partial !== equal
      ? `${equal} AND ${index.partial}`
      : equal;
  const order = index.columns.filter((column) => column !== 'status');
  return { index, where, order: order.join(', ') };
}
