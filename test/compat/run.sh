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
  printf '\n---- %s (%s)\n' "$*" "$(date +%T)"
}

if [ "${COMPAT_PREBUILT:-}" != 1 ]; then
  step "build"
  (cd "$repo" && npm run build)
fi

step "npm pack"
pack_dir="$(mktemp -d)"
(cd "$repo" && npm pack --silent --pack-destination "$pack_dir" >/dev/null)
mv "$pack_dir"/nestjs-tasks-*.tgz "$tarball"
node "$compat/check-tarball.mjs" "$tarball"

logs="$(mktemp -d)"
trap 'rm -rf "$pack_dir" "$logs"' EXIT

# install APP: the app's locked dependencies, then the tarball (kept out of
# the lockfile, whose integrity would pin an older pack).
install() {
  (cd "$compat/$1" &&
    npm ci --no-audit --no-fund &&
    npm install --no-save --no-audit --no-fund "$tarball")
}

# background NAME COMMAND...: starts COMMAND in the background, its output
# kept for await_background.
names=()
pids=()
background() {
  local name="$1"
  shift
  ("$@") >"$logs/$name" 2>&1 &
  names+=("$name")
  pids+=("$!")
}

# await_background: waits for the background commands and prints their
# output in the order they were started; fails when one of them failed.
await_background() {
  local index failed=0
  for index in "${!pids[@]}"; do
    if wait "${pids[$index]}"; then
      echo "${names[$index]}: ok"
    else
      echo "${names[$index]}: FAILED"
      failed=1
    fi
    cat "$logs/${names[$index]}"
  done
  names=()
  pids=()
  return "$failed"
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

# probe_types MODULE RESOLUTION FILE: type-checks the probe of the
# package's entry points in the CommonJS app (.ts is CommonJS there, .mts an
# ES module).
probe_types() {
  cd "$compat/cjs" &&
    npx tsc --noEmit --strict --target es2022 --types node \
      --module "$1" --moduleResolution "$2" "test/type-resolution/$3"
}

step "cjs, esm: npm ci + the tarball"
background cjs-install install cjs
background esm-install install esm
await_background

step "cjs: jest 29 unit tests"
(cd "$compat/cjs" && npm test)
step "cjs: entry point types under every moduleResolution"
background node10 probe_types commonjs node10 probe.ts
background node16 probe_types node16 node16 probe.ts
background nodenext probe_types nodenext nodenext probe.ts
background nodenext-esm probe_types nodenext nodenext probe.mts
background bundler probe_types esnext bundler probe.ts
await_background
step "cjs: nest build"
(cd "$compat/cjs" && npm run build)
fresh_database cjs nestjs_tasks_compat_cjs
step "cjs: smoke run on PostgreSQL"
(cd "$compat/cjs" && npm run smoke)
step "cjs: jest suite on PostgreSQL"
(cd "$compat/cjs" && npm run test:e2e)

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
