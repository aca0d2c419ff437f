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
  return { errorClass, message: describeThrown(thrown), traceback: '' };
}

/** A thrown value that is not an Error, readably: objects as JSON (`{"code":42}`), the rest as text. */
function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'object' && thrown !== null) {
    try {
      const json = JSON.stringify(thrown);
      if (json !== undefined && json !== '{}') return json;
    } catch {
      // a cycle or a BigInt: fall back to its text
    }
  }
  return String(thrown);
}
