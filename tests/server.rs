//! The whole server from the outside (`homecall::server::serve` on port 0, real HTTP and
//! WebSocket clients): security headers, operations, per-IP limits.

mod common;

use common::*;
use tokio_tungstenite::tungstenite::http::StatusCode;

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
async fn the_one_page_is_at_the_root_and_any_other_address_is_not_found() {
    let server = AppServer::start(&[]).await;
    let page = |path: &'static str, lang: &'static str| {
        let url = server.http(path);
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("accept-language", lang)
                .send()
                .await
                .expect("GET");
            let status = response.status();
            (status, response.text().await.expect("body"))
        }
    };
    let (status, home) = page("/", "ru").await;
    assert_eq!(status, 200);
    assert!(home.contains("Позвонить"), "{home}");
    let (status, call) = page("/?session=123e4567-e89b-42d3-a456-426614174000", "ru").await;
    assert_eq!(status, 200);
    assert!(call.contains(r#"data-screen="call""#), "{call}");
    let (status, bad) = page("/?session=nonsense", "en").await;
    assert_eq!(status, 200);
    assert!(bad.contains("Invalid call link"), "{bad}");
    for path in ["/nope", "/call/123e4567-e89b-42d3-a456-426614174000"] {
        let (status, missing) = page(path, "en").await;
        assert_eq!(status, 404, "{path}");
        assert!(missing.contains("Page not found"), "{path}: {missing}");
        assert!(!missing.contains("data-screen"), "{path}: {missing}");
    }
}

#[tokio::test]
async fn a_share_that_reaches_the_server_is_never_read_and_sends_the_page_to_say_so() {
    // The manifest's share target posts the field the service worker reads.
    let manifest: serde_json::Value =
        serde_json::from_str(include_str!("../manifest.webmanifest")).expect("manifest JSON");
    let target = &manifest["share_target"];
    assert_eq!(target["action"], "/share");
    assert_eq!(target["method"], "POST");
    let field = target["params"]["files"][0]["name"]
        .as_str()
        .expect("a file field");
    assert!(
        include_str!("../sw.js").contains(&format!("getAll(\"{field}\")")),
        "sw.js reads the field {field}"
    );

    let server = AppServer::start(&[]).await;
    let body = format!(
        "--b\r\ncontent-disposition: form-data; name=\"{field}\"; filename=\"a.png\"\r\n\
         content-type: image/png\r\n\r\n{}\r\n--b--\r\n",
        "x".repeat(100_000)
    );
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(server.http("/share"))
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body)
        .send()
        .await
        .expect("POST /share");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/?shared=lost");
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

/// A valid candidate from `from`, numbered.
fn candidate(from: &str, n: usize) -> String {
    format!(
        r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{from}","candidate":{{"candidate":"candidate:{n} 1 udp 1 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}}}"#
    )
}

/// `GET /metrics` until every line in `want` is there (the server counts asynchronously).
async fn metrics_with(server: &AppServer, want: &[String]) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = reqwest::get(server.http("/metrics")).await.expect("GET");
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = response.text().await.expect("body");
        if want.iter().all(|line| text.lines().any(|l| l == line)) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing some of {want:#?} in\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn lines(list: &[&str]) -> Vec<String> {
    list.iter().map(|line| (*line).to_owned()).collect()
}

