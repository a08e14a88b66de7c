#!/usr/bin/env bash
# End-to-end tests of the edge worker against `wrangler dev` (workerd, local).
#
# Builds the worker once (worker-build --release, local wasm-bindgen, wasm-opt
# and esbuild: nothing is downloaded), starts `wrangler dev` on 127.0.0.1 on a
# free port with a fresh state directory, runs tests/e2e/*.test.mjs with
# Node's test runner (the official `stripe` SDK drives the worker) through
# tests/e2e/record-proxy.mjs, a transparent proxy that records every response
# (never a request body) in tests/artifacts/e2e/responses.jsonl, stops
# wrangler and the proxy, validates the recorded objects and errors against
# Stripe's OpenAPI description (98-stripe-conformance.test.mjs), then scans
# the state directory and the logs (the recording too) for card data.
#
# Needs: cargo + wasm32-unknown-unknown, worker-build 0.8.7 and wasm-bindgen
# 0.2.130 in PATH or ~/.cargo/bin, node >= 20, `npm ci` done, and .venv with
# Stripe's Python SDK (all from scripts/setup.sh test).
# Env: E2E_SKIP_BUILD=1 reuses build/; E2E_KEEP=1 keeps the state directory.
# Arguments: test files to run instead of the whole suite (for example
# `E2E_SKIP_BUILD=1 bash scripts/e2e.sh tests/e2e/15-auth-rate.test.mjs`):
# only those run, then the card data scan; the Python SDK and the
# conformance check (which needs the whole run's responses) are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Local tools (wasm-bindgen, wasm-opt, esbuild) and wrangler's settings.
. scripts/env.sh

if [ "${E2E_SKIP_BUILD:-}" != 1 ]; then
  echo "e2e: building the worker" >&2
  worker-build --release
fi
[ -f build/worker/shim.mjs ] || { echo "e2e: build/worker/shim.mjs missing" >&2; exit 1; }

ART="$ROOT/tests/artifacts/e2e"
mkdir -p "$ART"
STATE="$(mktemp -d "${TMPDIR:-/tmp}/switchyard-e2e-state.XXXXXX")"
LOG="$ART/wrangler.log"
: > "$LOG"
# wrangler's own debug logs of this run (every wrangler started below,
# including the restart test's): kept with the artifacts, so that the card
# data scan reads them too.
export WRANGLER_LOG_PATH="$ART/wrangler-debug"
rm -rf "$WRANGLER_LOG_PATH"
mkdir -p "$WRANGLER_LOG_PATH"

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
PORT="${E2E_PORT:-$(free_port)}"

# The processors of the test run: the three default sandboxes plus one down
# one that times out after accepting, a slow one and one whose answers are
# always lost (reconciliation), to exercise routing; and a pair only
# 15-auth-rate routes to (by authorization rate), so that no other test's
# attempts count in their rates.
E2E_PROCESSORS='[{"id":"sandbox_a","type":"sandbox","latency_ms":5},{"id":"sandbox_b","type":"sandbox","latency_ms":5},{"id":"sandbox_c","type":"sandbox","latency_ms":5},{"id":"sandbox_down","type":"sandbox","failure":"outage"},{"id":"sandbox_timeout","type":"sandbox","failure":"timeout_after_accept","timeout_ms":1000},{"id":"sandbox_slow","type":"sandbox","failure":"slow","slow_ms":400},{"id":"sandbox_lost","type":"sandbox","failure":"lost_answers","timeout_ms":500},{"id":"sandbox_rate_a","type":"sandbox","latency_ms":5},{"id":"sandbox_rate_b","type":"sandbox","latency_ms":5}]'

# Live mode, to check that test and live stay apart (sandbox processors
# under their own ids; a real deployment configures real ones).
E2E_LIVE_KEY="sk_live_switchyard_e2e_$(date +%s)"
# Configured keys replace the documented defaults.
E2E_SECRET_KEY="sk_test_switchyard_e2e_$(date +%s)"
E2E_PUBLISHABLE_KEY="pk_test_switchyard_e2e_$(date +%s)"
E2E_LIVE_PROCESSORS='[{"id":"sandbox_a","type":"sandbox","latency_ms":5},{"id":"sandbox_b","type":"sandbox","latency_ms":5}]'

WPID=""
PROXY_PID=""
stop_proxy() {
  if [ -n "$PROXY_PID" ] && kill -0 "$PROXY_PID" 2>/dev/null; then
    kill -TERM "$PROXY_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PROXY_PID" 2>/dev/null || true
  fi
  PROXY_PID=""
}
stop_wrangler() {
  stop_proxy
  if [ -n "$WPID" ] && kill -0 "$WPID" 2>/dev/null; then
    # wrangler was started with setsid: stop its whole process group.
    kill -TERM -- "-$WPID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$WPID" 2>/dev/null || true
  fi
  WPID=""
}
cleanup() {
  stop_wrangler
  if [ "${E2E_KEEP:-}" = 1 ]; then echo "e2e: state kept in $STATE" >&2; else rm -rf "$STATE"; fi
}
trap cleanup EXIT INT TERM

