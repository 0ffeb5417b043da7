#!/usr/bin/env bash
# What the wasm client weighs, and what in it weighs: builds it as scripts/build.sh does
# (profile wasm-release, wasm-bindgen, wasm-opt -Oz), into target/size/ (the site in
# target/site is left alone), prints its size raw and after brotli (quality 11, as the
# server's .br copies), and writes twiggy's reports beside it: the heaviest functions
# (top.txt) and what keeps them (dominators.txt). twiggy: `cargo install twiggy`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
out=target/size
rm -rf "$out"
mkdir -p "$out"

cargo build --lib --target wasm32-unknown-unknown --profile wasm-release \
  --no-default-features --features hydrate
wasm-bindgen --target web --no-typescript --out-name homecall --out-dir "$out" \
  target/wasm32-unknown-unknown/wasm-release/homecall.wasm
opt=(-Oz --enable-bulk-memory --enable-nontrapping-float-to-int)
# The shipped wasm, and the same with its names kept (-g) for twiggy to read.
wasm-opt "${opt[@]}" "$out/homecall_bg.wasm" -o "$out/homecall.wasm"
wasm-opt "${opt[@]}" -g "$out/homecall_bg.wasm" -o "$out/named.wasm"

node -e '
  const { readFileSync } = require("fs");
  const { brotliCompressSync, constants } = require("zlib");
  const body = readFileSync(process.argv[1]);
  const br = brotliCompressSync(body, { params: {
    [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
    [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
  console.log(`wasm: ${body.length} bytes, ${br.length} with brotli`);
' "$out/homecall.wasm" | tee "$out/size.txt"

if command -v twiggy >/dev/null; then
  twiggy top -n 60 "$out/named.wasm" > "$out/top.txt"
  twiggy dominators -d 3 -r 80 "$out/named.wasm" > "$out/dominators.txt"
  echo "twiggy: $out/top.txt, $out/dominators.txt"
else
  echo "twiggy is not installed (cargo install twiggy): no breakdown" >&2
fi
