import { TasksError } from './tasks.error.js';

/** An attempt whose worker died or was stopped before it finished. */
export class TaskInterruptedError extends TasksError {}
