#!/usr/bin/env bash
# Smoke test of sample/02-postgres-worker: builds it (the library must be
# built: `npm run build`), starts the web process, creates an order (its
# shipping task enqueued in the order's transaction), runs the worker with
# `tasks:work --batch`, checks the order and its task through the web
# process, shows `tasks:status`, hits the health endpoint, stops everything.
# Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
npx tsc -p tsconfig.json

port="${SAMPLE_PORT:-39518}"
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

waited=0
until curl -fsS -o /dev/null "${base}/health" 2>/dev/null; do
  kill -0 "$web_pid" 2>/dev/null || fail "the web process exited before listening"
  [ "$waited" -lt 300 ] || fail "the web process did not answer on ${base} within 30 s"
  sleep 0.1
  waited=$((waited + 1))
done

# json EXPRESSION JSON: prints EXPRESSION evaluated on the parsed JSON as `r`.
json() {
  node -e 'const r = JSON.parse(process.argv[2]); console.log(eval(process.argv[1]))' "$1" "$2"
}

status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d '{"item":""}' "${base}/orders")"
echo "POST /orders (no item) -> HTTP ${status}"
[ "$status" = "400" ] || fail "an order without item was not refused"

created="$(curl -fsS -X POST -H 'content-type: application/json' -d '{"item":"book"}' "${base}/orders")"
echo "POST /orders -> ${created}"
order_id="$(json r.orderId "$created")"
[ "$(json r.status "$created")" = "READY" ] || fail "the shipping task is not READY"
# The refused order took the id before this one; its transaction rolled back.
status="$(curl -sS -o /dev/null -w '%{http_code}' "${base}/orders/$((order_id - 1))")"
echo "GET /orders/$((order_id - 1)) (the refused order) -> HTTP ${status}"
[ "$status" = "404" ] || fail "the refused order was saved"

before="$(curl -fsS "${base}/orders/${order_id}")"
echo "GET /orders/${order_id} -> ${before}"
[ "$(json r.order.status "$before")" = "PENDING" ] || fail "the order was shipped before a worker ran"

node dist/tasks.js tasks:work --batch
node dist/tasks.js tasks:status

after="$(curl -fsS "${base}/orders/${order_id}")"
echo "GET /orders/${order_id} -> ${after}"
[ "$(json r.order.status "$after")" = "SHIPPED" ] || fail "the order was not shipped"
[ "$(json r.task.status "$after")" = "SUCCESSFUL" ] || fail "the shipping task did not succeed"

health="$(curl -fsS "${base}/health")"
echo "GET /health -> ${health}"
[ "$(json r.status "$health")" = "ok" ] || fail "the health check is not ok"

echo "sample/02-postgres-worker smoke test: OK"
