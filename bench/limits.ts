import { chunks } from './system.js';
/** Thrown when one phase of one system overruns `--timeout`. */
export class PhaseTimeoutError extends Error {
  constructor(phase: string, system: string, limitMs: number) {
    super(`${system}: ${phase} did not finish within ${limitMs} ms`);
  }
}

/**
 * Runs `work` with a deadline signal that fires after `limitMs`. On overrun
 * the signal is aborted, `work` is awaited (it stops at its next check and
 * releases what it holds) and `PhaseTimeoutError` is thrown.
 */
export async function withinLimit<T>(
  limitMs: number,
  phase: string,
  system: string,
  work: (deadline: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const running = work(controller.signal);
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'overrun'>((resolve) => {
    timer = setTimeout(() => resolve('overrun'), limitMs);
  });
  try {
    const outcome = await Promise.race([running, overrun]);
    if (outcome === 'overrun' || controller.signal.aborted) {
      controller.abort();
      await running.catch(() => undefined);
      throw new PhaseTimeoutError(phase, system, limitMs);
    }
    return outcome;
  } catch (error) {
    // A failure caused by the abort is the overrun, not an error of its own.
    if (controller.signal.aborted && !(error instanceof PhaseTimeoutError))
      throw new PhaseTimeoutError(phase, system, limitMs);
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** Throws once the phase's time is up, so that loops of calls stop. */
export function checkDeadline(deadline: AbortSignal): void {
  if (deadline.aborted) throw new Error('phase time limit reached');
}

/** Calls `call(i)` for each of 0 … n - 1 in turn, each awaited, until the deadline. */
export async function eachIndex(
  n: number,
  deadline: AbortSignal,
  call: (i: number) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    checkDeadline(deadline);
    await call(i);
  }
}

/** Calls `call(indexes)` for 0 … n - 1 in chunks of `size`, each awaited, until the deadline. */
export async function eachChunk(
  n: number,
  size: number,
  deadline: AbortSignal,
  call: (indexes: number[]) => Promise<unknown>,
): Promise<void> {
  for (const indexes of chunks(n, size)) {
    checkDeadline(deadline);
    await call(indexes);
  }
}

/** Resolves after `ms`, or rejects as soon as the deadline passes. */
export function sleep(ms: number, deadline?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (deadline?.aborted) return reject(new Error('phase time limit reached'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('phase time limit reached'));
    };
    const timer = setTimeout(() => {
      deadline?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    deadline?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Polls `done` every `intervalMs` until it holds; throws once the deadline passes. */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  deadline: AbortSignal,
  intervalMs = 10,
): Promise<void> {
  while (!(await done())) await sleep(intervalMs, deadline);
}
