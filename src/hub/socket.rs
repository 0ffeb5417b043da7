//! The `/signal` WebSocket endpoint (PROTOCOL.md §1, §2, §6): with its [`admission`] and
//! [`sink`], the only hub code that knows axum.
//!
//! - [`admission`]: the HTTP side: origin, client address, the link's ids, per-address
//!   limits, the upgrade.
//! - this module: one task per accepted socket that validates client frames, answers
//!   errors, forwards frames through its [`Membership`], pings, and closes with the
//!   protocol's codes.
//! - [`sink`]: the socket's write half, shared so that the other participant's task can
//!   write a frame straight to it while it is idle.
//!
//! Must not touch session state directly (it asks the [`Hub`]) and never logs SDP or
//! candidate contents: only ids, types, sizes and outcomes.

/// An INFO line about one socket (`who`, a [`Who`]): its session and peer ids, then the
/// fields and message given, as `tracing::info!` takes them.
macro_rules! socket_info {
    ($who:expr, $($fields:tt)+) => {
        tracing::info!(session = $who.session(), peer = $who.peer(), $($fields)+)
    };
}

mod admission;
mod sink;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio::time::Instant;

use super::rate::RateLimiter;
use super::{
    DirectWrite, EndReason, Hub, HubLimits, JoinError, Membership, Outbound, SubmitError,
    Submitted, WriteNow,
};
use crate::protocol::{ErrorCode, Kind, PeerId, SessionId, Signal, close, validate_client_frame};
use admission::Link;
pub use admission::{SignalState, router};
use sink::SharedSink;

/// WebSocket read and write buffers: small, since messages are small and sockets many.
/// Public for the benchmark, whose bare relay uses the same sizes. tungstenite zero-fills
/// the whole read buffer, so it is resident for every idle socket: 2 KiB keeps an idle
/// socket under 8 KiB (larger frames are assembled across reads).
pub const SOCKET_BUFFER_BYTES: usize = 2 * 1024;

/// Whom a socket's log lines are about (PROTOCOL.md §8): its link's ids, or `-` for one
/// missing from a bad link.
///
/// The ids are fields of every event, not of a span around the socket's task: entering
/// a span on every poll and copying its fields onto every line cost more than the line
/// itself (BENCHMARKS.md, "What logging costs").
#[derive(Debug, Clone)]
pub(super) struct Who {
    session: Option<SessionId>,
    peer: Option<PeerId>,
}

impl Who {
    fn of(link: &Link) -> Self {
        match link {
            Ok((session, peer)) => Self {
                session: Some(*session),
                peer: Some(peer.clone()),
            },
            Err(session) => Self {
                session: *session,
                peer: None,
            },
        }
    }

    fn session(&self) -> &str {
        self.session.as_ref().map_or("-", SessionId::as_str)
    }

    fn peer(&self) -> &str {
        self.peer.as_ref().map_or("-", PeerId::as_str)
    }
}