# WORKER_BUILD=true: wrangler's [build] command becomes a no-op (built above).
# Metrics roll up every second, and auth_rate's rates cover the last minute
# (the least allowed), refreshed every second: 15-auth-rate sees a
# processor's decline spike, and its recovery, within minutes.
WORKER_BUILD=true setsid npx wrangler dev --ip 127.0.0.1 --port "$PORT" \
  --persist-to "$STATE" --show-interactive-dev-session=false \
  --var "SWITCHYARD_TEST_PROCESSORS:$E2E_PROCESSORS" \
  --var "SWITCHYARD_LIVE_SECRET_KEY:$E2E_LIVE_KEY" \
  --var "SWITCHYARD_TEST_SECRET_KEY:$E2E_SECRET_KEY" \
  --var "SWITCHYARD_TEST_PUBLISHABLE_KEY:$E2E_PUBLISHABLE_KEY" \
  --var "SWITCHYARD_LIVE_PROCESSORS:$E2E_LIVE_PROCESSORS" \
  --var "SWITCHYARD_METRICS_ROLLUP_SECONDS:1" \
  --var "SWITCHYARD_RATES_WINDOW_SECONDS:60" \
  --var "SWITCHYARD_RATES_REFRESH_SECONDS:1" \
  >>"$LOG" 2>&1 &
WPID=$!

BASE="http://127.0.0.1:$PORT"
for i in $(seq 1 120); do
  if curl -s -o /dev/null "$BASE/v1/" 2>/dev/null; then break; fi
  if ! kill -0 "$WPID" 2>/dev/null; then echo "e2e: wrangler exited" >&2; tail -40 "$LOG" >&2; exit 1; fi
  sleep 0.5
  [ "$i" = 120 ] && { echo "e2e: wrangler did not start" >&2; tail -40 "$LOG" >&2; exit 1; }
done
echo "e2e: wrangler dev on $BASE (state $STATE)" >&2

# The tests talk to the worker through a transparent proxy that records
# every response (method, path, query, status, JSON body; never a request
# body) for 98-stripe-conformance.test.mjs. E2E_WORKER_URL is the worker
# itself.
RESPONSES="$ART/responses.jsonl"
: > "$RESPONSES"
PROXY_OUT="$ART/record-proxy.out"
: > "$PROXY_OUT"
node tests/e2e/record-proxy.mjs --target "$BASE" --out "$RESPONSES" >"$PROXY_OUT" 2>>"$LOG" &
PROXY_PID=$!
PROXY_PORT=""
for _ in $(seq 1 100); do
  PROXY_PORT="$(head -n 1 "$PROXY_OUT" 2>/dev/null || true)"
  [ -n "$PROXY_PORT" ] && break
  kill -0 "$PROXY_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$PROXY_PORT" ] || { echo "e2e: record-proxy.mjs did not start" >&2; tail -20 "$LOG" >&2; exit 1; }
PROXY="http://127.0.0.1:$PROXY_PORT"
echo "e2e: recording proxy on $PROXY -> $BASE ($RESPONSES)" >&2

export E2E_BASE_URL="$PROXY" E2E_WORKER_URL="$BASE" E2E_STATE_DIR="$STATE" E2E_LOG="$LOG" E2E_ARTIFACTS="$ART"
export E2E_PROCESSORS E2E_LIVE_KEY E2E_LIVE_PROCESSORS E2E_SECRET_KEY E2E_PUBLISHABLE_KEY
status=0
if [ "$#" -gt 0 ]; then
  node --test --test-concurrency=1 "$@" || status=$?
  stop_wrangler
else
  node --test --test-concurrency=1 tests/e2e/[0-8][0-9]-*.test.mjs tests/e2e/golden.test.mjs || status=$?
  # The same API through Stripe's official Python SDK (scripts/setup.sh test
  # installs it in .venv).
  if [ -x .venv/bin/python ]; then
    .venv/bin/python tests/e2e/sdk_python.py || status=$?
  else
    echo "e2e: .venv/bin/python missing (scripts/setup.sh test installs it)" >&2
    status=1
  fi
  stop_wrangler
  # Every object and error recorded above, against Stripe's own OpenAPI
  # description (tests/stripe-openapi/).
  node --test tests/e2e/98-stripe-conformance.test.mjs || status=$?
fi
# Last: scan everything the run left on disk (state, logs, the recorded
# responses) for card data.
node --test tests/e2e/99-card-data-scan.test.mjs || status=$?
exit $status
