//! Validation of a client's frame (PROTOCOL.md §2): [`validate_as_signal`], the
//! definition, and [`validate_client_frame`], which answers the same by the single pass
//! of [`super::fast`] for the usual frame. Owns the verdict and its [`Rejection`]; must not
//! touch sockets or sessions.

use super::fast;
use super::{ErrorCode, Kind, PeerId, SessionId, Signal};

/// Why a client frame was refused; each maps to one error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not a valid message: {0}")]
    BadMessage(&'static str),
    #[error("the message names another session")]
    SignalNotFound,
}

impl Rejection {
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::BadMessage(_) => ErrorCode::BadMessage,
            Rejection::SignalNotFound => ErrorCode::SignalNotFound,
        }
    }
}

/// Validates one text frame a client sent on the socket of `session` and `peer`
/// (PROTOCOL.md §2) and returns its type. On success the hub forwards the frame's
/// original text, which a client parses as a [`Signal`].
///
/// The verdict is always that of [`validate_as_signal`], the definition. The usual valid
/// frame is recognised in one pass that keeps nothing of it ([`fast::accepts`]): the
/// fields its type needs are checked in place (an SDP is never copied), the others only
/// parsed. Every other frame (invalid, or unusual: a `\u` escape, which may hide an
/// invalid surrogate; a field of another message type; another session) is decided by
/// the definition, which is slower; `fuzz/check.rs` checks on every fuzz input that the
/// fast path accepts nothing the definition refuses.
pub fn validate_client_frame(
    text: &str,
    session: &SessionId,
    peer: &PeerId,
) -> Result<Kind, Rejection> {
    if !text.contains("\\u")
        && let Some(kind) = fast::accepts(text, session, peer)
    {
        return Ok(kind);
    }
    validate_as_signal(text, session, peer).map(|signal| signal.kind())
}

/// [`validate_client_frame`] by its definition: a JSON object (serde alone would also
/// take an array whose first element is the type) that parses as a non-error [`Signal`],
/// as the other client will parse it, naming this session and peer, with a non-empty
/// SDP. Slower; the hub uses it for unusual frames, the fuzz target as the reference for
/// the fast path.
pub fn validate_as_signal<'a>(
    text: &'a str,
    session: &SessionId,
    peer: &PeerId,
) -> Result<Signal<'a>, Rejection> {
    if !text.trim_start().starts_with('{') {
        return Err(Rejection::BadMessage("not an object"));
    }
    let signal = Signal::from_json(text).map_err(|_| Rejection::BadMessage("not a message"))?;
    let (session_id, from, sdp) = match &signal {
        Signal::Offer {
            session_id,
            from,
            sdp,
            ..
        }
        | Signal::Answer {
            session_id,
            from,
            sdp,
            ..
        } => (session_id, from, Some(sdp)),
        Signal::Candidate {
            session_id, from, ..
        } => (session_id, from, None),
        Signal::Error { .. } => return Err(Rejection::BadMessage("clients may not send errors")),
    };
    if session_id != session.as_str() {
        return Err(Rejection::SignalNotFound);
    }
    if from != peer.as_str() {
        return Err(Rejection::BadMessage("from is not the socket's peer"));
    }
    if sdp.is_some_and(|sdp| sdp.is_empty()) {
        return Err(Rejection::BadMessage("empty sdp"));
    }
    Ok(signal)
}

#[cfg(test)]
mod tests {
    use crate::protocol::*;

    const SESSION: &str = "123e4567-e89b-42d3-a456-426614174000";
    const PEER: &str = "peer_A-123";

    fn ids() -> (SessionId, PeerId) {
        (
            SessionId::parse(SESSION).unwrap(),
            PeerId::parse(PEER).unwrap(),
        )
    }

    #[test]
    fn valid_frames_pass_with_their_type() {
        let (session, peer) = ids();
        let valid = [
            (
                format!(
                    r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":"v=0\r\n","extra":[1]}}"#
                ),
                Kind::Offer,
            ),
            (
                format!(
                    r#"{{"from":"{PEER}","sdp":"x","pc":"not a number","sessionId":"{SESSION}","type":"answer"}}"#
                ),
                Kind::Answer,
            ),
            (
                format!(
                    r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":{{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}}}"#
                ),
                Kind::Candidate,
            ),
            (
                format!(
                    r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":null,"sdp":5,"sdp":6}}"#
                ),
                Kind::Candidate,
            ),
            (
                format!(
                    r#"{{"type":"\u006fffer","sessionId":"{SESSION}","from":"{PEER}","s\u0064p":"x"}}"#
                ),
                Kind::Offer,
            ),
        ];
        for (text, kind) in valid {
            assert_eq!(
                validate_client_frame(&text, &session, &peer),
                Ok(kind),
                "{text}"
            );
            let signal = Signal::from_json(&text).expect("a valid frame parses as a Signal");
            assert_eq!(signal.kind(), kind);
        }
    }

