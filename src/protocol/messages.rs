//! The messages of `/signal` (PROTOCOL.md §2): [`Signal`] with its wire form, the
//! candidate object, the route extension that travels in extra fields, and [`Kind`].
//! Owns their shapes and (de)serialisation; must not validate a client's frame (that is
//! [`super::validate`]) or touch sockets.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::ErrorCode;

/// One message on `/signal`, in either direction (PROTOCOL.md §2).
///
/// Strings are `Cow` so the hub can validate a frame without copying it (it forwards the
/// original text), while the browser builds owned `Signal<'static>` values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Signal<'a> {
    /// SDP offer, client → hub → the other participant.
    Offer {
        #[serde(rename = "sessionId", borrow)]
        session_id: Cow<'a, str>,
        #[serde(borrow)]
        from: Cow<'a, str>,
        #[serde(borrow)]
        sdp: Cow<'a, str>,
        /// Client extension: the sender's peer-connection id (see [`Route`]).
        #[serde(
            default,
            deserialize_with = "lenient_id",
            skip_serializing_if = "Option::is_none"
        )]
        pc: Option<u32>,
        /// Client extension: the receiver's peer-connection id this message is for.
        #[serde(
            rename = "toPc",
            default,
            deserialize_with = "lenient_id",
            skip_serializing_if = "Option::is_none"
        )]
        to_pc: Option<u32>,
    },
    /// SDP answer, client → hub → the other participant.
    Answer {
        #[serde(rename = "sessionId", borrow)]
        session_id: Cow<'a, str>,
        #[serde(borrow)]
        from: Cow<'a, str>,
        #[serde(borrow)]
        sdp: Cow<'a, str>,
        /// Client extension: the sender's peer-connection id (see [`Route`]).
        #[serde(
            default,
            deserialize_with = "lenient_id",
            skip_serializing_if = "Option::is_none"
        )]
        pc: Option<u32>,
        /// Client extension: the receiver's peer-connection id this message is for.
        #[serde(
            rename = "toPc",
            default,
            deserialize_with = "lenient_id",
            skip_serializing_if = "Option::is_none"
        )]
        to_pc: Option<u32>,
    },
    /// One ICE candidate, or `null` for the end of candidates.
    Candidate {
        #[serde(rename = "sessionId", borrow)]
        session_id: Cow<'a, str>,
        #[serde(borrow)]
        from: Cow<'a, str>,
        /// Present and `null` at the end of candidates; a missing field is invalid.
        #[serde(borrow, deserialize_with = "present_or_null")]
        candidate: Option<IceCandidate<'a>>,
        /// Client extension: the sender's peer-connection id (see [`Route`]).
        #[serde(
            default,
            deserialize_with = "lenient_id",
            skip_serializing_if = "Option::is_none"
        )]
        pc: Option<u32>,
        /// Client extension: the receiver's peer-connection id this message is for.
        #[serde(
            rename = "toPc",
            default,
            deserialize_with = "lenient_id",
            skip_serializing_if = "Option::is_none"
        )]
        to_pc: Option<u32>,
    },
    /// Hub → client: something went wrong, or the session is over.
    Error {
        #[serde(rename = "sessionId", borrow)]
        session_id: Option<Cow<'a, str>>,
        code: ErrorCode,
        #[serde(borrow)]
        message: Cow<'a, str>,
    },
}

/// Which peer connections a message goes between: a client extension riding in the extra
/// fields `pc` and `toPc`, which PROTOCOL.md §2 lets travel unchanged. A page that reloads
/// makes a new peer connection with a new id, so the other side can tell a fresh offer from
/// a stale one and drop answers and candidates meant for a connection that is gone. The hub
/// never looks at them: a value of another type is read as absent, never as invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route {
    pub pc: Option<u32>,
    pub to_pc: Option<u32>,
}

/// An extension id: a `u32`, or absent when the field is missing or of another type.
fn lenient_id<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Id(u32),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Lenient::deserialize(deserializer)? {
        Lenient::Id(id) => Some(id),
        Lenient::Other(_) => None,
    })
}

/// The fields of an `RTCIceCandidateInit` dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate<'a> {
    #[serde(borrow, default)]
    pub candidate: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<Cow<'a, str>>,
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<Cow<'a, str>>,
}