/// One socket, from upgrade to close.
async fn serve(socket: WebSocket, hub: Arc<Hub>, link: Link) {
    let _live = hub.socket_guard();
    let limits = hub.limits().clone();
    let who = Who::of(&link);
    let (sink, mut stream) = socket.split();
    let sink = Arc::new(SharedSink::new(sink, who.clone()));
    let mut out = Out {
        sink: &sink,
        stream: &mut stream,
        limits: &limits,
    };
    let (session, peer) = match link {
        Ok(ids) => ids,
        Err(session) => {
            socket_info!(who, outcome = "bad_request", "signal link refused");
            hub.metrics().rejected(ErrorCode::BadRequest);
            let session = session.as_ref().map(SessionId::as_str);
            out.error(session, ErrorCode::BadRequest).await;
            out.close(close::POLICY, "bad link").await;
            return;
        }
    };
    let writer: Arc<dyn DirectWrite> = sink.clone();
    let member = match hub.join(session, peer, Some(writer)).await {
        Ok(member) => member,
        Err(refused) => {
            let sid = Some(session.as_str());
            socket_info!(who, outcome = %refused, "join refused");
            match refused {
                JoinError::SessionEnded => {
                    hub.metrics().rejected(ErrorCode::SessionEnded);
                    out.error(sid, ErrorCode::SessionEnded).await;
                    out.close(close::NORMAL, "session ended").await;
                }
                JoinError::SessionFull => {
                    hub.metrics().rejected(ErrorCode::SessionFull);
                    out.error(sid, ErrorCode::SessionFull).await;
                    out.close(close::POLICY, "session full").await;
                }
                JoinError::ShuttingDown => out.close(close::GOING_AWAY, "shutting down").await,
                JoinError::Overloaded => out.close(close::TRY_AGAIN_LATER, "overloaded").await,
                JoinError::Unavailable => {
                    out.close(close::TRY_AGAIN_LATER, "try again later").await;
                }
            }
            return;
        }
    };
    socket_info!(who, "socket joined");
    let ending = out.run(&member, &who).await;
    let sid = Some(session.as_str());
    match ending {
        Ending::HangUp => {
            let ended = member.hang_up().await;
            socket_info!(who, ended, "participant hung up");
            out.drain().await;
        }
        Ending::ClientClosed => {
            member.leave().await;
            socket_info!(who, "socket dropped by the client");
            out.drain().await;
        }
        Ending::Broken(reason) => {
            member.leave().await;
            socket_info!(who, reason, "socket dropped");
        }
        Ending::TooBig => {
            member.leave().await;
            socket_info!(who, "socket dropped: frame beyond the hard limit");
            out.close(close::TOO_BIG, "frame too large").await;
        }
        Ending::TooManyInvalid => {
            member.leave().await;
            socket_info!(who, "socket closed: too many invalid messages");
            out.close(close::POLICY, "too many invalid messages").await;
        }
        Ending::TooManyPings => {
            member.leave().await;
            socket_info!(who, "socket closed: pings beyond its rate");
            out.close(close::POLICY, "too many pings").await;
        }
        Ending::TooManyLargeFrames => {
            member.leave().await;
            socket_info!(who, "socket closed: too many sockets hold large frames");
            // Not waiting for the client's reply: the socket's grown buffer goes now.
            out.close_at_once(close::TRY_AGAIN_LATER, "too many large frames")
                .await;
        }
        Ending::NotUtf8 => {
            member.leave().await;
            socket_info!(who, "socket closed: a text frame that is not UTF-8");
            out.close(close::INVALID_PAYLOAD, "text is not UTF-8").await;
        }
        Ending::Replaced => {
            member.leave().await;
            socket_info!(who, "socket replaced by a reconnect");
            out.close(close::REPLACED, "replaced").await;
        }
        Ending::Ended(reason) => {
            member.leave().await;
            socket_info!(
                who,
                reason = reason.as_str(),
                "telling the client the session ended"
            );
            out.error(sid, ErrorCode::SessionEnded).await;
            out.close(close::NORMAL, "session ended").await;
        }
        Ending::ShuttingDown => {
            member.leave().await;
            out.close(close::GOING_AWAY, "server shutting down").await;
        }
        Ending::Unavailable => {
            member.leave().await;
            socket_info!(who, "socket closed: the hub's store is unavailable");
            out.close(close::TRY_AGAIN_LATER, "try again later").await;
        }
    }
}

/// How a socket's main loop ended, i.e. what is left to do.
enum Ending {
    /// The client closed with 1000: end the session.
    HangUp,
    /// The client closed with another code, or none: a drop.
    ClientClosed,
    /// The connection broke, went silent or could not be written: a drop.
    Broken(&'static str),
    /// A frame beyond the hard limit: close 1009 (a drop).
    TooBig,
    /// The last allowed invalid message: close 1008 (a drop).
    TooManyInvalid,
    /// Pings faster than the socket's message rate: close 1008 (a drop).
    TooManyPings,
    /// A text frame that is not UTF-8: close 1007 (a drop).
    NotUtf8,
    /// A frame over the message limit while the hub holds its maximum of sockets with a
    /// grown read buffer: close 1013 (a drop).
    TooManyLargeFrames,
    Replaced,
    Ended(EndReason),
    ShuttingDown,
    /// The engine's store could not take a frame: close 1013 (a drop; the client
    /// reconnects and sends again).
    Unavailable,
}

/// Why a client frame was not stored.
enum Refused {
    /// Answer with this error; the socket goes on.
    Answer(ErrorCode),
    /// The socket must end.
    End(Ending),
}

/// A socket as its own task drives it, with the hub's limits.
struct Out<'s> {
    sink: &'s SharedSink,
    stream: &'s mut SplitStream<WebSocket>,
    limits: &'s HubLimits,
}

/// Writing to the client failed or took too long: the socket is gone.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("the socket is closed or broken")]
    Broken,
    #[error("the client did not take the frame in time")]
    TimedOut,
}

