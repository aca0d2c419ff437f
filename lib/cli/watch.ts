/** Where a redrawing view writes, and whether it is a terminal. */
export interface WatchOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Moves the cursor home and clears the terminal. */
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/**
 * Renders `render()` every `intervalMs` until `signal` aborts: on a
 * terminal, redrawn in place of the previous one; elsewhere (a pipe, a
 * log file) appended, each under a line naming when it was read. With
 * `lines`, each rendering is appended as it is, wherever it goes (one JSON
 * document a line).
 */
export async function watch(
  render: () => Promise<string>,
  output: WatchOutput,
  intervalMs: number,
  signal: AbortSignal,
  lines = false,
): Promise<void> {
  while (!signal.aborted) {
    const text = await render();
    if (signal.aborted) return;
    output.write(
      lines
        ? text
        : output.isTTY
          ? `${CLEAR_SCREEN}${text}`
          : `--- ${new Date().toISOString()} ---\n${text}`,
    );
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, intervalMs);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }
}

/** An AbortSignal that aborts at the first SIGINT or SIGTERM, and a function that stops listening. */
export function stopSignal(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
