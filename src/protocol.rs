//! The wire types of `/signal` (PROTOCOL.md §1, §2, §5), defined once and used by both the
//! hub (server) and `Net` (browser). Owns: message shapes, error codes with their Russian
//! texts, id formats, close codes and client-message validation. Must not touch sockets,
//! sessions or the DOM: it is plain data and pure functions, compiled for both targets.
//!
//! - `messages`: [`Signal`] and its parts, with their exact wire form.
//! - `errors`: [`ErrorCode`], the codes of §5.
//! - `ids`: [`SessionId`] and [`PeerId`].
//! - `validate`: whether a client's frame is valid, and why not.
//! - `fast`: the single pass that recognises the usual valid frame.

// Paths spelled out: the fuzz target compiles this file in by `#[path]`, and a module
// loaded that way looks for its children beside it, not in `protocol/`.
#[path = "protocol/errors.rs"]
mod errors;
#[path = "protocol/fast.rs"]
mod fast;
#[path = "protocol/ids.rs"]
mod ids;
#[path = "protocol/messages.rs"]
mod messages;
#[path = "protocol/validate.rs"]
mod validate;

pub use errors::ErrorCode;
pub use ids::{IdError, PeerId, SessionId};
pub use messages::{IceCandidate, Kind, Route, Signal};
pub use validate::{Rejection, validate_as_signal, validate_client_frame};

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
