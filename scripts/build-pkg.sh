#!/usr/bin/env bash
# Builds the JS binding (js.md) into www/pkg: switchyard.js, switchyard_bg.wasm, switchyard.d.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

cargo build -p switchyard-preview --target wasm32-unknown-unknown --release
rm -rf www/pkg
"$WASM_BINDGEN_BIN" --target web --out-dir www/pkg --out-name switchyard \
  target/wasm32-unknown-unknown/release/switchyard_preview.wasm
"$WASM_OPT_BIN" -O3 --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  www/pkg/switchyard_bg.wasm -o www/pkg/switchyard_bg.wasm

# Re-export the error class from the binding's own JS snippet, so that
# `import { SwitchyardError } from './pkg/switchyard.js'` works.
snippet=$(cd www/pkg && ls snippets/*/js/error.js | head -n 1)
printf "export { SwitchyardError } from './%s';\n" "$snippet" >> www/pkg/switchyard.js
# The route call without JSON (crates/preview/js/route.js) on the Router class.
cp crates/preview/js/route.js www/pkg/route.js
printf "import { installFastRoute } from './route.js';\ninstallFastRoute(Router, { intern: __intern, reset: __internReset, scratch: __fastScratch, key: __fastKey, memory: __memory });\n" >> www/pkg/switchyard.js
rm -f www/pkg/.gitignore www/pkg/package.json
echo "www/pkg: $(wc -c < www/pkg/switchyard_bg.wasm) bytes wasm; wasm + all JS gzipped: $(cat www/pkg/switchyard_bg.wasm www/pkg/switchyard.js www/pkg/route.js www/pkg/snippets/*/js/*.js | gzip -9 | wc -c) bytes"
