//! Core: the call state machine. Owns the phases of a call (idle → share-link →
//! connecting → in-call ⇄ reconnecting → ended, with the reason) and the pure transition
//! function between them. Must not touch the browser, the network or media: the
//! conductor (`contours::call`) turns their events into [`Event`]s.

use crate::protocol::{ErrorCode, SessionId};

/// Which side of the call this page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Pressed «Позвонить», shares the link and sends the offer.
    Host,
    /// Opened the link, answers the offer.
    Guest,
}

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The home view: nothing started.
    Idle,
    /// The host has a link to share and has not started the call yet.
    ShareLink { session: SessionId },
    /// Media, signalling and the peer connection are being set up.
    Connecting { session: SessionId, role: Role },
    /// Media flows both ways.
    InCall { session: SessionId, role: Role },
    /// The connection was lost and is being restored, with no action from the user.
    Reconnecting { session: SessionId, role: Role },
    /// The call is over, for this reason; `role` is the side this page was on (a page
    /// opened with a bad link is a guest's).
    Ended { reason: EndReason, role: Role },
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// This side pressed «Завершить».
    HungUp,
    /// The other side hung up (or the session timed out).
    PeerHungUp,
    /// The hub refused the call with this code (busy, ended link, bad link).
    Refused(ErrorCode),
    /// The URL's `session` value is not a call link.
    BadLink,
    /// The host opened its own link in another tab: that tab must not take the guest's
    /// seat.
    OwnLink,
}

/// Something that happened to the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// «Позвонить»: a new session id was made.
    CallPressed(SessionId),
    /// «Начать звонок» on the share-link view.
    StartPressed,
    /// The page was opened with a call link, as `role`.
    LinkOpened(SessionId, Role),
    /// Media flows between the two browsers.
    MediaFlowing,
    /// The peer connection or the signal socket was lost.
    ConnectionLost,
    /// This side pressed «Завершить».
    HangUp,
    /// The other side hung up.
    PeerHungUp,
    /// The hub answered with an error code.
    Refused(ErrorCode),
    /// The link just opened is one another tab of this browser hosts.
    OwnLinkOpened,
}

impl Phase {
    /// The session this phase belongs to, if any.
    pub fn session(&self) -> Option<SessionId> {
        match self {
            Phase::ShareLink { session }
            | Phase::Connecting { session, .. }
            | Phase::InCall { session, .. }
            | Phase::Reconnecting { session, .. } => Some(*session),
            Phase::Idle | Phase::Ended { .. } => None,
        }
    }

    /// The side this page is on, once it has one.
    pub fn role(&self) -> Option<Role> {
        match self {
            Phase::Idle => None,
            Phase::ShareLink { .. } => Some(Role::Host),
            Phase::Connecting { role, .. }
            | Phase::InCall { role, .. }
            | Phase::Reconnecting { role, .. }
            | Phase::Ended { role, .. } => Some(*role),
        }
    }

    /// Whether a call is under way (media and signalling should be running).
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            Phase::Connecting { .. } | Phase::InCall { .. } | Phase::Reconnecting { .. }
        )
    }
}

/// Which of camera and microphone a call goes without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Camera,
    Microphone,
    Both,
}

/// Why a device is missing, as far as the person can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingBecause {
    /// The person (or the browser's settings) said no: the steps to allow it.
    Denied,
    /// No such device, or another app holds it.
    NotFound,
    /// This browser gives pages no camera (an in-app browser): open the link elsewhere.
    Unsupported,
}

/// What the call goes without and why: the card that says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaTrouble {
    pub missing: Missing,
    pub because: MissingBecause,
}

impl MediaTrouble {
    /// Whether asking again can help (not in a browser that has no camera at all).
    pub fn can_retry(self) -> bool {
        self.because != MissingBecause::Unsupported
    }
}

/// A device a person may pick for the call's sending side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Microphone,
    Camera,
}

