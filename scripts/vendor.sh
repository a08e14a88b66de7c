#!/bin/sh
# Copies the preview page's browser dependencies from node_modules into
# www/vendor/ (git-ignored), so the page loads them without a bundler or a CDN.
# Run after `npm ci`; the build and the browser tests call it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/node_modules/chart.js/dist/chart.umd.min.js"
if [ ! -f "$src" ]; then
  echo "vendor.sh: $src is missing; run npm ci first" >&2
  exit 1
fi
mkdir -p "$root/www/vendor"
cp "$src" "$root/www/vendor/chart.umd.min.js"
cp "$root/node_modules/chart.js/LICENSE.md" "$root/www/vendor/chart.js.LICENSE.md"
echo "vendored chart.js $(node -p "require('$root/node_modules/chart.js/package.json').version" 2>/dev/null || echo '?') into www/vendor/"
