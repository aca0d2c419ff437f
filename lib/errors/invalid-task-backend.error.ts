import { TasksError } from './tasks.error.js';

/** A backend is misconfigured, unknown, or cannot do what was asked. */
export class InvalidTaskBackendError extends TasksError {}