impl DeviceKind {
    /// The kind of track it gives: `audio` or `video`.
    pub fn track_kind(self) -> &'static str {
        match self {
            DeviceKind::Microphone => "audio",
            DeviceKind::Camera => "video",
        }
    }
}

/// Whether a side sends its camera and microphone: told to the other side over the call's
/// own data channel, so it can say so instead of showing a black picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Devices {
    pub cam: bool,
    pub mic: bool,
}

impl Default for Devices {
    /// Until a side says otherwise, it sends both.
    fn default() -> Devices {
        Devices {
            cam: true,
            mic: true,
        }
    }
}

impl Devices {
    /// The form it travels in: `cam=1 mic=0`.
    pub fn to_wire(self) -> String {
        let bit = |on: bool| if on { '1' } else { '0' };
        format!("cam={} mic={}", bit(self.cam), bit(self.mic))
    }

    /// Reads [`Devices::to_wire`]'s form; anything else is `None` (and is ignored: a bad
    /// message never ends a call).
    pub fn from_wire(text: &str) -> Option<Devices> {
        let mut fields = text.split(' ');
        let mut read = |name: &str| match fields.next()?.strip_prefix(name)? {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        };
        let devices = Devices {
            cam: read("cam=")?,
            mic: read("mic=")?,
        };
        fields.next().is_none().then_some(devices)
    }
}

/// How good the connection is, for the badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Good,
    Fair,
    Poor,
}

/// Grades a connection by its round-trip time and recent packet loss (percent).
pub fn grade(rtt_ms: f64, loss_percent: f64) -> Quality {
    if rtt_ms > 400.0 || loss_percent > 5.0 {
        Quality::Poor
    } else if rtt_ms > 150.0 || loss_percent > 1.0 {
        Quality::Fair
    } else {
        Quality::Good
    }
}

/// Packet loss in percent between two samples of the totals (packets lost, packets
/// received). Totals that went down (a new connection counts from zero) count as none.
pub fn loss_percent(before: (f64, f64), now: (f64, f64)) -> f64 {
    let lost = (now.0 - before.0).max(0.0);
    let received = (now.1 - before.1).max(0.0);
    if lost + received > 0.0 {
        lost / (lost + received) * 100.0
    } else {
        0.0
    }
}

/// The call timer's text: `m:ss`, or `h:mm:ss` from an hour on.
pub fn format_duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Whether a hub error ends the call (the others are reported and the call goes on).
pub fn ends_the_call(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::SessionEnded | ErrorCode::SessionFull | ErrorCode::BadRequest
    )
}

/// The phase after `event` happens in `phase`. Events that do not apply leave it as it is.
pub fn transition(phase: &Phase, event: Event) -> Phase {
    use Phase::*;
    match (phase, event) {
        (Idle | Ended { .. }, Event::CallPressed(session)) => ShareLink { session },
        (Idle | Ended { .. }, Event::LinkOpened(session, Role::Guest)) => Connecting {
            session,
            role: Role::Guest,
        },
        (Idle | Ended { .. }, Event::LinkOpened(session, Role::Host)) => ShareLink { session },
        (ShareLink { session }, Event::StartPressed) => Connecting {
            session: *session,
            role: Role::Host,
        },
        (ShareLink { .. }, Event::HangUp) => Idle,
        (Connecting { session, role } | Reconnecting { session, role }, Event::MediaFlowing) => {
            InCall {
                session: *session,
                role: *role,
            }
        }
        (InCall { session, role }, Event::ConnectionLost) => Reconnecting {
            session: *session,
            role: *role,
        },
        (Connecting { .. }, Event::OwnLinkOpened) => Ended {
            reason: EndReason::OwnLink,
            role: Role::Host,
        },
        (live, Event::HangUp) if live.is_live() => ended(live, EndReason::HungUp),
        (live, Event::PeerHungUp) if live.is_live() => ended(live, EndReason::PeerHungUp),
        (live, Event::Refused(ErrorCode::SessionEnded)) if live.is_live() => {
            let reason = if matches!(live, InCall { .. } | Reconnecting { .. }) {
                EndReason::PeerHungUp
            } else {
                EndReason::Refused(ErrorCode::SessionEnded)
            };
            ended(live, reason)
        }
        (live, Event::Refused(code)) if live.is_live() && ends_the_call(code) => {
            ended(live, EndReason::Refused(code))
        }
        (same, _) => same.clone(),
    }
}

