import { TasksError } from './tasks.error.js';

/** Task arguments that would not survive a JSON round trip. */
export class InvalidTaskArgumentsError extends TasksError {}
