#!/usr/bin/env bash
# Smoke test of sample/04-dashboard: builds it (the library must be built:
# `npm run build`), starts the app (its worker runs inside), checks that the
# dashboard asks for the password, enqueues the demo tasks, and reads on the
# dashboard the failed one's traceback, the overview's counts and the
# periodic task; stops the app and drops the task tables it created.
# Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
npx tsc -p tsconfig.json

port="${SAMPLE_PORT:-39521}"
base="http://127.0.0.1:${port}"
export TASKS_TABLE="dashboard_smoke_$$"
export DASHBOARD_PASSWORD="smoke-secret"
auth="admin:${DASHBOARD_PASSWORD}"
web_pid=""
cleanup() {
  if [ -n "$web_pid" ]; then
    kill "$web_pid" 2>/dev/null || true
    wait "$web_pid" 2>/dev/null || true
  fi
  node -e '
    const { DataSource } = require("typeorm");
    const db = new DataSource({ type: "postgres", url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test" });
    db.initialize()
      .then(async () => {
        const tables = await db.query("SELECT tablename FROM pg_tables WHERE tablename LIKE $1", [process.env.TASKS_TABLE + "%"]);
        for (const { tablename } of tables) await db.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
        await db.destroy();
      })
      .catch((error) => console.error("could not drop the smoke test tables:", error.message));
  ' || true
}
trap cleanup EXIT

fail() {
  echo "ERROR: $*" >&2
  exit 1
}

PORT="$port" node dist/main.js &
web_pid=$!

waited=0
until status="$(curl -sS -o /dev/null -w '%{http_code}' "${base}/tasks" 2>/dev/null)"; do
  kill -0 "$web_pid" 2>/dev/null || fail "the app exited before listening"
  [ "$waited" -lt 300 ] || fail "the app did not answer on ${base} within 30 s"
  sleep 0.1
  waited=$((waited + 1))
done
echo "GET /tasks without the password -> HTTP ${status}"
[ "$status" = "401" ] || fail "the dashboard did not ask for the password"

# json EXPRESSION JSON: prints EXPRESSION evaluated on the parsed JSON as `r`.
json() {
  node -e 'const r = JSON.parse(process.argv[2]); console.log(eval(process.argv[1]))' "$1" "$2"
}

created="$(curl -fsS -X POST "${base}/demo")"
echo "POST /demo -> ${created}"
failing="$(json r.failing "$created")"

waited=0
until curl -fsS -u "$auth" "${base}/tasks/results?status=FAILED" | grep -q "$failing"; do
  [ "$waited" -lt 300 ] || fail "the failing task is not listed FAILED within 30 s"
  sleep 0.1
  waited=$((waited + 1))
done
echo "GET /tasks/results?status=FAILED lists ${failing}"

curl -fsS -u "$auth" "${base}/tasks/results/${failing}" | grep -q 'line 3 has 4 columns' \
  || fail "the failed task's page shows no traceback"
echo "GET /tasks/results/${failing} shows its error"

overview="$(curl -fsS -u "$auth" "${base}/tasks")"
grep -q 'data-queue="emails"' <<<"$overview" || fail "the overview shows no counts of the emails queue"
grep -q 'DemoTasks.cleanUp' <<<"$overview" || fail "the overview shows no periodic task"
echo "GET /tasks shows the queues' counts and the periodic task"

echo "sample/04-dashboard smoke test: OK"
