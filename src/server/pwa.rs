//! The PWA files: `/manifest.webmanifest`, `/sw.js` (with this build's id and precache
//! list filled in, so each release gets its own cache) and `/offline`, the page the service
//! worker shows when a page cannot be fetched; and `POST /share`, the share target, which
//! the service worker answers (a photo shared to HomeCall never reaches the server). Owns reading the built assets once at start;
//! must not cache anything itself (the service worker does).

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use sha1::{Digest, Sha1};

/// The web app manifest, kept at the top level of the repository.
const MANIFEST: &str = include_str!("../../manifest.webmanifest");
/// The service worker, kept at the top level of the repository.
const SERVICE_WORKER: &str = include_str!("../../sw.js");
/// What the service worker keeps for offline use besides the build's assets.
const SHELL: [&str; 5] = [
    "/offline",
    "/manifest.webmanifest",
    "/icons/icon.svg",
    "/icons/icon-192.png",
    "/icons/apple-touch-icon.png",
];

/// The PWA files of one build, prepared at start.
pub struct PwaFiles {
    pub build: String,
    service_worker: String,
    offline: String,
}

/// The file names the release build's `hash.txt` gives its assets (scripts/site.mjs)
/// (lines like `wasm: 1a2b3c`), e.g. `homecall.1a2b3c.wasm`.
pub fn hashed_names(hash_file: &str) -> Vec<String> {
    hash_file
        .lines()
        .filter_map(|line| {
            let (kind, hash) = line.trim().split_once(':')?;
            let kind = kind.trim();
            ["js", "wasm", "css"]
                .contains(&kind)
                .then(|| format!("homecall.{}.{kind}", hash.trim()))
        })
        .collect()
}

/// `hash.txt` beside the running binary, where scripts/build.sh writes it and Leptos reads it.
pub fn hash_file_beside_binary() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    std::fs::read_to_string(exe.parent()?.join("hash.txt")).ok()
}

impl PwaFiles {
    /// Reads the built assets under `site_root/pkg` (only this build's, when `hash_file`
    /// names them) to name the build (unless `build` is given) and list what the service
    /// worker precaches.
    pub fn load(site_root: &Path, build: Option<&str>, hash_file: Option<&str>) -> PwaFiles {
        let current = hash_file
            .map(hashed_names)
            .filter(|names| !names.is_empty());
        let mut assets: Vec<(String, Vec<u8>)> = std::fs::read_dir(site_root.join("pkg"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let wanted = match &current {
                    Some(names) => names.contains(&name),
                    None => {
                        [".js", ".wasm", ".css"]
                            .iter()
                            .any(|ext| name.ends_with(ext))
                            && !name.ends_with(".d.ts")
                    }
                };
                wanted.then(|| Some((format!("/pkg/{name}"), std::fs::read(entry.path()).ok()?)))?
            })
            .collect();
        assets.sort();
        let build = build
            .map(str::to_owned)
            .unwrap_or_else(|| build_id(&assets));
        let precache: Vec<&str> = SHELL
            .iter()
            .copied()
            .chain(assets.iter().map(|(path, _)| path.as_str()))
            .collect();
        let service_worker = SERVICE_WORKER
            .replace("__HOMECALL_BUILD__", &build)
            .replace(
                "__HOMECALL_PRECACHE__",
                &serde_json::to_string(&precache).expect("strings serialise"),
            );
        let stylesheet = assets
            .iter()
            .map(|(path, _)| path.as_str())
            .find(|path| path.ends_with(".css"))
            .unwrap_or("/pkg/homecall.css");
        PwaFiles {
            build,
            service_worker,
            offline: OFFLINE_PAGE.replace("__HOMECALL_CSS__", stylesheet),
        }
    }
}

/// A short id of the build: the first 12 hex digits of a hash of its assets.
fn build_id(assets: &[(String, Vec<u8>)]) -> String {
    let mut hash = Sha1::new();
    for (path, bytes) in assets {
        hash.update(path.as_bytes());
        hash.update(bytes);
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn manifest() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/manifest+json"),
        )],
        MANIFEST,
    )
}

