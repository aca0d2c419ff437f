import { TaskResultStatus } from '../../task/task-result-status.js';

const { READY } = TaskResultStatus;

/**
 * The status column holds the result's status, or SCHEDULED: a READY result
 * that was not due yet when it was written (a future `runAfter`, a retry
 * waiting its delay). SCHEDULED rows stay out of the claim index, so a claim
 * never walks past them however many there are; workers promote them to
 * READY once due (`TaskStore.promoteDue`). Everything that reads or filters
 * rows takes SCHEDULED for READY: it is never shown.
 */
export const SCHEDULED = 'SCHEDULED';

/** The stored statuses of results in one of `statuses`. */
export function storedStatuses(statuses: readonly string[]): string[] {
  return statuses.includes(READY) ? [...statuses, SCHEDULED] : [...statuses];
}

/** The result's status of a stored one. */
export function shownStatus(stored: string): string {
  return stored === SCHEDULED ? READY : stored;
}

/** How a result in `status`, claimable from `availableAt`, is stored when written at `now` (epoch ms). */
export function storedStatus(
  status: TaskResultStatus,
  availableAt: number,
  now: number,
): string {
  return status === READY && availableAt > now ? SCHEDULED : status;
}
