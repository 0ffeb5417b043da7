//! Security headers on every HTTP response: `Content-Security-Policy`, `Referrer-Policy`,
//! `X-Content-Type-Options`, `Permissions-Policy` and, when clients reach us over TLS,
//! `Strict-Transport-Security`.
//!
//! Owns: the header values and the layers that set them, plus [`provide_page_csp`], which
//! gives each server-rendered page a policy naming that page's own script nonce. Must not
//! touch routing or the hub: `server` wraps its router with [`apply`].

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The link holds the session id: never send it to another site.
pub const REFERRER_POLICY: &str = "no-referrer";
/// Camera and microphone for this origin only; no screen capture; nothing for frames.
pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), display-capture=()";
/// One year; no `includeSubDomains` (other hosts of the domain are not ours to decide).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The content security policy. `nonce` is the page's script nonce: Leptos renders one
/// inline `<script type="module" nonce=...>` that loads the wasm and hydrates.
///
/// `connect-src 'self'` also admits `ws:`/`wss:` to the same host and port (CSP Level 3
/// "'self' matches ws/wss"; Chromium, Firefox and Safari 15.4+).
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce
        .map(|nonce| format!(" 'nonce-{nonce}'"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; \
         script-src 'self' 'wasm-unsafe-eval'{nonce}; \
         style-src 'self'; \
         img-src 'self' data: blob:; \
         media-src 'self' blob: mediastream:; \
         connect-src 'self'; \
         frame-ancestors 'none'; \
         base-uri 'none'; \
         object-src 'none'; \
         form-action 'self'"
    )
}

/// Wraps `router` so that every response carries the security headers. A response that
/// already has a `Content-Security-Policy` (a page, see [`provide_page_csp`]) keeps it.
/// `hsts`: clients reach this server over TLS (its own, or a proxy's).
pub fn apply(router: Router, hsts: bool) -> Router {
    let fixed = [
        (header::REFERRER_POLICY, REFERRER_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
    ];
    let mut router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        static_value(&content_security_policy(None)),
    ));
    for (name, value) in fixed {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    if hsts {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        ));
    }
    router
}

fn static_value(text: &str) -> HeaderValue {
    // The policy is built from literals above: always a valid header value.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// Leptos "additional context" for page renders: sets this response's policy with the
/// nonce Leptos generated for it (and put on its hydration script). Runs inside the
/// render, after Leptos provided the nonce and the response options.
pub fn provide_page_csp() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    // A Leptos nonce is URL-safe base64, so the policy is a valid header value.
    if let Ok(value) = HeaderValue::from_str(&content_security_policy(Some(&nonce))) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_own_scripts_and_the_page_nonce() {
        let page = content_security_policy(Some("abc_-9"));
        assert!(page.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-abc_-9';"));
        let other = content_security_policy(None);
        assert!(other.contains("script-src 'self' 'wasm-unsafe-eval';"));
        for policy in [&page, &other] {
            assert!(!policy.contains("unsafe-inline"));
            assert!(policy.contains("frame-ancestors 'none'"));
            assert!(HeaderValue::from_str(policy).is_ok());
        }
    }
}