/// The end of the call `live` was, for `reason`.
fn ended(live: &Phase, reason: EndReason) -> Phase {
    Phase::Ended {
        reason,
        role: live.role().unwrap_or(Role::Guest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionId {
        SessionId::from_random_bytes([1; 16])
    }

    fn run(events: impl IntoIterator<Item = Event>) -> Phase {
        events
            .into_iter()
            .fold(Phase::Idle, |phase, event| transition(&phase, event))
    }

    #[test]
    fn host_goes_from_idle_through_share_link_to_a_call() {
        let s = session();
        assert_eq!(
            run([Event::CallPressed(s)]),
            Phase::ShareLink { session: s }
        );
        assert_eq!(
            run([Event::CallPressed(s), Event::StartPressed]),
            Phase::Connecting {
                session: s,
                role: Role::Host
            }
        );
        assert_eq!(
            run([
                Event::CallPressed(s),
                Event::StartPressed,
                Event::MediaFlowing
            ]),
            Phase::InCall {
                session: s,
                role: Role::Host
            }
        );
    }

    #[test]
    fn guest_connects_straight_from_the_link() {
        let s = session();
        assert_eq!(
            run([Event::LinkOpened(s, Role::Guest), Event::MediaFlowing]),
            Phase::InCall {
                session: s,
                role: Role::Guest
            }
        );
    }

    #[test]
    fn a_lost_connection_reconnects_and_comes_back() {
        let s = session();
        let lost = run([
            Event::LinkOpened(s, Role::Guest),
            Event::MediaFlowing,
            Event::ConnectionLost,
        ]);
        assert_eq!(
            lost,
            Phase::Reconnecting {
                session: s,
                role: Role::Guest
            }
        );
        assert!(matches!(
            transition(&lost, Event::MediaFlowing),
            Phase::InCall { .. }
        ));
    }

    #[test]
    fn hang_up_on_either_side_ends_the_call() {
        let s = session();
        let in_call = run([Event::LinkOpened(s, Role::Guest), Event::MediaFlowing]);
        assert_eq!(
            transition(&in_call, Event::HangUp),
            Phase::Ended {
                reason: EndReason::HungUp,
                role: Role::Guest,
            }
        );
        assert_eq!(
            transition(&in_call, Event::PeerHungUp),
            Phase::Ended {
                reason: EndReason::PeerHungUp,
                role: Role::Guest,
            }
        );
        assert_eq!(
            transition(&in_call, Event::Refused(ErrorCode::SessionEnded)),
            Phase::Ended {
                reason: EndReason::PeerHungUp,
                role: Role::Guest,
            }
        );
    }

    #[test]
    fn a_busy_or_stale_link_ends_with_the_hub_reason() {
        let s = session();
        let connecting = run([Event::LinkOpened(s, Role::Guest)]);
        for code in [
            ErrorCode::SessionFull,
            ErrorCode::SessionEnded,
            ErrorCode::BadRequest,
        ] {
            assert_eq!(
                transition(&connecting, Event::Refused(code)),
                Phase::Ended {
                    reason: EndReason::Refused(code),
                    role: Role::Guest,
                }
            );
        }
    }

    #[test]
    fn the_end_remembers_which_side_this_page_was() {
        let s = session();
        let host = run([
            Event::CallPressed(s),
            Event::StartPressed,
            Event::MediaFlowing,
        ]);
        assert_eq!(
            transition(&host, Event::PeerHungUp),
            Phase::Ended {
                reason: EndReason::PeerHungUp,
                role: Role::Host,
            }
        );
        let guest = run([Event::LinkOpened(s, Role::Guest)]);
        assert_eq!(transition(&guest, Event::HangUp).role(), Some(Role::Guest));
        assert_eq!(run([Event::CallPressed(s)]).role(), Some(Role::Host));
        assert_eq!(Phase::Idle.role(), None);
    }

    #[test]
    fn the_hosts_own_link_in_another_tab_ends_there_as_the_hosts() {
        let s = session();
        let opened = run([Event::LinkOpened(s, Role::Guest)]);
        assert_eq!(
            transition(&opened, Event::OwnLinkOpened),
            Phase::Ended {
                reason: EndReason::OwnLink,
                role: Role::Host,
            }
        );
        let in_call = transition(&opened, Event::MediaFlowing);
        assert_eq!(transition(&in_call, Event::OwnLinkOpened), in_call);
    }

    #[test]
    fn device_states_travel_as_text_and_nothing_else_is_read() {
        for cam in [true, false] {
            for mic in [true, false] {
                let devices = Devices { cam, mic };
                assert_eq!(Devices::from_wire(&devices.to_wire()), Some(devices));
            }
        }
        assert_eq!(
            Devices {
                cam: false,
                mic: true
            }
            .to_wire(),
            "cam=0 mic=1"
        );
        for bad in [
            "",
            "cam=1",
            "cam=1 mic=2",
            "mic=1 cam=1",
            "cam=1 mic=1 x",
            "cam=yes mic=1",
        ] {
            assert_eq!(Devices::from_wire(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn passing_errors_keep_the_call() {
        let s = session();
        let in_call = run([Event::LinkOpened(s, Role::Guest), Event::MediaFlowing]);
        for code in [
            ErrorCode::BadMessage,
            ErrorCode::QueueFull,
            ErrorCode::RateLimited,
            ErrorCode::SignalNotFound,
        ] {
            assert_eq!(transition(&in_call, Event::Refused(code)), in_call);
        }
    }

    #[test]
    fn quality_follows_round_trip_time_and_loss() {
        assert_eq!(grade(40.0, 0.0), Quality::Good);
        assert_eq!(grade(200.0, 0.0), Quality::Fair);
        assert_eq!(grade(40.0, 2.0), Quality::Fair);
        assert_eq!(grade(500.0, 0.0), Quality::Poor);
        assert_eq!(grade(40.0, 10.0), Quality::Poor);
    }

    #[test]
    fn loss_counts_only_the_packets_between_two_samples() {
        assert_eq!(loss_percent((0.0, 0.0), (0.0, 0.0)), 0.0);
        assert_eq!(loss_percent((0.0, 0.0), (0.0, 500.0)), 0.0);
        assert_eq!(loss_percent((10.0, 1000.0), (20.0, 1090.0)), 10.0);
        assert_eq!(loss_percent((5.0, 100.0), (5.0, 100.0)), 0.0);
        // A new connection counts from zero: no negative loss, no loss from the old one.
        assert_eq!(loss_percent((50.0, 9000.0), (1.0, 99.0)), 0.0);
        assert_eq!(
            grade(80.0, loss_percent((0.0, 0.0), (3.0, 97.0))),
            Quality::Fair
        );
    }

    #[test]
    fn the_timer_reads_like_a_clock() {
        assert_eq!(format_duration(0), "0:00");
        assert_eq!(format_duration(75), "1:15");
        assert_eq!(format_duration(3600 + 5 * 60 + 9), "1:05:09");
    }

    #[test]
    fn events_that_do_not_apply_change_nothing() {
        assert_eq!(run([Event::MediaFlowing]), Phase::Idle);
        assert_eq!(run([Event::StartPressed]), Phase::Idle);
        let ended = Phase::Ended {
            reason: EndReason::HungUp,
            role: Role::Guest,
        };
        assert_eq!(transition(&ended, Event::PeerHungUp), ended);
        assert_eq!(
            transition(&ended, Event::CallPressed(session())),
            Phase::ShareLink { session: session() }
        );
    }
}
