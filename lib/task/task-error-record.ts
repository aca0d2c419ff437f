/** One failed attempt, as stored with a result. */
export interface TaskErrorRecord {
  /** The thrown value's class name, e.g. `TypeError`. */
  errorClass: string;
  message: string;
  /** The stack trace, or an empty string when the thrown value had none. */
  traceback: string;
}

export function toErrorRecord(thrown: unknown): TaskErrorRecord {
  if (thrown instanceof Error) {
    return {
      errorClass: thrown.constructor?.name || thrown.name || 'Error',
      message: thrown.message,
      traceback: thrown.stack ?? `${thrown.name}: ${thrown.message}`,
    };
  }
  const errorClass =
    thrown === null || thrown === undefined
      ? String(thrown)
      : ((thrown as object).constructor?.name ?? typeof thrown);
  return { errorClass, message: String(thrown), traceback: '' };
}
