import { TasksError } from './tasks.error.js';

/** The abort reason of a running attempt whose result was cancelled (`TaskQueue.cancel`). */
export class TaskCancelledError extends TasksError {}
