import { InvalidTaskArgumentsError } from '../../errors/invalid-task-arguments.error.js';
import { attemptStarted } from '../../execution/attempt-policy.js';
import {
  toErrorRecord,
  type TaskErrorRecord,
} from '../../task/task-error-record.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import {
  isFinishedStatus,
  TaskResultStatus,
} from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';

/**
 * The job codec: a result's state as a BullMQ job holds it. The job's data
 * is the result's state (times as epoch milliseconds) but its return value,
 * which is the job's own return value; its id is the result's id, its name
 * the task's name. BullMQ's state of the job (waiting, active, completed,
 * failed…) decides what the data alone cannot: a job BullMQ failed on its
 * own is FAILED whatever its data says.
 *
 * An attempt's start is not written into the data: a worker's take marks
 * the job with the attempt (the job's ATTEMPT_FIELD, see `attemptMarkHead`:
 * when it started, by which worker, under which claim token, and how many
 * of the job's attempts BullMQ had seen end by then), in the same call as
 * BullMQ's move to active. Data written since counts that attempt by its
 * token (`countedAttempt`). A mark the data does not count is an attempt
 * started: RUNNING while BullMQ holds the job active; ended by BullMQ's
 * move to completed once BullMQ counts one more ended attempt (a success
 * leaves the data as it was taken); else interrupted once BullMQ's stalled
 * check put the job back. Tokens, not times, tell a counted attempt, so
 * workers' clocks need not agree.
 */

/**
 * What a job's data holds. The optional fields are left out while they
 * hold their defaults (none, zero, empty), which is how most of a task's
 * life stores them: a job's data stays small to write, move and read.
 */
export interface StoredTask {
  taskName: string;
  backend: string;
  queueName: string;
  priority: number;
  args: unknown[];
  status: TaskResultStatus;
  runAfter?: number | null;
  enqueuedAt: number | null;
  startedAt?: number | null;
  finishedAt?: number | null;
  lastAttemptedAt?: number | null;
  /** Since when the task may run: its runAfter, or a retry's retryAt, else its enqueue time. */
  availableAt: number;
  attempts?: number;
  maxAttempts: number;
  workerIds?: string[];
  errors?: TaskErrorRecord[];
  progress?: number | null;
  metadata?: Record<string, unknown>;
  uniqueKey?: string | null;
  /** The claim token of the last attempt the data counts (see `decodeJob`). */
  countedAttempt?: string;
}

/** The fields a job's data leaves out while they hold their defaults, read back as these. */
const OPTIONAL_FIELDS = new Set<keyof StoredTask>([
  'runAfter',
  'startedAt',
  'finishedAt',
  'lastAttemptedAt',
  'attempts',
  'workerIds',
  'errors',
  'progress',
  'metadata',
  'uniqueKey',
  'countedAttempt',
]);

/** The part of a BullMQ job the codec reads. */
export interface JobFields {
  id?: string;
  data: unknown;
  returnvalue: unknown;
  failedReason?: string;
  /** A number, or its text where a job is read from its hash as Redis answers it. */
  finishedOn?: number | string;
  timestamp: number;
  /** The job's ATTEMPT_FIELD, as stored (see `readAttemptMark`). */
  attemptMark?: string | null;
  /** How many of its attempts BullMQ counted as ended (its `atm`). */
  attemptsMade?: number | string | null;
}

/** The job hash field that marks the start of the job's latest attempt. */
export const ATTEMPT_FIELD = 'ntAttempt';

/** A job's attempt mark, read back. */
export interface AttemptMark {
  /** When the attempt started (epoch ms). */
  at: number;
  workerId: string;
  /** The token of the claim that took it. */
  token: string;
  /** How many of the job's attempts BullMQ had counted as ended (its `atm`) when it was taken. */
  endedBefore: number;
}

/**
 * The start of an attempt's mark, as the take writes it: the take appends
 * the job's count of ended attempts and the closing bracket (see
 * `readAttemptMark`).
 */
export function attemptMarkHead(
  at: number,
  workerId: string,
  token: string,
): string {
  return JSON.stringify([at, workerId, token]).slice(0, -1);
}

/** A stored attempt mark read back; null when there is none, or it cannot be read. */
export function readAttemptMark(
  text: string | null | undefined,
): AttemptMark | null {
  if (!text) return null;
  try {
    const [at, workerId, token, endedBefore] = JSON.parse(text) as unknown[];
    return typeof at === 'number' &&
      typeof workerId === 'string' &&
      typeof token === 'string' &&
      typeof endedBefore === 'number'
      ? { at, workerId, token, endedBefore }
      : null;
  } catch {
    return null;
  }
}

