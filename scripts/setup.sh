#!/usr/bin/env bash
# Installs what building, running and testing HomeCall needs on a fresh machine of this
# kind (Debian + rustup, package registries only). Each step skips what is already there
# at the right version, so a warm machine passes through in seconds. Downloads (Debian
# packages, npm) run beside the Rust builds, which need the cores.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p; s/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml | head -n1)
: "${WASM_BINDGEN_VERSION:?Cargo.toml must pin wasm-bindgen exactly}"
WITH_BROWSER=${WITH_BROWSER:-1}

step() { printf '\n== setup: %s\n' "$*"; }
# How long each install took, for the summary at the end of scripts/test.sh.
mkdir -p target
times_log="$PWD/target/setup-times.log"
: > "$times_log"
timed() {
  local what=$1 began status=0
  shift
  began=$(date +%s)
  "$@" || status=$?
  printf '%4ds   setup: %s\n' $(($(date +%s) - began)) "$what" >> "$times_log"
  return "$status"
}

export PATH="$HOME/.cargo/bin:$PATH"

# Debian packages and npm: network and disk, not CPU, so they run in the background.
downloads() {
  if [ "$WITH_BROWSER" = 1 ]; then
    missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v firefox-esr >/dev/null || missing+=(firefox-esr)
    command -v ip >/dev/null || missing+=(iproute2)
    command -v unshare >/dev/null || missing+=(util-linux)
    command -v turnserver >/dev/null || missing+=(coturn)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v iptables >/dev/null || missing+=(iptables)
    command -v openssl >/dev/null || missing+=(openssl)
    if [ ${#missing[@]} -gt 0 ]; then
      step "Debian packages: ${missing[*]}"
      timed "apt-get update" apt-get update -qq
      DEBIAN_FRONTEND=noninteractive timed "Debian packages" apt-get install -y -qq "${missing[@]}"
    fi
  fi
  if [ ! -f end2end/node_modules/.bin/wasm-opt ] || [ ! -f end2end/node_modules/.bin/esbuild ] \
    || [ ! -f end2end/node_modules/.bin/lightningcss ] || [ ! -d end2end/node_modules/@playwright/test ] \
    || [ ! -d end2end/node_modules/puppeteer-core ] || [ ! -d end2end/node_modules/lighthouse ] \
    || [ ! -d end2end/node_modules/@axe-core/playwright ]; then
    step "npm packages (the release build's wasm-opt, esbuild and lightningcss; Playwright, Puppeteer for Firefox; Lighthouse and axe-core for the audits)"
    # puppeteer-core downloads no browser; the variable makes sure nothing tries.
    (cd end2end && PUPPETEER_SKIP_DOWNLOAD=1 timed "npm packages" npm ci --no-audit --no-fund)
  fi
}
downloads > target/setup-downloads.log 2>&1 &
downloads_pid=$!

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rust target wasm32-unknown-unknown"
  timed "rust target" rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile wants a crate version the registry does not serve.
  timed wasm-bindgen-cli cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! timed "waiting for Debian and npm packages" wait "$downloads_pid"; then
  cat target/setup-downloads.log
  echo "setup: installing Debian or npm packages failed (log above)" >&2
  exit 1
fi
cat target/setup-downloads.log
step "done"