impl Out<'_> {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.write(Some(message), self.limits.silence_timeout).await
    }

    /// Writes `message` and flushes, or with `None` only flushes (finishing a direct
    /// write the other participant's task started); gives up after `patience`.
    async fn write(
        &mut self,
        mut message: Option<Message>,
        patience: Duration,
    ) -> Result<(), SendError> {
        let sink = self.sink;
        // Most writes complete at once: try one poll before arming a timer, since every
        // dropped tokio timer takes the timer driver's lock (one lock per message).
        // Polling again below with the real waker replaces the no-op one.
        let at_once = {
            let mut now = std::task::Context::from_waker(std::task::Waker::noop());
            sink.poll_send(&mut now, &mut message)
        };
        let sent = match at_once {
            std::task::Poll::Ready(sent) => sent,
            std::task::Poll::Pending => {
                let rest = std::future::poll_fn(|cx| sink.poll_send(cx, &mut message));
                match tokio::time::timeout(patience, rest).await {
                    Ok(sent) => sent,
                    Err(_) => {
                        sink.abandon_write();
                        return Err(SendError::TimedOut);
                    }
                }
            }
        };
        sent.map_err(|_| SendError::Broken)
    }

    /// Sends one `error` to this socket's client (best effort: a broken socket ends soon).
    async fn error(&mut self, session: Option<&str>, code: ErrorCode) -> bool {
        let json = Signal::error(session, code).to_json();
        match self.send(Message::Text(json.into())).await {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(
                    session = session.unwrap_or("-"),
                    code = code.as_str(),
                    %error,
                    "error reply not sent"
                );
                false
            }
        }
    }

    /// Starts the closing handshake and waits (a little) for the client's reply. A client
    /// that does not take the close frame within the close grace is just cut off.
    async fn close(&mut self, code: u16, reason: &'static str) {
        if self.close_at_once(code, reason).await {
            self.drain().await;
        }
    }

    /// Sends a close frame without waiting for the client's reply; `true` if it was sent
    /// within the close grace.
    async fn close_at_once(&mut self, code: u16, reason: &'static str) -> bool {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let grace = self.limits.close_grace;
        self.write(Some(Message::Close(Some(frame))), grace)
            .await
            .is_ok()
    }

    /// Reads until the connection ends (this also writes any close reply owed), for at
    /// most the close grace.
    async fn drain(&mut self) {
        let stream = &mut *self.stream;
        let drained = async { while let Some(Ok(_)) = stream.next().await {} };
        let _ = tokio::time::timeout(self.limits.close_grace, drained).await;
    }

    /// Serves a joined socket until it ends: queued frames out, client frames in.
    async fn run(&mut self, member: &Membership, who: &Who) -> Ending {
        let limits = self.limits;
        let session = *member.session_id();
        let mut rate = RateLimiter::new(limits.rate_per_second, limits.rate_burst, Instant::now());
        // Once a frame over the message limit has grown this socket's read buffer (it
        // keeps that size for the socket's life), the socket holds one of the hub's
        // few places for such buffers.
        let mut large_frame_place = None;
        let mut ping =
            tokio::time::interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let silence = tokio::time::sleep(limits.silence_timeout);
        tokio::pin!(silence);
        let mut last_heard = Instant::now();
        // One wake-up future for the socket's life, renewed only when it fires: a new one
        // per loop would join and leave the Notify's waiter list once per frame.
        let changed = member.changed();
        tokio::pin!(changed);
        loop {
            // Biased: frames queued for the client go out before its next frame is read
            // (the join wakes `changed` at once, so the queue is sent first). Outbound
            // work is looked for only when woken: a wake-up is never lost (see
            // `Membership::changed`), and frames written directly by the other
            // participant's task need no wake-up at all.
            let received = tokio::select! {
                biased;
                () = &mut changed => {
                    changed.set(member.changed());
                    if let Some(ending) = self.flush_outbound(member, who).await {
                        return ending;
                    }
                    continue;
                }
                received = self.stream.next() => received,
                _ = ping.tick() => {
                    if self.send(Message::Ping(Bytes::new())).await.is_err() {
                        return Ending::Broken("ping not sent");
                    }
                    continue;
                }
                () = &mut silence => {
                    // Re-armed lazily: resetting the timer on every frame costs a timer
                    // re-registration per message.
                    let quiet_until = last_heard + limits.silence_timeout;
                    if quiet_until <= Instant::now() {
                        return Ending::Broken("nothing received in time");
                    }
                    silence.as_mut().reset(quiet_until);
                    continue;
                }
            };
            last_heard = Instant::now();
            if large_frame_place.is_none()
                && frame_len(&received).is_some_and(|len| len > limits.max_message_bytes)
            {
                match member.large_frame_place() {
                    Some(place) => large_frame_place = Some(place),
                    None => return Ending::TooManyLargeFrames,
                }
            }
            let refused = match received {
                None => return Ending::Broken("connection closed"),
                Some(Err(error)) => return read_failure(&error),
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(frame) if frame.code == close::NORMAL => Ending::HangUp,
                        _ => Ending::ClientClosed,
                    };
                }
                // A client's pings cost what its messages cost: the rate limit bounds the
                // pongs it can make the server write.
                Some(Ok(Message::Ping(_))) if rate.try_take(last_heard) => continue,
                Some(Ok(Message::Ping(_))) => return Ending::TooManyPings,
                Some(Ok(Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(data))) => {
                    log_rejected(who, "binary", data.len(), ErrorCode::BadMessage);
                    ErrorCode::BadMessage
                }
                Some(Ok(Message::Text(text))) => {
                    match self.accept(member, who, &mut rate, last_heard, text).await {
                        Ok(()) => continue,
                        Err(Refused::Answer(code)) => code,
                        Err(Refused::End(ending)) => return ending,
                    }
                }
            };
            member.metrics().rejected(refused);
            if !self.error(Some(session.as_str()), refused).await {
                return Ending::Broken("error reply not sent");
            }
            if !matches!(refused, ErrorCode::QueueFull | ErrorCode::RateLimited)
                && member.count_invalid().await >= limits.max_invalid_messages
            {
                return Ending::TooManyInvalid;
            }
        }
    }

    /// Validates one client text frame and hands it to the hub; `Err` is the error code
    /// to answer with. Order: size, then validity, then rate, then the queue bound. Only
    /// valid messages spend rate tokens (invalid ones are capped at 20 anyway), so
    /// `rate_limited` and `queue_full` always refuse valid messages (PROTOCOL.md §2).
    /// `now` is when the frame was read.
    async fn accept(
        &self,
        member: &Membership,
        who: &Who,
        rate: &mut RateLimiter,
        now: Instant,
        text: Utf8Bytes,
    ) -> Result<(), Refused> {
        let size = text.len();
        if size > self.limits.max_message_bytes {
            log_rejected(who, "unknown", size, ErrorCode::BadMessage);
            return Err(Refused::Answer(ErrorCode::BadMessage));
        }
        let kind = match validate_client_frame(text.as_str(), member.session_id(), member.peer_id())
        {
            Ok(kind) => kind,
            Err(rejection) => {
                let code = rejection.code();
                let kind = claimed_kind(text.as_str());
                socket_info!(who, kind, size, outcome = code.as_str(), why = %rejection, "message rejected");
                return Err(Refused::Answer(code));
            }
        };
        if !rate.try_take(now) {
            log_rejected(who, kind.as_str(), size, ErrorCode::RateLimited);
            return Err(Refused::Answer(ErrorCode::RateLimited));
        }
        // Copied into an allocation of its own: the received text may be a slice of a
        // large read buffer (after a large refused frame), which a queued slice would pin.
        let text = Bytes::copy_from_slice(text.as_bytes());
        let decision = match member.submit(kind, text.clone()).await {
            Ok(decision) => decision,
            Err(SubmitError::QueueFull) => {
                log_rejected(who, kind.as_str(), size, ErrorCode::QueueFull);
                return Err(Refused::Answer(ErrorCode::QueueFull));
            }
            // The loop learns why from `next_outbound` and closes accordingly.
            Err(refused @ (SubmitError::Ended | SubmitError::Replaced)) => {
                socket_info!(who, kind = kind.as_str(), size, outcome = %refused, "message dropped");
                return Ok(());
            }
            Err(SubmitError::Unavailable) => {
                socket_info!(
                    who,
                    kind = kind.as_str(),
                    size,
                    outcome = "unavailable",
                    "message not stored"
                );
                return Err(Refused::End(Ending::Unavailable));
            }
        };
        // The engine decided the recipient's socket is idle: write to it now, from here.
        // A frame written at once gets one log line, its delivery (the recipient's sink
        // writes it); any other gets "accepted" or "queued" here and "delivered" later.
        // Both lines come before `settle` wakes the recipient's task, so in that order.
        let Some(direct) = decision.direct else {
            log_accepted(who, kind, size, &decision.submitted);
            return Ok(());
        };
        let written = direct.writer().write_now(kind, &text);
        if written != WriteNow::Written {
            log_accepted(who, kind, size, &decision.submitted);
        }
        direct.settle(written);
        Ok(())
    }

    /// Writes every frame queued for this client, oldest first; `Some` when the socket
    /// must end instead.
    async fn flush_outbound(&mut self, member: &Membership, who: &Who) -> Option<Ending> {
        loop {
            match member.next_outbound().await {
                Outbound::Idle => return None,
                Outbound::Frame { seq, kind, text } => {
                    let size = text.len();
                    let Ok(text) = Utf8Bytes::try_from(text) else {
                        // Cannot happen: only text frames are queued. Skip rather than stall.
                        tracing::error!(
                            session = who.session(),
                            peer = who.peer(),
                            kind = kind.as_str(),
                            size,
                            "queued frame is not UTF-8"
                        );
                        member.delivered(seq).await;
                        continue;
                    };
                    if let Err(error) = self.send(Message::Text(text)).await {
                        socket_info!(who, kind = kind.as_str(), size, outcome = "kept", %error, "delivery failed");
                        return Some(Ending::Broken("delivery failed"));
                    }
                    member.delivered(seq).await;
                    log_delivered(who, kind, size);
                }
                Outbound::FinishWrite { seq, kind, size } => {
                    if let Err(error) = self.write(None, self.limits.silence_timeout).await {
                        socket_info!(who, kind = kind.as_str(), size, outcome = "kept", %error, "delivery failed");
                        return Some(Ending::Broken("delivery failed"));
                    }
                    member.delivered(seq).await;
                    log_delivered(who, kind, size);
                }
                Outbound::Replaced => return Some(Ending::Replaced),
                Outbound::Ended(reason) => return Some(Ending::Ended(reason)),
                Outbound::ShuttingDown => return Some(Ending::ShuttingDown),
            }
        }
    }
}

