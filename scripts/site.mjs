// Finishes the release site that scripts/build.sh has put together in target/site, as
// cargo-leptos' `--release --precompress` did: names homecall.{js,wasm,css} by their
// content (MD5, base64url, as cargo-leptos and Leptos' hash.txt use), writes hash.txt
// beside the server binary (where Leptos and src/server/pwa.rs read it), and writes
// .br and .gz copies of every site file, which the server sends to browsers that take them.
// Node's own crypto and zlib only: nothing to install.
//
// Usage: node scripts/site.mjs <site root> <hash file>
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const [siteRoot, hashFile] = process.argv.slice(2);
if (!siteRoot || !hashFile) {
  console.error("usage: node scripts/site.mjs <site root> <hash file>");
  process.exit(2);
}
const pkg = join(siteRoot, "pkg");

/** The content hash cargo-leptos gives a file: MD5, base64url without padding. */
function contentHash(path) {
  return createHash("md5").update(readFileSync(path)).digest("base64url");
}

const hashes = {};
for (const kind of ["js", "wasm", "css"]) {
  const plain = join(pkg, `homecall.${kind}`);
  hashes[kind] = contentHash(plain);
  renameSync(plain, join(pkg, `homecall.${hashes[kind]}.${kind}`));
}
writeFileSync(hashFile, `js: ${hashes.js}\nwasm: ${hashes.wasm}\ncss: ${hashes.css}\n`);

/** Every file under `dir`, depth first. */
function* filesUnder(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

let plainBytes = 0;
let brotliBytes = 0;
let wasmSizes = "";
for (const path of [...filesUnder(siteRoot)]) {
  if (path.endsWith(".br") || path.endsWith(".gz")) continue;
  const body = readFileSync(path);
  const brotli = brotliCompressSync(body, {
    params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
  });
  writeFileSync(`${path}.br`, brotli);
  writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
  plainBytes += body.length;
  brotliBytes += brotli.length;
  if (path.endsWith(".wasm")) wasmSizes = `${body.length} bytes, ${brotli.length} with brotli`;
}
console.log(
  `site: homecall.${hashes.js}.js, homecall.${hashes.wasm}.wasm, homecall.${hashes.css}.css; ` +
    `${plainBytes} bytes, ${brotliBytes} with brotli; hashes in ${hashFile}`,
);
// The wasm is most of a first visit: its size, and where to see what weighs in it.
console.log(`site: the wasm client is ${wasmSizes} (what weighs: scripts/wasm-size.sh)`);