/**
 * The token of the attempt that data written from this job's state as
 * read counts: its mark's (an attempt read as started is counted by that
 * write), else the one its data counts; null for none.
 */
export function countedAttemptOf(job: JobFields): string | null {
  const mark = readAttemptMark(job.attemptMark);
  if (mark) return mark.token;
  const stored = isObject(job.data) ? job.data : {};
  return typeof stored.countedAttempt === 'string'
    ? stored.countedAttempt
    : null;
}

/** A job's state read back, and what was wrong with its data if it could not be read whole. */
export interface DecodedJob {
  data: TaskResultData;
  /** Why the job cannot be run (data of the wrong shape), or null. */
  problem: TaskErrorRecord | null;
}

/** BullMQ's states in which a job waits to be taken. */
export const WAITING_STATES = new Set([
  'waiting',
  'prioritized',
  'delayed',
  'paused',
  'wait',
]);

const ms = (date: Date | null): number | null => (date ? date.getTime() : null);
const toDate = (value: unknown): Date | null =>
  typeof value === 'number' ? new Date(value) : null;
/** When BullMQ finished the job, or null. */
const finishedOnOf = (job: JobFields): Date | null => {
  const ms = job.finishedOn === '' ? NaN : Number(job.finishedOn);
  return Number.isFinite(ms) ? new Date(ms) : null;
};

/**
 * The job data of a result's state, available from `availableAt`, that
 * counts the attempt of claim token `countedAttempt`; fields at their
 * defaults left out.
 */
export function encodeTask(
  data: TaskResultData,
  availableAt: number,
  countedAttempt: string | null = null,
): StoredTask {
  const stored: StoredTask = {
    taskName: data.taskName,
    backend: data.backend,
    queueName: data.queueName,
    priority: data.priority,
    args: data.args,
    status: data.status,
    enqueuedAt: ms(data.enqueuedAt),
    availableAt,
    maxAttempts: data.maxAttempts,
  };
  if (data.runAfter) stored.runAfter = data.runAfter.getTime();
  if (data.startedAt) stored.startedAt = data.startedAt.getTime();
  if (data.finishedAt) stored.finishedAt = data.finishedAt.getTime();
  if (data.lastAttemptedAt)
    stored.lastAttemptedAt = data.lastAttemptedAt.getTime();
  if (data.attempts !== 0) stored.attempts = data.attempts;
  if (data.workerIds.length > 0) stored.workerIds = data.workerIds;
  if (data.errors.length > 0) stored.errors = data.errors;
  if (data.progress !== null) stored.progress = data.progress;
  if (Object.keys(data.metadata).length > 0) stored.metadata = data.metadata;
  if (data.uniqueKey !== null) stored.uniqueKey = data.uniqueKey;
  if (countedAttempt !== null) stored.countedAttempt = countedAttempt;
  return stored;
}

const STATUSES = new Set<string>(Object.values(TaskResultStatus));
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isString = (value: unknown) => typeof value === 'string';
const isNumber = (value: unknown) => typeof value === 'number';
const isNumberOrNull = (value: unknown) => value === null || isNumber(value);
const isStringOrNull = (value: unknown) => value === null || isString(value);
const isStatus = (value: unknown) => STATUSES.has(String(value));

