// Builds the package for both module systems, from lib/ with
// tsconfig.build.json:
//
//   dist/esm   ES modules (the package's "type": "module")
//   dist/cjs   CommonJS, beside a package.json of its own saying so
//
// Both are compiled with `module: nodenext`, so `import()` stays a real
// dynamic import in the CommonJS build too (`module: commonjs` would turn it
// into `require()`). Each build carries its own declarations, in the format
// of its JavaScript.
//
// The entry points are listed once, below; the build writes package.json's
// `exports` and `typesVersions` from that list.
//
//   node scripts/build.mjs                  build, and update package.json
//   node scripts/build.mjs --check-exports  fail when package.json is out of date
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Subpath entry points beside the root one: `nestjs-tasks/<name>` is lib/<name>/index.ts. */
const ENTRY_POINTS = ['testing', 'terminus', 'bullmq', 'dashboard'];

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const packageJsonPath = join(root, 'package.json');

/** `exports` and `typesVersions` for the entry points. */
function packageEntryFields() {
  const entry = (dir) => ({
    import: `./dist/esm/${dir}index.js`,
    require: `./dist/cjs/${dir}index.js`,
  });
  return {
    exports: {
      '.': entry(''),
      ...Object.fromEntries(
        ENTRY_POINTS.map((name) => [`./${name}`, entry(`${name}/`)]),
      ),
      './package.json': './package.json',
    },
    // For `moduleResolution: node` (node10), which reads no `exports`.
    typesVersions: {
      '*': Object.fromEntries(
        ENTRY_POINTS.map((name) => [
          name,
          [`./dist/cjs/${name}/index.d.ts`],
        ]),
      ),
    },
  };
}

/** Writes the entry fields into package.json, or with `check` only says whether they differ. */
function syncPackageJson(check) {
  const text = readFileSync(packageJsonPath, 'utf8');
  const pkg = JSON.parse(text);
  const fields = packageEntryFields();
  const stale = Object.keys(fields).filter(
    (key) => JSON.stringify(pkg[key]) !== JSON.stringify(fields[key]),
  );
  if (!stale.length) return;
  if (check) {
    console.error(
      `package.json: ${stale.join(' and ')} do not match the entry points of scripts/build.mjs; run npm run build.`,
    );
    process.exit(1);
  }
  writeFileSync(
    packageJsonPath,
    `${JSON.stringify({ ...pkg, ...fields }, null, 2)}\n`,
  );
  console.log(`package.json: ${stale.join(' and ')} updated`);
}

/**
 * TypeScript reads a file's module format from the nearest package.json, as
 * Node does. For the CommonJS build, lib/ gets a package.json of its own
 * saying "type": "commonjs", in memory only: on disk lib/ stays ES modules.
 */
function withPackageType(host, type) {
  const scope = join(root, 'lib', 'package.json');
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (file) => resolve(file) === scope || fileExists(file);
  host.readFile = (file) =>
    resolve(file) === scope ? JSON.stringify({ type }) : readFile(file);
  return host;
}

function compile(format, type) {
  const outDir = join(dist, format);
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    { outDir },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: report },
  );
  report(config.errors);
  const program = ts.createProgram({
    rootNames: config.fileNames,
    options: config.options,
    host: withPackageType(ts.createCompilerHost(config.options), type),
  });
  const { diagnostics } = program.emit();
  report([...ts.getPreEmitDiagnostics(program), ...diagnostics]);
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type })}\n`);
}

function report(diagnostics) {
  if (!diagnostics.length) return;
  console.error(
    ts.formatDiagnosticsWithColorAndContext(diagnostics, {
      getCanonicalFileName: (name) => name,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    }),
  );
  process.exit(1);
}

if (process.argv.includes('--check-exports')) {
  syncPackageJson(true);
} else {
  syncPackageJson(false);
  rmSync(dist, { recursive: true, force: true });
  compile('esm', 'module');
  compile('cjs', 'commonjs');
}
