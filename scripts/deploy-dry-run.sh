#!/usr/bin/env bash
# `wrangler deploy --dry-run`: builds the bundle exactly as a deploy would
# (wrangler.toml's [build], its Durable Object bindings and migrations
# validated), uploads nothing, needs no login. Prints the bundle's size,
# gzipped as Cloudflare counts it, and fails above the free plan's limit.
#   E2E_SKIP_BUILD=1 (or WORKER_BUILD=true) reuses build/ as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
OUT=build/dry-run
rm -rf "$OUT"
if [ "${E2E_SKIP_BUILD:-}" = 1 ]; then export WORKER_BUILD=true; fi
npx wrangler deploy --dry-run --outdir "$OUT" 2>&1 | tee build/dry-run.log
grep -q -- "--dry-run: exiting now" build/dry-run.log || { echo "deploy dry run: wrangler did not finish" >&2; exit 1; }
raw=0; gz=0
while IFS= read -r f; do
  raw=$((raw + $(stat -c %s "$f")))
  gz=$((gz + $(gzip -9 -c "$f" | wc -c)))
done < <(find "$OUT" -type f ! -name '*.map')
limit=$((3 * 1024 * 1024))
echo "deploy dry run: bundle $raw bytes, $gz bytes gzip -9 (Cloudflare's limit: 3 MiB gzipped on the free plan, 10 MiB paid)"
[ "$gz" -le "$limit" ] || { echo "deploy dry run: over the free plan's limit" >&2; exit 1; }
