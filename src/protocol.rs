//! The wire types of `/signal` (PROTOCOL.md §1, §2, §5), defined once and used by both the
//! hub (server) and `Net` (browser). Owns: message shapes, error codes with their Russian
//! texts, id formats, close codes and client-message validation. Must not touch sockets,
//! sessions or the DOM: it is plain data and pure functions, compiled for both targets.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// Close codes the hub and the client use (PROTOCOL.md §1, §3, §4).
pub mod close {
    /// Hang-up (`Net.stopSignal()`), or the end of a session told by the hub.
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutdown): a drop, the client reconnects.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: bad link, third participant, too many invalid messages.
    pub const POLICY: u16 = 1008;
    /// A text frame that is not UTF-8 (RFC 6455 §7.4.1).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A frame beyond the hard size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The hub is full (sessions or queued bytes): try again later (RFC 6455 registry).
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The same peer connected again elsewhere (a reconnect replaced this socket).
    pub const REPLACED: u16 = 4001;
}

/// How many invalid messages one socket may send; the last one closes it (PROTOCOL.md §2).
pub const MAX_INVALID_MESSAGES: u32 = 20;

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

/// Error codes of PROTOCOL.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    SessionEnded,
    SignalNotFound,
    SessionFull,
    BadRequest,
    BadMessage,
    QueueFull,
    RateLimited,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::SessionEnded,
        ErrorCode::SignalNotFound,
        ErrorCode::SessionFull,
        ErrorCode::BadRequest,
        ErrorCode::BadMessage,
        ErrorCode::QueueFull,
        ErrorCode::RateLimited,
    ];

    /// The wire name, as in `"code": "session_ended"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::SignalNotFound => "signal_not_found",
            ErrorCode::SessionFull => "session_full",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::RateLimited => "rate_limited",
        }
    }

    /// The human-readable text the hub sends (PROTOCOL.md §5).
    pub fn message_ru(self) -> &'static str {
        match self {
            ErrorCode::SessionEnded => "Сессия завершена",
            ErrorCode::SignalNotFound => "Сигнал не найден",
            ErrorCode::SessionFull => "Сеанс уже занят",
            ErrorCode::BadRequest => "Неверная ссылка на звонок",
            ErrorCode::BadMessage => "Некорректное сообщение",
            ErrorCode::QueueFull => "Очередь сигналов переполнена",
            ErrorCode::RateLimited => "Слишком много сообщений",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
/// frame is recognised in one pass that keeps nothing of it ([`validate::accepts`]): the
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
        && let Some(kind) = validate::accepts(text, session, peer)
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

/// The fast path of [`validate_client_frame`]: recognises the usual valid frame in one
/// pass, and leaves everything else to the definition.
mod validate {
    use std::fmt;

    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};
    use serde_json::value::RawValue;

    use super::{Kind, PeerId, SessionId};

    /// Whether `text` is certainly a valid message of `session` and `peer`, and its type.
    /// `None`: not known to be valid (the definition decides).
    pub(super) fn accepts(text: &str, session: &SessionId, peer: &PeerId) -> Option<Kind> {
        serde_json::from_str::<Fields<'_>>(text)
            .ok()?
            .accepts(session, peer)
    }

    /// A top-level field kept as raw JSON, since which fields matter depends on `type`,
    /// which may come last; and whether it appeared more than once.
    #[derive(Default)]
    struct Field<'a> {
        raw: Option<&'a RawValue>,
        repeated: bool,
    }

    impl<'a> Field<'a> {
        fn set(&mut self, raw: &'a RawValue) {
            if self.raw.is_some() {
                self.repeated = true;
            } else {
                self.raw = Some(raw);
            }
        }

        /// The field's raw JSON, if it appears exactly once.
        fn once(&self) -> Option<&'a str> {
            self.raw.filter(|_| !self.repeated).map(RawValue::get)
        }
    }

    /// The top-level fields of a client message. Every value not kept raw was parsed on
    /// the way as a client's parser parses it: the candidate as [`CandidateCheck`], the
    /// rest as [`Checked`].
    #[derive(Default)]
    struct Fields<'a> {
        kind: Field<'a>,
        session_id: Field<'a>,
        from: Field<'a>,
        sdp: Field<'a>,
        /// How many times each appeared.
        candidate: usize,
        pc: usize,
        to_pc: usize,
    }

    /// The message types, as in `"type": "offer"`.
    #[derive(Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Tag {
        Offer,
        Answer,
        Candidate,
    }

    impl Fields<'_> {
        fn accepts(&self, session: &SessionId, peer: &PeerId) -> Option<Kind> {
            let kind = match serde_json::from_str::<Tag>(self.kind.once()?).ok()? {
                Tag::Offer => Kind::Offer,
                Tag::Answer => Kind::Answer,
                Tag::Candidate => Kind::Candidate,
            };
            let fields_fit = match kind {
                // The SDP only needs to be a non-empty string: a valid JSON value that
                // starts with a quote is a string, and only `""` is empty.
                Kind::Offer | Kind::Answer => {
                    let sdp = self.sdp.once()?;
                    self.candidate == 0 && sdp.starts_with('"') && sdp != "\"\""
                }
                _ => self.candidate == 1 && self.sdp.raw.is_none(),
            };
            // Borrowed `&str`: an escaped id is unusual, and left to the definition.
            let session_id: &str = serde_json::from_str(self.session_id.once()?).ok()?;
            let from: &str = serde_json::from_str(self.from.once()?).ok()?;
            let valid = fields_fit
                && self.pc <= 1
                && self.to_pc <= 1
                && session_id == session.as_str()
                && from == peer.as_str();
            valid.then_some(kind)
        }
    }

    /// A top-level key: the fields above, or any other.
    enum Key {
        Type,
        SessionId,
        From,
        Sdp,
        Candidate,
        Pc,
        ToPc,
        Other,
    }

    /// A key of the candidate object (`RTCIceCandidateInit`), as [`super::IceCandidate`]
    /// names them.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum CandidateKey {
        Candidate,
        SdpMid,
        SdpMLineIndex,
        UsernameFragment,
        Other,
    }

    impl CandidateKey {
        fn known_index(self) -> Option<usize> {
            match self {
                CandidateKey::Candidate => Some(0),
                CandidateKey::SdpMid => Some(1),
                CandidateKey::SdpMLineIndex => Some(2),
                CandidateKey::UsernameFragment => Some(3),
                CandidateKey::Other => None,
            }
        }
    }

    struct KeyVisitor;

    impl Visitor<'_> for KeyVisitor {
        type Value = (Key, CandidateKey);

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
            Ok(match key {
                "type" => (Key::Type, CandidateKey::Other),
                "sessionId" => (Key::SessionId, CandidateKey::Other),
                "from" => (Key::From, CandidateKey::Other),
                "sdp" => (Key::Sdp, CandidateKey::Other),
                "candidate" => (Key::Candidate, CandidateKey::Candidate),
                "pc" => (Key::Pc, CandidateKey::Other),
                "toPc" => (Key::ToPc, CandidateKey::Other),
                "sdpMid" => (Key::Other, CandidateKey::SdpMid),
                "sdpMLineIndex" => (Key::Other, CandidateKey::SdpMLineIndex),
                "usernameFragment" => (Key::Other, CandidateKey::UsernameFragment),
                _ => (Key::Other, CandidateKey::Other),
            })
        }
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            Ok(deserializer.deserialize_identifier(KeyVisitor)?.0)
        }
    }

    impl<'de> Deserialize<'de> for CandidateKey {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            Ok(deserializer.deserialize_identifier(KeyVisitor)?.1)
        }
    }

    impl<'de> Deserialize<'de> for Fields<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct FieldsVisitor;
            impl<'de> Visitor<'de> for FieldsVisitor {
                type Value = Fields<'de>;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a signal message object")
                }

                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                    let mut fields = Fields::default();
                    while let Some(key) = map.next_key::<Key>()? {
                        let field = match key {
                            Key::Type => &mut fields.kind,
                            Key::SessionId => &mut fields.session_id,
                            Key::From => &mut fields.from,
                            Key::Sdp => &mut fields.sdp,
                            Key::Candidate => {
                                map.next_value::<Option<CandidateCheck>>()?;
                                fields.candidate += 1;
                                continue;
                            }
                            Key::Pc | Key::ToPc | Key::Other => {
                                map.next_value::<Checked>()?;
                                match key {
                                    Key::Pc => fields.pc += 1,
                                    Key::ToPc => fields.to_pc += 1,
                                    _ => {}
                                }
                                continue;
                            }
                        };
                        field.set(map.next_value()?);
                    }
                    Ok(fields)
                }
            }
            deserializer.deserialize_map(FieldsVisitor)
        }
    }

    /// A candidate object that parses as [`super::IceCandidate`] does, with its other
    /// fields parsed as [`Checked`]; nothing is kept.
    struct CandidateCheck;

    impl<'de> Deserialize<'de> for CandidateCheck {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct CandidateVisitor;
            impl<'de> Visitor<'de> for CandidateVisitor {
                type Value = CandidateCheck;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an RTCIceCandidateInit object")
                }

                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<CandidateCheck, A::Error> {
                    // The four known fields, each allowed once (serde refuses a repeat).
                    let mut seen = [false; 4];
                    while let Some(key) = map.next_key::<CandidateKey>()? {
                        if let Some(index) = key.known_index()
                            && std::mem::replace(&mut seen[index], true)
                        {
                            return Err(de::Error::custom("a repeated field"));
                        }
                        match key {
                            CandidateKey::Candidate => {
                                map.next_value::<StrCheck>()?;
                            }
                            CandidateKey::SdpMid | CandidateKey::UsernameFragment => {
                                map.next_value::<Option<StrCheck>>()?;
                            }
                            CandidateKey::SdpMLineIndex => {
                                map.next_value::<Option<u16>>()?;
                            }
                            CandidateKey::Other => {
                                map.next_value::<Checked>()?;
                            }
                        }
                    }
                    Ok(CandidateCheck)
                }
            }
            deserializer.deserialize_map(CandidateVisitor)
        }
    }

    /// A string, not kept.
    struct StrCheck;

    impl<'de> Deserialize<'de> for StrCheck {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct StrVisitor;
            impl Visitor<'_> for StrVisitor {
                type Value = StrCheck;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }

                fn visit_str<E: de::Error>(self, _: &str) -> Result<StrCheck, E> {
                    Ok(StrCheck)
                }
            }
            deserializer.deserialize_str(StrVisitor)
        }
    }

    /// Any JSON value, parsed as a client's parser parses an unknown field (strings
    /// unescaped, numbers in range, nesting limited) but not kept.
    struct Checked;

    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(CheckedVisitor)
        }
    }

    struct CheckedVisitor;

    impl<'de> Visitor<'de> for CheckedVisitor {
        type Value = Checked;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
            Ok(Checked)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
            Ok(Checked)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
            Ok(Checked)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
            Ok(Checked)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
            Ok(Checked)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
            Ok(Checked)
        }

        fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
            Ok(Checked)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Checked, D::Error> {
            Checked::deserialize(deserializer)
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
            while seq.next_element::<Checked>()?.is_some() {}
            Ok(Checked)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
            while map.next_entry::<Checked, Checked>()?.is_some() {}
            Ok(Checked)
        }
    }
}

