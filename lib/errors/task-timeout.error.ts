import { TasksError } from './tasks.error.js';

/** An attempt that ran past its task's timeout. */
export class TaskTimeoutError extends TasksError {}