/// A nullable field that must still be present (`Option` alone would accept a missing one).
fn present_or_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// The kind of a message, for logs and metrics (never its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Offer,
    Answer,
    Candidate,
    Error,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Offer => "offer",
            Kind::Answer => "answer",
            Kind::Candidate => "candidate",
            Kind::Error => "error",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> Signal<'a> {
    pub fn kind(&self) -> Kind {
        match self {
            Signal::Offer { .. } => Kind::Offer,
            Signal::Answer { .. } => Kind::Answer,
            Signal::Candidate { .. } => Kind::Candidate,
            Signal::Error { .. } => Kind::Error,
        }
    }

    /// The hub's error message for `code`, with the code's standard Russian text.
    pub fn error(session_id: Option<&str>, code: ErrorCode) -> Signal<'static> {
        Signal::Error {
            session_id: session_id.map(|id| Cow::Owned(id.to_owned())),
            code,
            message: Cow::Borrowed(code.message_ru()),
        }
    }

    /// The same message owning its strings (for keeping it past the frame it came in).
    pub fn into_owned(self) -> Signal<'static> {
        fn own(text: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(text.into_owned())
        }
        match self {
            Signal::Offer {
                session_id,
                from,
                sdp,
                pc,
                to_pc,
            } => Signal::Offer {
                session_id: own(session_id),
                from: own(from),
                sdp: own(sdp),
                pc,
                to_pc,
            },
            Signal::Answer {
                session_id,
                from,
                sdp,
                pc,
                to_pc,
            } => Signal::Answer {
                session_id: own(session_id),
                from: own(from),
                sdp: own(sdp),
                pc,
                to_pc,
            },
            Signal::Candidate {
                session_id,
                from,
                candidate,
                pc,
                to_pc,
            } => Signal::Candidate {
                session_id: own(session_id),
                from: own(from),
                candidate: candidate.map(|c| IceCandidate {
                    candidate: own(c.candidate),
                    sdp_mid: c.sdp_mid.map(own),
                    sdp_m_line_index: c.sdp_m_line_index,
                    username_fragment: c.username_fragment.map(own),
                }),
                pc,
                to_pc,
            },
            Signal::Error {
                session_id,
                code,
                message,
            } => Signal::Error {
                session_id: session_id.map(own),
                code,
                message: own(message),
            },
        }
    }

    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Signal always serialises")
    }

    /// Parses any message (the browser's side of the wire).
    pub fn from_json(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The peer connections this message goes between (all `None` for errors).
    pub fn route(&self) -> Route {
        match self {
            Signal::Offer { pc, to_pc, .. }
            | Signal::Answer { pc, to_pc, .. }
            | Signal::Candidate { pc, to_pc, .. } => Route {
                pc: *pc,
                to_pc: *to_pc,
            },
            Signal::Error { .. } => Route::default(),
        }
    }
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
    fn offer_has_the_exact_wire_form() {
        let offer = Signal::Offer {
            session_id: SESSION.into(),
            from: PEER.into(),
            sdp: "v=0\r\n".into(),
            pc: None,
            to_pc: None,
        };
        let json = offer.to_json();
        assert_eq!(
            json,
            r#"{"type":"offer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"peer_A-123","sdp":"v=0\r\n"}"#
        );
        assert_eq!(Signal::from_json(&json).unwrap(), offer);
    }

    #[test]
    fn answer_has_the_exact_wire_form() {
        let answer = Signal::Answer {
            session_id: SESSION.into(),
            from: PEER.into(),
            sdp: "v=0".into(),
            pc: None,
            to_pc: None,
        };
        let json = answer.to_json();
        assert_eq!(
            json,
            r#"{"type":"answer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"peer_A-123","sdp":"v=0"}"#
        );
        assert_eq!(Signal::from_json(&json).unwrap(), answer);
    }

    #[test]
    fn candidate_has_the_exact_wire_form() {
        let candidate = Signal::Candidate {
            session_id: SESSION.into(),
            from: PEER.into(),
            candidate: Some(IceCandidate {
                candidate: "candidate:1 1 udp 1 10.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: None,
            }),
            pc: None,
            to_pc: None,
        };
        let json = candidate.to_json();
        assert_eq!(
            json,
            r#"{"type":"candidate","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"peer_A-123","candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#
        );
        assert_eq!(Signal::from_json(&json).unwrap(), candidate);
    }

    #[test]
    fn end_of_candidates_is_null() {
        let end = Signal::Candidate {
            session_id: SESSION.into(),
            from: PEER.into(),
            candidate: None,
            pc: None,
            to_pc: None,
        };
        let json = end.to_json();
        assert_eq!(
            json,
            r#"{"type":"candidate","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"peer_A-123","candidate":null}"#
        );
        assert_eq!(Signal::from_json(&json).unwrap(), end);
    }

    #[test]
    fn error_has_the_exact_wire_form() {
        let json = Signal::error(Some(SESSION), ErrorCode::SessionEnded).to_json();
        assert_eq!(
            json,
            r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"session_ended","message":"Сессия завершена"}"#
        );
        let json = Signal::error(None, ErrorCode::BadRequest).to_json();
        assert_eq!(
            json,
            r#"{"type":"error","sessionId":null,"code":"bad_request","message":"Неверная ссылка на звонок"}"#
        );
        assert_eq!(
            Signal::from_json(&json).unwrap(),
            Signal::error(None, ErrorCode::BadRequest)
        );
    }

    #[test]
    fn the_route_extension_travels_in_extra_fields() {
        let answer = Signal::Answer {
            session_id: SESSION.into(),
            from: PEER.into(),
            sdp: "v=0".into(),
            pc: Some(7),
            to_pc: Some(42),
        };
        let json = answer.to_json();
        assert_eq!(
            json,
            r#"{"type":"answer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"peer_A-123","sdp":"v=0","pc":7,"toPc":42}"#
        );
        assert_eq!(
            Signal::from_json(&json).unwrap().route(),
            Route {
                pc: Some(7),
                to_pc: Some(42)
            }
        );
    }

    #[test]
    fn extension_fields_of_another_type_are_not_invalid() {
        let (session, peer) = ids();
        let text = format!(
            r#"{{"type":"offer","sessionId":"{SESSION}","from":"{PEER}","sdp":"x","pc":"seven","toPc":[1]}}"#
        );
        assert_eq!(
            validate_client_frame(&text, &session, &peer),
            Ok(Kind::Offer)
        );
        assert_eq!(Signal::from_json(&text).unwrap().route(), Route::default());
    }
}
