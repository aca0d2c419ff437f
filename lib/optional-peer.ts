/**
 * Loads an optional peer dependency (DESIGN rule 7: never imported
 * statically); rejects when it is not installed.
 *
 * In the CommonJS build `require` is the module's own, and the peer is
 * required as the application's code requires it: the same instance, and
 * loadable under Jest without ESM support, where `import()` fails. The ESM
 * build, and a peer that `require` cannot load (an ES module with top-level
 * await), go through `import()`, which both builds keep as a real dynamic
 * import.
 */
export async function importOptionalPeer<T>(name: string): Promise<T> {
  if (typeof require === 'function') {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS build: load the peer as the application does
      return require(name) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND')
        throw error;
    }
  }
  return (await import(name)) as T;
}
