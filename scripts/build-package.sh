#!/usr/bin/env bash
# Builds the npm package of the JS binding (docs/js.md, "Package"):
# dist/switchyard/ (the folder) and dist/switchyard-routing-<version>.tgz (npm pack).
#   bash scripts/build-package.sh             builds www/pkg first (scripts/build-pkg.sh)
#   bash scripts/build-package.sh --reuse-pkg  packages the www/pkg already built
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

if [ "${1:-}" != --reuse-pkg ]; then bash scripts/build-pkg.sh; fi
node package/build.mjs dist/switchyard
rm -f dist/switchyard-routing-*.tgz
tgz=$(cd dist/switchyard && npm pack --silent --pack-destination .. | tail -n 1)
d=dist/switchyard
echo "dist/$tgz: $(wc -c < "dist/$tgz") bytes"
