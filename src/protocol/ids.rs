//! The ids of PROTOCOL.md §1: [`SessionId`] (a UUID v4 in canonical form) and [`PeerId`].
//! Owns their formats; must not touch sessions.

use std::fmt;

use uuid::Uuid;

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
    use crate::protocol::*;

    const SESSION: &str = "123e4567-e89b-42d3-a456-426614174000";

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
