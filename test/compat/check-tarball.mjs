// node check-tarball.mjs <nestjs-tasks.tgz>
// Checks the packed package as npm would publish it: every file package.json
// names (main, types, bin, each `exports` target with its declarations, each
// `typesVersions` path) is in it, with both builds' package.json scopes;
// every source map points at sources that are shipped too; nothing from the
// repository's tests, samples or tooling is.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const tarball = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), 'nestjs-tasks-tarball-'));
const problems = [];
try {
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  const root = join(dir, 'package');
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));
  const json = (file) => JSON.parse(readFileSync(join(root, file), 'utf8'));
  const expect = (file, why) => {
    if (!existsSync(join(root, file)))
      problems.push(`${file} (${why}) is not in the tarball`);
  };

  const pkg = json('package.json');
  expect(pkg.main, 'main');
  expect(pkg.types, 'types');
  for (const [name, file] of Object.entries(pkg.bin))
    expect(file, `bin ${name}`);
  expect('dist/esm/package.json', 'the ESM scope');
  expect('dist/cjs/package.json', 'the CommonJS scope');
  if (json('dist/cjs/package.json').type !== 'commonjs')
    problems.push('dist/cjs/package.json does not say "type": "commonjs"');
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const conditions =
      typeof target === 'string' ? { default: target } : target;
    for (const [condition, file] of Object.entries(conditions)) {
      expect(file, `exports["${subpath}"].${condition}`);
      if (file.endsWith('.js'))
        expect(file.replace(/\.js$/, '.d.ts'), `types of "${subpath}"`);
    }
  }
  for (const [name, paths] of Object.entries(pkg.typesVersions['*']))
    for (const file of paths) expect(file, `typesVersions ${name}`);
  for (const file of files.filter((file) => file.endsWith('.map')))
    for (const source of json(file).sources)
      expect(
        relative(root, join(root, dirname(file), source)),
        `a source of ${file}`,
      );
  for (const file of files)
    if (/^(test|sample|bench|scripts|\.ci)\/|\.spec\.|tsconfig/.test(file))
      problems.push(`${file} should not be published`);
  console.log(`${tarball}: ${files.length} files`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('main, types, bin, exports, typesVersions and source maps resolve');