#[tokio::test]
async fn metrics_count_sessions_sockets_messages_rejections_and_queue_bytes() {
    let server = AppServer::start(&[]).await;
    metrics_with(
        &server,
        &lines(&[
            "# TYPE homecall_sessions_active gauge",
            "homecall_sessions_active 0",
            "homecall_sockets_connected 0",
            "# TYPE homecall_messages_delivered_total counter",
        ]),
    )
    .await;

    let mut alice = server.connect(SESSION, ALICE).await;
    alice.send(&candidate(ALICE, 1)).await;
    alice.send(&candidate(ALICE, 2)).await;
    metrics_with(&server, &lines(&["homecall_messages_queued_total 2"])).await;
    let mut bob = server.connect(SESSION, BOB).await;
    assert_eq!(bob.recv().await, candidate(ALICE, 1));
    assert_eq!(bob.recv().await, candidate(ALICE, 2));
    bob.send(&candidate(BOB, 3)).await;
    assert_eq!(alice.recv().await, candidate(BOB, 3));
    alice.send(r#"{"type":"offer"}"#).await;
    alice.recv().await;
    metrics_with(
        &server,
        &lines(&[
            "homecall_sessions_active 1",
            "homecall_sessions_started_total 1",
            "homecall_sockets_connected 2",
            "homecall_messages_queued_total 2",
            "homecall_messages_relayed_total 1",
            "homecall_messages_delivered_total 3",
            "homecall_rejected_total{code=\"bad_message\"} 1",
            "homecall_rejected_total{code=\"queue_full\"} 0",
            "homecall_queue_bytes 0",
        ]),
    )
    .await;

    // Bob drops (1001): what Alice sends now waits in the queue.
    bob.close(Some(1001)).await;
    metrics_with(&server, &lines(&["homecall_sockets_connected 1"])).await;
    let waiting = candidate(ALICE, 4);
    alice.send(&waiting).await;
    metrics_with(
        &server,
        &[
            "homecall_queue_messages 1".to_owned(),
            format!("homecall_queue_bytes {}", waiting.len()),
            "homecall_messages_queued_total 3".to_owned(),
        ],
    )
    .await;

    alice.hang_up().await;
    metrics_with(
        &server,
        &lines(&[
            "homecall_sessions_active 0",
            "homecall_sessions_ended_total{reason=\"hang_up\"} 1",
            "homecall_queue_bytes 0",
            "homecall_sockets_connected 0",
            "homecall_ended_sessions_remembered 1",
        ]),
    )
    .await;
}

#[tokio::test]
async fn shutdown_closes_live_sockets_with_1001_and_serve_returns() {
    let server = AppServer::start(&[]).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    let mut bob = server.connect(SESSION, BOB).await;
    // Both have joined once a message crosses each way.
    alice.send(&candidate(ALICE, 1)).await;
    assert_eq!(bob.recv().await, candidate(ALICE, 1));
    bob.send(&candidate(BOB, 2)).await;
    assert_eq!(alice.recv().await, candidate(BOB, 2));

    let started = std::time::Instant::now();
    let stopping = tokio::spawn(server.stop(PATIENCE));
    alice.expect_close(1001, "server shutting down").await;
    bob.expect_close(1001, "server shutting down").await;
    stopping
        .await
        .expect("stop task")
        .expect("serve returned without error");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

/// Another valid session id, numbered.
fn session(n: u8) -> String {
    format!("123e4567-e89b-42d3-a456-4266141740{n:02}")
}

const TOO_MANY: StatusCode = StatusCode::TOO_MANY_REQUESTS;

#[tokio::test]
async fn one_address_may_hold_only_so_many_sockets_and_gets_429_beyond() {
    let server = AppServer::start(&["--max-sockets-per-ip", "3"]).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    let _bob = server.connect(SESSION, BOB).await;
    // A bad link is a socket too (it gets its error, then 1008).
    let _bad = server.try_connect(SESSION, "x", &[]).await.expect("101");
    assert_eq!(
        server.try_connect(&session(1), CAROL, &[]).await.err(),
        Some(TOO_MANY)
    );
    // Reconnects count as well: the limit is on sockets, not participants.
    assert_eq!(
        server.try_connect(SESSION, ALICE, &[]).await.err(),
        Some(TOO_MANY)
    );
    metrics_with(
        &server,
        &lines(&["homecall_upgrades_refused_total{reason=\"too_many_sockets\"} 2"]),
    )
    .await;

    // A socket that closes gives its place back.
    alice.send(&candidate(ALICE, 1)).await;
    alice.hang_up().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match server.try_connect(&session(1), CAROL, &[]).await {
            Ok(_) => break,
            Err(status) => assert_eq!(status, TOO_MANY),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no place given back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn one_address_may_start_only_so_many_sessions_a_minute() {
    let server = AppServer::start(&["--new-sessions-per-ip-per-minute", "2"]).await;
    let mut first = server.connect(&session(1), ALICE).await;
    let _second = server.connect(&session(2), ALICE).await;
    assert_eq!(
        server.try_connect(&session(3), ALICE, &[]).await.err(),
        Some(TOO_MANY)
    );
    // Joining a session that exists is not starting one.
    let mut bob = server
        .try_connect(&session(1), BOB, &[])
        .await
        .expect("join an active session");
    first
        .send(&format!(
            r#"{{"type":"candidate","sessionId":"{}","from":"{ALICE}","candidate":null}}"#,
            session(1)
        ))
        .await;
    assert!(bob.recv().await.contains(r#""candidate":null"#));
    // An ended session gets its session_ended answer, not a 429.
    first.hang_up().await;
    bob.next().await;
    let mut late = server
        .try_connect(&session(1), CAROL, &[])
        .await
        .expect("an ended session is not a new one");
    assert!(late.recv().await.contains("session_ended"));
    metrics_with(
        &server,
        &lines(&["homecall_upgrades_refused_total{reason=\"too_many_new_sessions\"} 1"]),
    )
    .await;
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_behind_the_tls_proxy() {
    let args = ["--max-sockets-per-ip", "1"];
    let xff = |value| [("x-forwarded-for", value)];

    // Without the proxy switch the header is ignored: every socket here is 127.0.0.1.
    let server = AppServer::start(&args).await;
    let _one = server
        .try_connect(SESSION, ALICE, &xff("203.0.113.1"))
        .await
        .expect("first socket");
    assert_eq!(
        server
            .try_connect(SESSION, BOB, &xff("198.51.100.2"))
            .await
            .err(),
        Some(TOO_MANY)
    );
    drop(server);

    // Behind the proxy the last entry counts, whatever the client put before it.
    let server = AppServer::start(&[args[0], args[1], "--behind-tls-proxy"]).await;
    let _one = server
        .try_connect(SESSION, ALICE, &xff("203.0.113.1"))
        .await
        .expect("first socket of 203.0.113.1");
    assert_eq!(
        server
            .try_connect(SESSION, BOB, &xff("198.51.100.2, 203.0.113.1"))
            .await
            .err(),
        Some(TOO_MANY)
    );
    let _two = server
        .try_connect(SESSION, BOB, &xff("203.0.113.1, 198.51.100.2"))
        .await
        .expect("another address");
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files into a
/// fresh folder: (certificate path, key path, certificate DER).
fn self_signed(name: &str) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("self-signed certificate");
    let dir = std::env::temp_dir().join(format!("homecall-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, signing_key.serialize_pem()).expect("write key");
    (cert_path, key_path, cert.der().to_vec())
}

/// A rustls client configuration that trusts only `cert_der`.
fn trusting(cert_der: &[u8]) -> std::sync::Arc<tokio_rustls::rustls::ClientConfig> {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .expect("trust the test certificate");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    std::sync::Arc::new(config)
}

async fn connect_wss(
    server: &AppServer,
    tls: &std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    peer: &str,
) -> Client {
    let url = format!(
        "wss://127.0.0.1:{}/signal?session={SESSION}&peer={peer}",
        server.addr.port()
    );
    let connector = tokio_tungstenite::Connector::Rustls(std::sync::Arc::clone(tls));
    let (ws, response) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
            .await
            .expect("wss upgrade");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    Client { ws }
}

#[tokio::test]
async fn with_a_certificate_the_server_speaks_wss_and_https_itself() {
    let (cert, key, der) = self_signed("tls");
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    let server = AppServer::start(&["--tls-cert", cert, "--tls-key", key]).await;
    let tls = trusting(&der);

    let mut alice = connect_wss(&server, &tls, ALICE).await;
    let mut bob = connect_wss(&server, &tls, BOB).await;
    let offer =
        format!(r#"{{"type":"offer","sessionId":"{SESSION}","from":"{ALICE}","sdp":"v=0\r\n"}}"#);
    alice.send(&offer).await;
    assert_eq!(bob.recv().await, offer);
    let answer =
        format!(r#"{{"type":"answer","sessionId":"{SESSION}","from":"{BOB}","sdp":"v=0\r\n"}}"#);
    bob.send(&answer).await;
    assert_eq!(alice.recv().await, answer);

    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&der).expect("certificate"))
        .build()
        .expect("https client");
    let url = format!("https://127.0.0.1:{}/healthz", server.addr.port());
    let response = https.get(&url).send().await.expect("GET over TLS");
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(header(&response, "referrer-policy"), Some(REFERRER));
    assert_eq!(response.text().await.expect("body"), "ok");
    // Plain text on the TLS port gets nowhere.
    assert!(reqwest::get(server.http("/healthz")).await.is_err());

    // Graceful shutdown works over TLS too.
    let stopping = tokio::spawn(server.stop(PATIENCE));
    alice.expect_close(1001, "server shutting down").await;
    bob.expect_close(1001, "server shutting down").await;
    stopping.await.expect("stop task").expect("serve returned");
}

#[tokio::test]
async fn a_certificate_that_cannot_be_read_stops_serve_with_a_tls_error() {
    let (cert, _, _) = self_signed("tls-bad");
    let cert = cert.to_str().expect("path");
    let server = AppServer::start(&["--tls-cert", cert, "--tls-key", "/nonexistent/key.pem"]).await;
    let error = server.stop(PATIENCE).await.expect_err("a TLS error");
    assert!(
        matches!(error, homecall::server::ServeError::Tls(_)),
        "{error}"
    );
    assert!(
        error.to_string().contains("/nonexistent/key.pem"),
        "{error}"
    );
}