    #[test]
    fn the_usual_frames_take_the_single_pass_and_the_rest_the_definition() {
        let (session, peer) = ids();
        let other = "00000000-0000-4000-8000-000000000000";
        let usual = [
            format!(
                r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":"v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n","pc":1}}"#
            ),
            format!(
                r#"{{"type":"answer","sessionId":"{SESSION}","from":"{PEER}","sdp":"v=0\r\n","pc":2,"toPc":1}}"#
            ),
            format!(
                r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":{{"candidate":"candidate:1 1 udp 1 192.0.2.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}},"pc":1,"toPc":1}}"#
            ),
            format!(
                r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":null}}"#
            ),
        ];
        for text in &usual {
            assert!(
                super::fast::accepts(text, &session, &peer).is_some(),
                "{text}"
            );
        }
        let left_to_the_definition = [
            format!(r#"{{"type":"offer","sessionId":"{other}","from":"{PEER}","sdp":"x"}}"#),
            format!(r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":""}}"#),
            format!(
                r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":null,"sdp":"x"}}"#
            ),
            format!(
                r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":{{"candidate":"c","candidate":"c"}}}}"#
            ),
            format!(
                r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":"x","x":1E400}}"#
            ),
            r#"{"type":"error","sessionId":null,"code":"bad_message","message":"x"}"#.to_owned(),
        ];
        for text in &left_to_the_definition {
            assert_eq!(super::fast::accepts(text, &session, &peer), None, "{text}");
        }
    }

    #[test]
    fn invalid_frames_are_refused_with_their_code() {
        let (session, peer) = ids();
        let other = "00000000-0000-4000-8000-000000000000";
        let cases = [
            ("not json".to_owned(), ErrorCode::BadMessage),
            (r#"{"type":"hello"}"#.to_owned(), ErrorCode::BadMessage),
            (r#"{"type":0}"#.to_owned(), ErrorCode::BadMessage),
            (
                format!(
                    r#"{{"type":"candidate","sessionId":"{other}","from":"{PEER}","candidate":{{"candidate":"c","x":1E400}}}}"#
                ),
                ErrorCode::BadMessage,
            ),
            // Not a message a client can parse, even though it names another session.
            (
                format!(
                    r#"{{"type":"offer","sessionId":"{other}","from":"{PEER}","sdp":"x","x":"\uDAEE"}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"offer","sessionId":"{other}","from":"{PEER}","sdp":"x","x":{}{}}}"#,
                    "[".repeat(200),
                    "]".repeat(200)
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"candidate","sessionId":"{other}","from":"{PEER}","candidate":null,"sdp":{}{}}}"#,
                    "[".repeat(200),
                    "]".repeat(200)
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(r#"["offer","{SESSION}","{PEER}","x"]"#),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"offer","type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":"x"}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":"x","pc":1,"pc":2}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":"x","sdp":"y"}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(r#"{{"type":"offer","sessionId":"{other}","from":"{PEER}","sdp":null}}"#),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":{{"sdpMLineIndex":-1}}}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}"}}"#),
                ErrorCode::BadMessage,
            ),
            (
                format!(r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":""}}"#),
                ErrorCode::BadMessage,
            ),
            (
                format!(r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":5}}"#),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"answer","sessionId":"{SESSION}","from":"someone-else","sdp":"x"}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}"}}"#),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{PEER}","candidate":"x"}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(
                    r#"{{"type":"error","sessionId":"{SESSION}","code":"bad_message","message":"x"}}"#
                ),
                ErrorCode::BadMessage,
            ),
            (
                format!(r#"{{"type":"offer","sessionId":"{other}","from":"{PEER}","sdp":"x"}}"#),
                ErrorCode::SignalNotFound,
            ),
        ];
        for (text, code) in cases {
            let refused = validate_client_frame(&text, &session, &peer).unwrap_err();
            assert_eq!(refused.code(), code, "{text}");
        }
    }
}
