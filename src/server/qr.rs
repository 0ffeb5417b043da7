//! `GET /qr.svg?session=<uuid>`: the call link as a QR code, drawn on the server so the
//! wasm client stays small. Owns building the link from the request (scheme from the
//! settings, host from the `Host` header) and drawing it; must not touch sessions.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;

use crate::contours::env::share_link;
use crate::protocol::SessionId;

#[derive(Deserialize)]
pub struct QrQuery {
    session: String,
}

/// Whether links start with `https://` (TLS here or at a proxy in front).
#[derive(Clone, Copy)]
pub struct Scheme {
    pub https: bool,
}

/// The SVG of `link` as a QR code, black on white with a quiet zone.
pub fn qr_svg(link: &str) -> Option<String> {
    let code = QrCode::new(link.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
    )
}

pub async fn qr_code(
    State(scheme): State<Scheme>,
    Query(query): Query<QrQuery>,
    headers: HeaderMap,
) -> Response {
    let Ok(session) = SessionId::parse(&query.session) else {
        return (StatusCode::BAD_REQUEST, "session must be a call id").into_response();
    };
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
    else {
        return (StatusCode::BAD_REQUEST, "no Host header").into_response();
    };
    let origin = format!("{}://{host}", if scheme.https { "https" } else { "http" });
    match qr_svg(&share_link(&origin, &session)) {
        Some(svg) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=86400"),
                ),
            ],
            svg,
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_an_svg_qr_code() {
        let svg =
            qr_svg("https://call.example/?session=123e4567-e89b-42d3-a456-426614174000").unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg"));
        assert!(svg.contains("<path"));
    }
}
