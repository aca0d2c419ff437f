/**
 * Always CommonJS (a .cts file, in both builds): `require.resolve` finds a
 * file of an installed package from where this package is installed, which
 * an ES module cannot do without `import.meta` (absent from the CommonJS
 * build).
 */
export function packageFilePath(specifier: string): string {
  return require.resolve(specifier);
}