/// A session id: a UUID v4 in canonical lowercase hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    uuid: Uuid,
    text: [u8; 36],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the session id must be a lowercase UUID v4 like 123e4567-e89b-42d3-a456-426614174000")]
    BadSession,
    #[error("the peer id must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -")]
    BadPeer,
}

impl SessionId {
    /// Parses the canonical form only: 36 characters, lowercase, hyphenated, version 4.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let uuid = Uuid::try_parse(text).map_err(|_| IdError::BadSession)?;
        let canonical = uuid.hyphenated().to_string();
        if canonical != text || uuid.get_version_num() != 4 {
            return Err(IdError::BadSession);
        }
        Ok(Self::from_uuid_unchecked(uuid))
    }

    /// A session id from 16 random bytes (the caller supplies the randomness).
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self::from_uuid_unchecked(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    fn from_uuid_unchecked(uuid: Uuid) -> Self {
        let mut text = [0u8; 36];
        uuid.hyphenated().encode_lower(&mut text);
        Self { uuid, text }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).expect("a hyphenated uuid is ASCII")
    }

    pub fn uuid(&self) -> Uuid {
        self.uuid
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer id: 8 to 64 characters of `[A-Za-z0-9_-]`, random per call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerId(String);

impl PeerId {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, IdError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len()) && text.chars().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::BadPeer)
        }
    }

    /// A peer id from 16 random bytes, as 32 hex digits.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn every_code_has_its_wire_name_and_text() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(!code.message_ru().is_empty());
        }
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
            assert!(validate::accepts(text, &session, &peer).is_some(), "{text}");
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
            assert_eq!(validate::accepts(text, &session, &peer), None, "{text}");
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

    #[test]
    fn session_ids_must_be_canonical_v4() {
        assert!(SessionId::parse(SESSION).is_ok());
        for bad in [
            "123E4567-E89B-42D3-A456-426614174000",
            "123e4567e89b42d3a456426614174000",
            "123e4567-e89b-12d3-a456-426614174000",
            "{123e4567-e89b-42d3-a456-426614174000}",
            "",
            "x",
        ] {
            assert_eq!(SessionId::parse(bad), Err(IdError::BadSession), "{bad}");
        }
        let random = SessionId::from_random_bytes([7; 16]);
        assert_eq!(SessionId::parse(random.as_str()), Ok(random));
    }

    #[test]
    fn peer_ids_are_eight_to_sixty_four_safe_characters() {
        assert!(PeerId::parse("abcdEFG_-1").is_ok());
        assert!(PeerId::parse(&"a".repeat(64)).is_ok());
        for bad in ["short", "", &"a".repeat(65), "has space", "ümlaut12"] {
            assert_eq!(PeerId::parse(bad), Err(IdError::BadPeer), "{bad}");
        }
        let random = PeerId::from_random_bytes([0xab; 16]);
        assert_eq!(PeerId::parse(random.as_str()), Ok(random));
    }
}
