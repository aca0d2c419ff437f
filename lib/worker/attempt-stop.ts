/**
 * How a worker stops one of its attempts: an `AbortController` made only
 * when the attempt reads its signal or is stopped. Most attempts do
 * neither, and a worker of short tasks runs thousands a second.
 */
export class AttemptStop {
  private controller: AbortController | null = null;

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}
