#!/usr/bin/env bash
# Builds the server and the wasm client in release mode with cargo-leptos (no downloads:
# wasm-opt comes from npm's binaryen in end2end/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo leptos build --release --precompress