/** Reads a job back as a result's state; never throws, so one damaged job cannot stop a worker. */
export function decodeJob(job: JobFields, state: string): DecodedJob {
  const stored = isObject(job.data) ? job.data : {};
  const problems: string[] = [];
  const field = <T>(
    name: keyof StoredTask,
    fallback: T,
    valid: (value: unknown) => boolean,
  ): T => {
    const value = stored[name];
    if (valid(value)) return value as T;
    if (value === undefined && OPTIONAL_FIELDS.has(name)) return fallback;
    if (value !== undefined || fallback === undefined)
      problems.push(`'${name}' is ${JSON.stringify(value) ?? 'missing'}`);
    else problems.push(`'${name}' is missing`);
    return fallback;
  };
  const time = (name: keyof StoredTask) =>
    toDate(field(name, null, isNumberOrNull));
  const storedStatus = field<string>(
    'status',
    TaskResultStatus.FAILED,
    isStatus,
  ) as TaskResultStatus;
  let data: TaskResultData = {
    id: String(job.id),
    taskName: field('taskName', '(unknown task)', isString),
    backend: field('backend', '', isString),
    queueName: field('queueName', '', isString),
    priority: field('priority', 0, isNumber),
    args: field<unknown[]>('args', [], Array.isArray),
    status: storedStatus,
    runAfter: time('runAfter'),
    enqueuedAt: time('enqueuedAt') ?? new Date(job.timestamp),
    startedAt: time('startedAt'),
    finishedAt: time('finishedAt'),
    lastAttemptedAt: time('lastAttemptedAt'),
    attempts: field('attempts', 0, isNumber),
    maxAttempts: field('maxAttempts', 1, isNumber),
    workerIds: field<string[]>('workerIds', [], Array.isArray),
    errors: field<TaskErrorRecord[]>('errors', [], Array.isArray),
    returnValue: null,
    progress: field<number | null>('progress', null, isNumberOrNull),
    metadata: field<Record<string, unknown>>('metadata', {}, isObject),
    uniqueKey: field<string | null>('uniqueKey', null, isStringOrNull),
  };
  const mark = readAttemptMark(job.attemptMark);
  if (
    mark &&
    mark.token !== stored.countedAttempt &&
    !isFinishedStatus(data.status) &&
    data.status !== TaskResultStatus.RUNNING
  ) {
    data = attemptStarted(data, mark.workerId, new Date(mark.at));
    // BullMQ counted one more ended attempt: the move to completed that ended it (a failure counts itself in the data).
    if (state !== 'failed' && Number(job.attemptsMade ?? 0) > mark.endedBefore)
      data = {
        ...data,
        status: TaskResultStatus.SUCCESSFUL,
        finishedAt: finishedOnOf(job) ?? new Date(mark.at),
      };
  }
  if (state === 'completed') {
    data.status = TaskResultStatus.SUCCESSFUL;
    data.returnValue = job.returnvalue ?? null;
    data.finishedAt ??= finishedOnOf(job);
  } else if (state === 'failed' && !isFinishedStatus(data.status)) {
    // Failed by BullMQ itself (not through this backend): its reason is the last error.
    data.status = TaskResultStatus.FAILED;
    data.finishedAt = finishedOnOf(job);
    data.errors = [
      ...data.errors,
      { errorClass: 'Error', message: job.failedReason ?? '', traceback: '' },
    ];
  }
  const problem = problems.length
    ? toErrorRecord(
        new InvalidTaskArgumentsError(
          TaskMessages.corruptJob(data.taskName, problems),
        ),
      )
    : null;
  return { data, problem };
}

/** When a job of this data may run (its availableAt), or its enqueue time when that is missing. */
export function availableAtOf(job: JobFields): number {
  const stored = isObject(job.data) ? job.data : {};
  return typeof stored.availableAt === 'number'
    ? stored.availableAt
    : job.timestamp;
}

/** `text` if it is JSON, else the JSON string of it: a job's data read as a damaged job's instead of failing the read. */
export function readableJson(text: string): string {
  return parsed(text) === undefined ? JSON.stringify(text) : text;
}

/**
 * What BullMQ's reading of a job parses besides its data: each field's
 * stand-in when its text is not what BullMQ can read (BullMQ's defaults).
 */
const READ_FIELDS: Record<
  string,
  { readable(text: string): boolean; instead: string }
> = {
  opts: { readable: (text) => isObject(parsed(text)), instead: '{}' },
  progress: { readable: (text) => parsed(text) !== undefined, instead: 'null' },
  parent: { readable: (text) => parsed(text) !== undefined, instead: '' },
};

/**
 * A job's hash fields as Redis answers them (name, value, …), its `data`
 * kept as a JSON string of its text when it is not JSON (see
 * `readableJson`), and the other fields BullMQ parses (its options,
 * progress and parent) read as BullMQ's defaults when BullMQ could not
 * read them: read as a damaged job (failed with its problem), or with
 * BullMQ's defaults, instead of failing the read of every job taken with
 * it.
 */
export function withReadableData(fields: readonly string[]): string[] {
  const readable = [...fields];
  for (let at = 0; at + 1 < readable.length; at += 2) {
    const name = readable[at];
    if (name === 'data') readable[at + 1] = readableJson(readable[at + 1]);
    else if (READ_FIELDS[name] && !READ_FIELDS[name].readable(readable[at + 1]))
      readable[at + 1] = READ_FIELDS[name].instead;
  }
  return readable;
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
