#!/usr/bin/env bash
# Builds the release server and the release site (the wasm client, its JS glue, the
# stylesheet and public/), the steps cargo-leptos' `build --release --precompress` takes,
# with the tools setup.sh installs and nothing downloaded: cargo for both halves, the
# wasm-bindgen CLI, wasm-opt from npm's binaryen, esbuild (JS) and lightningcss (CSS)
# from npm, and scripts/site.mjs for content-hashed names, hash.txt and .br/.gz copies.
# (Installing cargo-leptos took 12.4 minutes of a fresh machine's setup; these need none.)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
site=target/site
pkg=$site/pkg

echo "build: the wasm client (profile wasm-release)"
cargo build --lib --target wasm32-unknown-unknown --profile wasm-release \
  --no-default-features --features hydrate
rm -rf "$site"
mkdir -p "$pkg"
wasm-bindgen --target web --no-typescript --out-name homecall --out-dir "$pkg" \
  target/wasm32-unknown-unknown/wasm-release/homecall.wasm
# Leptos loads the module as <output-name>.wasm, as cargo-leptos names it.
mv "$pkg/homecall_bg.wasm" "$pkg/homecall.wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$pkg/homecall.wasm" -o "$pkg/homecall.wasm"
esbuild --minify --log-level=warning --allow-overwrite "$pkg/homecall.js" --outfile="$pkg/homecall.js"
# The browsers the stylesheet is lowered for: Cargo.toml's browserquery, as cargo-leptos.
export BROWSERSLIST=$(sed -n 's/^browserquery = "\(.*\)"/\1/p' Cargo.toml)
: "${BROWSERSLIST:?Cargo.toml must give a browserquery}"
lightningcss --minify --browserslist style/main.css -o "$pkg/homecall.css"
cp -r public/. "$site/"

echo "build: the server (release, feature ssr)"
cargo build --release --bin homecall --no-default-features --features ssr
node scripts/site.mjs "$site" target/release/hash.txt
