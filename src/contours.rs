//! The client's contours, one module a concern (the design note's names):
//! - [`core`]: **Core**, the call's phases and the pure function that moves between them.
//! - [`env`]: **Env**, what the page learns from its URL and the tab's storage.
//! - `media` (browser): **Media**, camera and microphone.
//! - `rtc` (browser): **Rtc**, the `RTCPeerConnection`.
//! - `net` (browser): **Net**, the `/signal` client speaking [`crate::protocol`].
//! - [`doctor`]: the connection doctor's findings about the STUN/TURN servers, in words.
//! - [`chat`]: text lines and photos sent to the other side over the call's own channel.
//! - [`devices`]: picking the microphone, camera and speaker, and the microphone's level.
//! - [`verify`]: who is on the other end: the code both sides compare, and the devices
//!   verified on this one; `keystore` (browser) keeps this device's certificate and them.
//! - [`call`]: the page's call, its signals and the commands the views wire to buttons.
//! - `conductor` (browser): the running call's task, feeding Media, Rtc and Net events into
//!   Core and acting on its phases. Views read the phase; only the conductor moves it
//!   while a call runs.

pub mod call;
pub mod chat;
#[cfg(feature = "hydrate")]
pub mod conductor;
pub mod core;
pub mod devices;
pub mod doctor;
pub mod env;
#[cfg(feature = "hydrate")]
pub mod keystore;
#[cfg(feature = "hydrate")]
pub mod media;
#[cfg(feature = "hydrate")]
pub mod net;
#[cfg(feature = "hydrate")]
pub mod rtc;
pub mod verify;

/// The server's stand-in for a contour's browser-only state: a page rendered on the
/// server keeps none.
#[cfg(not(feature = "hydrate"))]
#[derive(Clone, Copy, Default)]
pub struct ServerHalf;

#[cfg(not(feature = "hydrate"))]
impl ServerHalf {
    pub fn new() -> ServerHalf {
        ServerHalf
    }
}
