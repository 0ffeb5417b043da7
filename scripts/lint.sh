#!/usr/bin/env bash
# Formatting and clippy for both halves: the server (ssr, native) and the client
# (hydrate, wasm32), all targets, warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --features ssr --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --features hydrate --all-targets -- -D warnings
