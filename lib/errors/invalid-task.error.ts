import { TasksError } from './tasks.error.js';

/** A task's definition or options are invalid. */
export class InvalidTaskError extends TasksError {}
