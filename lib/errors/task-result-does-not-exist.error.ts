import { TasksError } from './tasks.error.js';

/** No result with this id exists on the backend. */
export class TaskResultDoesNotExistError extends TasksError {}
