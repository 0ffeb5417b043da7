//! The whole server from the outside (`homecall::server::serve` on port 0, real HTTP and
//! WebSocket clients): security headers, operations, per-IP limits.

mod common;

use common::*;

const REFERRER: &str = "no-referrer";
const PERMISSIONS: &str = "camera=(self), microphone=(self), display-capture=()";

fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("ASCII header"))
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = AppServer::start(&[]).await;
    for path in [
        "/healthz",
        "/manifest.webmanifest",
        "/sw.js",
        "/pkg/missing.js",
        "/icons/none.svg",
        "/",
    ] {
        let response = reqwest::get(server.http(path)).await.expect("GET");
        assert_eq!(
            header(&response, "referrer-policy"),
            Some(REFERRER),
            "{path}"
        );
        assert_eq!(
            header(&response, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&response, "permissions-policy"),
            Some(PERMISSIONS),
            "{path}"
        );
        let csp = header(&response, "content-security-policy").expect("a CSP");
        for directive in [
            "default-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.split("; ").any(|d| d == directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        // Plain HTTP on loopback: no HSTS.
        assert_eq!(
            header(&response, "strict-transport-security"),
            None,
            "{path}"
        );
    }
    let assets = reqwest::get(server.http("/healthz")).await.expect("GET");
    let csp = header(&assets, "content-security-policy").expect("a CSP");
    assert!(
        csp.split("; ")
            .any(|d| d == "script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
}

#[tokio::test]
async fn a_page_allows_exactly_its_own_hydration_script_by_nonce() {
    let server = AppServer::start(&[]).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let response = reqwest::get(server.http("/")).await.expect("GET /");
        assert_eq!(response.status(), 200);
        let csp = header(&response, "content-security-policy")
            .expect("a CSP")
            .to_owned();
        let script_src = csp
            .split("; ")
            .find(|d| d.starts_with("script-src "))
            .expect("script-src");
        let nonce = script_src
            .strip_prefix("script-src 'self' 'wasm-unsafe-eval' 'nonce-")
            .and_then(|rest| rest.strip_suffix('\''))
            .unwrap_or_else(|| panic!("no nonce in {script_src}"))
            .to_owned();
        assert!(nonce.len() >= 16, "{nonce}");
        let body = response.text().await.expect("body");
        assert!(
            body.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)),
            "the hydration script does not carry {nonce}:\n{body}"
        );
        // Every inline script carries the nonce.
        let scripts = body.matches("<script").count();
        let with_nonce = body.matches(&format!(r#"nonce="{nonce}""#)).count();
        assert!(scripts >= 1 && scripts <= with_nonce, "{body}");
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is used once");
}

#[tokio::test]
async fn hsts_is_sent_behind_the_tls_proxy() {
    let server = AppServer::start(&["--behind-tls-proxy"]).await;
    for path in ["/healthz", "/"] {
        let response = reqwest::get(server.http(path)).await.expect("GET");
        assert_eq!(
            header(&response, "strict-transport-security"),
            Some("max-age=31536000"),
            "{path}"
        );
    }
}
