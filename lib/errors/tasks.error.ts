/** Base class of every error raised by nestjs-tasks. */
export class TasksError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
