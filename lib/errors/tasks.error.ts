/** Base class of every error raised by nestjs-tasks. */
export class TasksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
