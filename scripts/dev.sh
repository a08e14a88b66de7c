#!/usr/bin/env bash
# The main job: set up, build the JS binding and the worker, and serve them
# with `wrangler dev` on 127.0.0.1 (test mode, sandbox processors, no login).
#   PORT=8787 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
. scripts/env.sh
bash scripts/build-pkg.sh
exec npx wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" --show-interactive-dev-session=false