pub async fn service_worker(State(files): State<Arc<PwaFiles>>) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                HeaderValue::from_static("/"),
            ),
        ],
        files.service_worker.clone(),
    )
}

/// `POST /share` that reached the server: the installed app's service worker keeps a
/// shared photo on the device and answers this itself, so here it is not running (the
/// body is never read). The page says the photo did not come, to share it again.
pub async fn share_without_worker() -> axum::response::Redirect {
    axum::response::Redirect::to("/?shared=lost")
}

/// The page for no network, in both languages (it is shown before any choice can be made).
pub async fn offline(State(files): State<Arc<PwaFiles>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        files.offline.clone(),
    )
}

const OFFLINE_PAGE: &str = r##"<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#0f172a">
<title>HomeCall — нет соединения</title>
<link rel="stylesheet" href="__HOMECALL_CSS__"></head>
<body><main class="screen"><section class="home">
<img class="logo" src="/icons/icon.svg" alt="" width="96" height="96">
<h1>Нет соединения с интернетом</h1>
<p class="tagline">Проверьте Wi-Fi или мобильную сеть и попробуйте снова.</p>
<p class="tagline" lang="en">No internet connection. Check Wi-Fi or mobile data and try again.</p>
<a class="button primary big" href="/">Повторить</a>
</section></main></body></html>"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_file_lines_name_the_hashed_assets() {
        assert_eq!(
            hashed_names("js: 11aa\nwasm: 22bb\ncss: 33cc\n\nother: x"),
            vec![
                "homecall.11aa.js",
                "homecall.22bb.wasm",
                "homecall.33cc.css"
            ]
        );
    }

    #[test]
    fn the_service_worker_names_its_build_and_lists_the_assets() {
        let root = std::env::temp_dir().join(format!("homecall-pwa-{}", std::process::id()));
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/homecall.js"), "js-1").unwrap();
        std::fs::write(root.join("pkg/homecall.wasm"), "wasm-1").unwrap();
        std::fs::write(root.join("pkg/homecall.d.ts"), "types").unwrap();
        let first = PwaFiles::load(&root, None, None);
        assert!(
            first
                .service_worker
                .contains(&format!("const BUILD = \"{}\"", first.build))
        );
        assert!(first.service_worker.contains("\"/pkg/homecall.wasm\""));
        assert!(first.service_worker.contains("\"/offline\""));
        assert!(!first.service_worker.contains("homecall.d.ts"));
        assert!(!first.service_worker.contains("__HOMECALL_"));

        std::fs::write(root.join("pkg/homecall.wasm"), "wasm-2").unwrap();
        let second = PwaFiles::load(&root, None, None);
        assert_ne!(first.build, second.build, "new assets, new build id");
        assert_eq!(PwaFiles::load(&root, Some("v9"), None).build, "v9");

        // With file hashing only this build's files are precached, and the offline page
        // links this build's stylesheet.
        std::fs::write(root.join("pkg/homecall.aa11.wasm"), "new").unwrap();
        std::fs::write(root.join("pkg/homecall.aa11.css"), "new").unwrap();
        std::fs::write(root.join("pkg/homecall.0ld.wasm"), "old").unwrap();
        let hashed = PwaFiles::load(&root, None, Some("wasm: aa11\ncss: aa11\n"));
        assert!(
            hashed
                .service_worker
                .contains("\"/pkg/homecall.aa11.wasm\"")
        );
        assert!(!hashed.service_worker.contains("homecall.0ld.wasm"));
        assert!(!hashed.service_worker.contains("\"/pkg/homecall.wasm\""));
        assert!(hashed.offline.contains("href=\"/pkg/homecall.aa11.css\""));
        std::fs::remove_dir_all(root).unwrap();
    }
}
