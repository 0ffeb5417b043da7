//! The fast path of [`super::validate_client_frame`]: recognises the usual valid frame in one
//! pass, and leaves everything else to the definition.
//! Owns that pass only; must not decide anything it is not sure of.

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

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CandidateCheck, A::Error> {
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
