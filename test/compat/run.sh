#!/usr/bin/env bash
# Packs this repository as npm would publish it and installs the tarball into
# two small apps, each set up as `nest new` sets up its kind:
#   cjs/  CommonJS: Nest 11, TypeORM 0.3, jest 29 + ts-jest, moduleResolution node
#   esm/  ES modules: Nest 12, TypeORM 1, vitest
# Each runs its unit tests (nestjs-tasks/testing), `nest build`, and a smoke
# run on PostgreSQL (127.0.0.1:5432, a database of its own, made anew):
# enqueue in a transaction, `tasks:work --batch` through the package's bin,
# getResult. The CommonJS app also type-checks the entry points under every
# moduleResolution and runs a jest suite against PostgreSQL.
# COMPAT_PREBUILT=1 packs dist/ as it is instead of building first.
set -euo pipefail

compat="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$compat/../.." && pwd)"
tarball="$compat/nestjs-tasks.tgz"

step() {
  printf '\n---- %s\n' "$*"
}

if [ "${COMPAT_PREBUILT:-}" != 1 ]; then
  step "build"
  (cd "$repo" && npm run build)
fi

step "npm pack"
pack_dir="$(mktemp -d)"
trap 'rm -rf "$pack_dir"' EXIT
(cd "$repo" && npm pack --silent --pack-destination "$pack_dir" >/dev/null)
mv "$pack_dir"/nestjs-tasks-*.tgz "$tarball"
node "$compat/check-tarball.mjs" "$tarball"

# install APP: the app's locked dependencies, then the tarball (kept out of
# the lockfile, whose integrity would pin an older pack).
install() {
  step "$1: npm ci + the tarball"
  (cd "$compat/$1" &&
    npm ci --no-audit --no-fund &&
    npm install --no-save --no-audit --no-fund "$tarball")
}

# fresh_database APP NAME: drops and creates the app's database.
fresh_database() {
  (cd "$compat/$1" && node -e '
    const { Client } = require("pg");
    const client = new Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
    const name = process.argv[1];
    client.connect()
      .then(() => client.query(`DROP DATABASE IF EXISTS ${name}`))
      .then(() => client.query(`CREATE DATABASE ${name}`))
      .finally(() => client.end());
  ' "$2")
}

# type_check_entry_points: the probe under each moduleResolution, as a
# CommonJS file (.ts in this CommonJS app) and as an ES module (.mts).
type_check_entry_points() {
  step "cjs: entry point types under every moduleResolution"
  local probe="test/type-resolution/probe"
  while read -r module resolution file; do
    echo "module $module, moduleResolution $resolution: $file"
    (cd "$compat/cjs" && npx tsc --noEmit --strict --target es2022 \
      --types node --module "$module" --moduleResolution "$resolution" "$file")
  done <<LIST
commonjs node10 $probe.ts
node16 node16 $probe.ts
nodenext nodenext $probe.ts
nodenext nodenext $probe.mts
esnext bundler $probe.ts
LIST
}

install cjs
step "cjs: jest 29 unit tests"
(cd "$compat/cjs" && npm test)
type_check_entry_points
step "cjs: nest build"
(cd "$compat/cjs" && npm run build)
fresh_database cjs nestjs_tasks_compat_cjs
step "cjs: smoke run on PostgreSQL"
(cd "$compat/cjs" && npm run smoke)
step "cjs: jest suite on PostgreSQL"
(cd "$compat/cjs" && npm run test:e2e)

install esm
step "esm: vitest unit tests"
(cd "$compat/esm" && npm test)
step "esm: type check"
(cd "$compat/esm" && npm run typecheck)
step "esm: nest build"
(cd "$compat/esm" && npm run build)
fresh_database esm nestjs_tasks_compat_esm
step "esm: smoke run on PostgreSQL"
(cd "$compat/esm" && npm run smoke)

step "compat: OK"