/// The payload length of a text or binary frame.
fn frame_len(received: &Option<Result<Message, axum::Error>>) -> Option<usize> {
    match received {
        Some(Ok(Message::Text(text))) => Some(text.len()),
        Some(Ok(Message::Binary(data))) => Some(data.len()),
        _ => None,
    }
}

/// The `type` a refused frame claims, for logs: one of the protocol's names or `unknown`
/// (never a string the client chose).
fn claimed_kind(text: &str) -> &'static str {
    #[derive(serde::Deserialize)]
    struct TypeOnly<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    let claimed = serde_json::from_str::<TypeOnly<'_>>(text)
        .ok()
        .and_then(|t| t.kind);
    match claimed.as_deref() {
        Some("offer") => "offer",
        Some("answer") => "answer",
        Some("candidate") => "candidate",
        Some("error") => "error",
        _ => "unknown",
    }
}

fn log_accepted(who: &Who, kind: Kind, size: usize, submitted: &Submitted) {
    let outcome = if submitted.recipient_connected {
        "accepted"
    } else {
        "queued"
    };
    socket_info!(
        who,
        kind = kind.as_str(),
        size,
        outcome,
        waiting = submitted.waiting,
        "message accepted"
    );
}

fn log_delivered(who: &Who, kind: Kind, size: usize) {
    socket_info!(
        who,
        kind = kind.as_str(),
        size,
        outcome = "delivered",
        "message delivered"
    );
}

