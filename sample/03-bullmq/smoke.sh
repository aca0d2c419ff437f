#!/usr/bin/env bash
# Smoke test of sample/03-bullmq: builds it (the library must be built:
# `npm run build`), starts the web process, signs up (the welcome mail
# enqueued as a BullMQ job), runs a worker with `tasks:work --batch`, reads
# the task's result through the web process and shows `tasks:status`.
# Needs Redis (REDIS_HOST / REDIS_PORT, default 127.0.0.1:6379).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
npx tsc -p tsconfig.json

port="${SAMPLE_PORT:-39520}"
base="http://127.0.0.1:${port}"
web_pid=""
cleanup() {
  if [ -n "$web_pid" ]; then
    kill "$web_pid" 2>/dev/null || true
    wait "$web_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

fail() {
  echo "ERROR: $*" >&2
  exit 1
}

PORT="$port" node dist/main.js &
web_pid=$!

# json EXPRESSION JSON: prints EXPRESSION evaluated on the parsed JSON as `r`.
json() {
  node -e 'const r = JSON.parse(process.argv[2]); console.log(eval(process.argv[1]))' "$1" "$2"
}

waited=0
until status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d '{}' "${base}/signups" 2>/dev/null)"; do
  kill -0 "$web_pid" 2>/dev/null || fail "the web process exited before listening"
  [ "$waited" -lt 300 ] || fail "the web process did not answer on ${base} within 30 s"
  sleep 0.1
  waited=$((waited + 1))
done
echo "POST /signups (no email) -> HTTP ${status}"
[ "$status" = "400" ] || fail "a signup without email was not refused"

created="$(curl -fsS -X POST -H 'content-type: application/json' -d '{"email":"ada@example.com"}' "${base}/signups")"
echo "POST /signups -> ${created}"
task_id="$(json r.taskId "$created")"
[ "$(json r.status "$created")" = "READY" ] || fail "the welcome task is not READY"

before="$(curl -fsS "${base}/signups/${task_id}")"
echo "GET /signups/${task_id} -> ${before}"
[ "$(json r.status "$before")" = "READY" ] || fail "the welcome task ran before a worker started"

node dist/tasks.js tasks:work --batch
node dist/tasks.js tasks:status

after="$(curl -fsS "${base}/signups/${task_id}")"
echo "GET /signups/${task_id} -> ${after}"
[ "$(json r.status "$after")" = "SUCCESSFUL" ] || fail "the welcome task did not succeed"
[ "$(json r.returnValue.sentTo "$after")" = "ada@example.com" ] || fail "the welcome task's return value is not stored"

echo "sample/03-bullmq smoke test: OK"
