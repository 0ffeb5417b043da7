//! The checks behind the `validate_frame` fuzz target, shared with the stable regression
//! test `tests/fuzz_corpus.rs` (both include this file with `#[path]`, and both have the
//! protocol module at `crate::protocol`). Every input must be handled without a panic;
//! the hub's `validate_client_frame` (a single pass for usual frames) must give the same
//! verdict and code as `validate_as_signal`, its definition (the frame parsed as the
//! other client parses it); and a frame the hub accepts must survive a round trip
//! through its own serialisation.

use crate::protocol::{
    Kind, PeerId, Rejection, SessionId, Signal, validate_as_signal, validate_client_frame,
};

/// The ids a socket is given when the input does not name valid ones itself.
pub const SESSION: &str = "123e4567-e89b-42d3-a456-426614174000";
pub const PEER: &str = "alice-0001";

/// What [`check`] found, for the regression test's coverage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not UTF-8: a binary frame, which the hub refuses before validation.
    NotText,
    /// Refused by validation.
    Refused,
    /// Accepted, and it round-tripped.
    Valid,
}

/// Runs one input through `SessionId::parse`, `PeerId::parse` and `validate_client_frame`
/// and panics if an invariant breaks.
pub fn check(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::NotText;
    };
    check_ids(text);
    let session = SessionId::parse(SESSION).expect("the fixed session id is valid");
    let peer = PeerId::parse(PEER).expect("the fixed peer id is valid");
    let mut outcome = validate(text, &session, &peer);
    // The ids the frame names itself, when they are well formed: the fuzzer need not
    // guess the fixed ones to reach the accepting paths.
    if let Some((named_session, named_peer)) = named_ids(text) {
        if validate(text, &named_session, &named_peer) == Outcome::Valid {
            outcome = Outcome::Valid;
        }
        // Named session, another socket's session: never accepted.
        let other = SessionId::from_random_bytes([0x5a; 16]);
        if other != named_session {
            match validate_client_frame(text, &other, &named_peer) {
                Ok(kind) => panic!("{kind} accepted for another session"),
                Err(Rejection::SignalNotFound | Rejection::BadMessage(_)) => {}
            }
        }
    }
    outcome
}

fn validate(text: &str, session: &SessionId, peer: &PeerId) -> Outcome {
    match (
        validate_client_frame(text, session, peer),
        validate_as_signal(text, session, peer),
    ) {
        (Ok(kind), Ok(signal)) => {
            assert_eq!(kind, signal.kind(), "the two validators name another type");
            assert_ne!(kind, Kind::Error, "a client error was accepted");
            round_trip(&signal, session, peer);
            Outcome::Valid
        }
        (Err(fast), Err(reference)) => {
            assert_eq!(fast.code(), reference.code(), "{fast} / {reference}");
            Outcome::Refused
        }
        (fast, reference) => {
            panic!("the validators disagree: hub {fast:?}, reference {reference:?}")
        }
    }
}

/// What a client would re-send from the parsed message must be valid too and mean the same.
fn round_trip(signal: &Signal<'_>, session: &SessionId, peer: &PeerId) {
    let json = signal.to_json();
    let again = validate_client_frame(&json, session, peer)
        .unwrap_or_else(|why| panic!("re-serialised frame refused ({why}): {json}"));
    assert_eq!(again, signal.kind(), "round trip changed the type: {json}");
    assert_eq!(
        &Signal::from_json(&json).expect("re-serialised frame parses"),
        signal,
        "round trip changed the message: {json}"
    );
    assert_eq!(&signal.clone().into_owned(), signal);
}

/// `sessionId` and `from` of a JSON object, if both are valid ids.
fn named_ids(text: &str) -> Option<(SessionId, PeerId)> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let session = SessionId::parse(value.get("sessionId")?.as_str()?).ok()?;
    let peer = PeerId::parse(value.get("from")?.as_str()?).ok()?;
    Some((session, peer))
}

/// Id parsing: accepted ids keep their exact text and parse again to themselves.
fn check_ids(text: &str) {
    for candidate in [text, text.trim()] {
        if let Ok(session) = SessionId::parse(candidate) {
            assert_eq!(session.as_str(), candidate);
            assert_eq!(candidate.len(), 36);
            assert_eq!(session.uuid().get_version_num(), 4);
            assert_eq!(SessionId::parse(session.as_str()), Ok(session));
        }
        if let Ok(peer) = PeerId::parse(candidate) {
            assert_eq!(peer.as_str(), candidate);
            assert!((PeerId::MIN_LEN..=PeerId::MAX_LEN).contains(&candidate.len()));
            assert!(
                candidate
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
            assert_eq!(PeerId::parse(peer.as_str()), Ok(peer));
        }
    }
}