fn log_rejected(who: &Who, kind: &str, size: usize, code: ErrorCode) {
    socket_info!(who, kind, size, outcome = code.as_str(), "message rejected");
}

/// A read error: a frame beyond the hard limit, text that is not UTF-8, or a broken
/// connection.
///
/// Recognised by tungstenite's messages for `Error::Capacity` ("Space limit exceeded:
/// ...") and `Error::Utf8` ("UTF-8 encoding error: ..."), not by downcasting: axum 0.8
/// releases move between tungstenite versions, and a downcast to another version's type
/// silently never matches.
fn read_failure(error: &axum::Error) -> Ending {
    let text = error.to_string();
    if text.starts_with("Space limit exceeded") {
        Ending::TooBig
    } else if text.starts_with("UTF-8 encoding error") {
        Ending::NotUtf8
    } else {
        Ending::Broken("read failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_frames_are_logged_by_their_claimed_type_only() {
        assert_eq!(claimed_kind(r#"{"type":"answer","sdp":5}"#), "answer");
        assert_eq!(claimed_kind(r#"{"type":"<script>"}"#), "unknown");
        assert_eq!(claimed_kind(r#"{"sdp":"x"}"#), "unknown");
        assert_eq!(claimed_kind("not json"), "unknown");
    }
}
