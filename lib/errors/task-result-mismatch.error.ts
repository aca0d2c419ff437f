import { TasksError } from './tasks.error.js';

/** A result id that belongs to another task than the one asked for. */
export class TaskResultMismatchError extends TasksError {}
