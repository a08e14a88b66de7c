#!/usr/bin/env bash
# Every test: set up, lint, then the engine natively, in Node, in headless
# Chromium and Firefox, the preview page in Chromium, and the worker under
# `wrangler dev`. Stops at the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
. scripts/env.sh
stage() { printf '\n=== %s\n' "$*"; }

stage "format"
cargo fmt --all -- --check
stage "clippy (host)"
cargo clippy -q --workspace --all-targets -- -D warnings
stage "clippy (wasm32)"
cargo clippy -q --workspace --lib --target wasm32-unknown-unknown -- -D warnings
cargo clippy -q -p switchyard-preview --tests --target wasm32-unknown-unknown -- -D warnings

stage "native: unit, golden and property tests"
sh tests/cases/embed.sh
cargo test -q --workspace

stage "processor adapters against their peers (localstripe, prism with Adyen's OpenAPI, the fakes)"
node --test --test-concurrency=1 tests/processors/

stage "build www/pkg"
bash scripts/build-pkg.sh

stage "Node: golden cases through www/pkg"
node --test tests/node/

stage "the npm package: packed, installed, used from Node (ESM, CommonJS), TypeScript, an esbuild bundle and a Vite build in Chromium; the examples"
node --test tests/package/

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
stage "headless Chromium: golden cases through the binding (wasm-bindgen-test)"
(cd crates/preview && env -u GECKODRIVER CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown)
stage "headless Firefox: golden cases through the binding (wasm-bindgen-test)"
(cd crates/preview && env -u CHROMEDRIVER GECKODRIVER="$HOME/.cargo/bin/geckodriver" cargo test --target wasm32-unknown-unknown)

stage "the preview page in Chromium (playwright-core)"
node --test tests/browser/

stage "the worker under wrangler dev (stripe SDK end to end)"
bash scripts/e2e.sh

stage "fault injection: 300 payments through wrangler dev to faulty processors, reconciled with their ledgers"
node tests/fault/run.mjs --payments 300 --out tests/artifacts/fault-run.json

stage "wrangler deploy --dry-run: the bundle, its migrations, its size"
E2E_SKIP_BUILD=1 bash scripts/deploy-dry-run.sh

stage "all tests passed"
