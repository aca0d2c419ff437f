import { TasksError } from './tasks.error.js';

/** The return value of a result that has not finished successfully. */
export class TaskResultNotReadyError extends TasksError {}
