#!/usr/bin/env bash
# Installs what the project needs on a fresh machine of this kind, skipping
# whatever is already there at the right version. Idempotent.
#   scripts/setup.sh run    build tools and npm packages (enough for scripts/dev.sh)
#   scripts/setup.sh test   the same, plus the browsers and drivers the tests use
# No step downloads a prebuilt binary: Rust tools build from crates.io, browsers
# come from Debian, node tools from npm.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-test}"
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages (browsers only for tests; curl for the e2e scripts) ----
apt_pkgs=(curl)
if [ "$mode" = test ]; then apt_pkgs+=(chromium chromium-driver firefox-esr); fi
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Rust --------------------------------------------------------------------
command -v cargo >/dev/null || { say "cargo is missing: this machine kind ships Rust via rustup"; exit 1; }
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

lock_version() { # the version of crate $1 in Cargo.lock
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}
wbg=$(lock_version wasm-bindgen)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $NF}')" != "$wbg" ]; then
  say "cargo install wasm-bindgen-cli $wbg (a few minutes)"
  # Without --locked: with it the install fails on this toolchain.
  cargo install -q wasm-bindgen-cli --version "$wbg" --force
fi
wb=$(lock_version worker)
if [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$wb" ]; then
  say "cargo install worker-build $wb (a few minutes)"
  cargo install -q worker-build --version "$wb" --locked --force
fi
if [ "$mode" = test ] && ! command -v geckodriver >/dev/null; then
  say "cargo install geckodriver (npm's downloads a binary, which fails here)"
  cargo install -q geckodriver --locked
fi

# --- npm -----------------------------------------------------------------------
stamp=node_modules/.switchyard-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
sh scripts/vendor.sh >/dev/null

# --- Python: Stripe's official Python SDK, and localstripe (a stateful Stripe
# fake written by others: the Stripe adapter's peer in the tests) ------------
if [ "$mode" = test ]; then
  py_stripe=16.1.0
  py_localstripe=1.15.10
  if [ "$(.venv/bin/python -c 'import stripe; print(stripe.VERSION)' 2>/dev/null)" != "$py_stripe" ] ||
     [ "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("localstripe"))' 2>/dev/null)" != "$py_localstripe" ]; then
    say "python3 -m venv .venv; pip install stripe==$py_stripe localstripe==$py_localstripe"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "stripe==$py_stripe" "localstripe==$py_localstripe"
  fi
fi
say "ready ($mode)"
