//! The conductor of a running call: one task per call that prepares Media, opens Net and
//! Rtc, and feeds their events, one at a time and in arrival order, into Core's
//! transition function (through [`Call::apply`]), following the W3C "perfect negotiation"
//! pattern with the guest as the polite peer. Owns the call's timers (reconnects, ICE
//! restarts, the media watchdog, TURN renewal) and the peer connection's lifetime. Must
//! not render anything or read the URL: views read [`Call`]'s signals, and Env says where
//! the call is.

use std::borrow::Cow;
use std::rc::Rc;

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures_util::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{MediaStreamTrack, RtcPeerConnectionState};

use crate::contours::call::Call;
use crate::contours::chat;
use crate::contours::core::{
    DeviceKind, Devices, Event, MediaTrouble, MissingBecause, Phase, Role, ends_the_call, grade,
    loss_percent,
};
use crate::contours::doctor::{Finding, Outcome, Reach};
use crate::contours::env::{self, PageConfig};
use crate::contours::keystore;
use crate::contours::media::{LocalMedia, MediaError};
use crate::contours::net::{Net, NetEvent};
use crate::contours::rtc::{Rtc, RtcEvent};
use crate::contours::verify;
use crate::logger;
use crate::protocol::{ErrorCode, IceCandidate, PeerId, Route, SessionId, Signal, close};

/// How long a connection may stay "disconnected" before an ICE restart.
const DISCONNECTED_GRACE_MS: u32 = 2_000;
/// How often a connection that is not back yet is restarted again.
const RESTART_EVERY_MS: u32 = 4_000;
/// How long an offer/answer exchange (either side's ICE restart) is left to finish
/// before this side restarts ICE on its own: a second restart on top of one under
/// way starts both sides' checks over (seen: 4.5 s back instead of 2.2 s when both
/// sides' timers fired half a second apart).
const NEGOTIATION_SETTLE_MS: u32 = 2_000;
/// How long after an offer/answer exchange a connection may take to come up before
/// an ICE restart.
const CONNECT_WITHIN_MS: u32 = 6_000;
/// How long both sides may try to connect before the page says it cannot, and what
/// the operator must add (it goes on trying).
const SAY_CANNOT_CONNECT_MS: u32 = 20_000;
/// How often `getStats` is read for the media watchdog.
const STATS_EVERY_MS: u32 = 500;
/// The quality badge is refreshed every this many reads (once a second), so that its
/// loss figure covers enough packets not to flicker.
const QUALITY_EVERY_READS: u32 = 2;
/// How long a connected call may receive nothing at all (no media, RTCP or ICE
/// check) before it counts as lost and ICE is restarted. When the address changes
/// (Wi-Fi to LTE) the browser takes 5 to 10 s to call the connection
/// "disconnected", but the packets stop at once. A live connection receives ICE
/// checks at least every 2.5 s even when the other side sends no media.
const MEDIA_STALL_MS: f64 = 2_500.0;
/// How soon a refused renewal of the TURN credentials is tried again.
const RENEW_RETRY_MS: u32 = 5_000;
/// How long a guest's open socket may go without an offer before the page says the
/// host has not started yet (an offer the hub holds arrives within milliseconds).
const HOST_ABSENT_AFTER_MS: u32 = 1_200;

/// One thing for the call's task to handle, in arrival order.
pub enum Input {
    Net(NetEvent),
    /// An event of the peer connection with this id.
    Rtc(u32, RtcEvent),
    /// Time to check whether the connection with this id came back.
    CheckConnection(u32),
    /// Time to say the call cannot connect, if the connection with this id still is
    /// not up.
    SayIfNotConnected(u32),
    /// The camera and microphone are settled: open (with whatever devices there are), or
    /// `None` when there are none.
    MediaReady(Option<Rc<LocalMedia>>),
    /// The user turned the camera or microphone on or off.
    DevicesChanged,
    /// Time to read the connection's statistics (the media watchdog, the badge).
    Stats,
    /// The page became visible again (the wake lock needs renewing).
    Visible,
    /// Move to the next camera.
    SwitchCamera,
    /// Send what this microphone or camera (its device id) gives instead.
    UseDevice(DeviceKind, String),
    /// Ask for the missing camera or microphone again.
    RetryMedia,
    /// Time to say the host has not started, if no offer came yet.
    CheckHostThere,
    /// Probe the STUN and TURN servers (the connection doctor).
    Examine,
    /// The TURN credentials are due for renewal.
    RenewConfig,
    HangUp,
}

/// Starts the call's task; commands reach it through [`Call`] (see [`Input`]).
pub fn start(call: Call, session: SessionId, role: Role, peer: &str) {
    let Ok(peer) = PeerId::parse(peer) else {
        return;
    };
    // A new call's timer starts from its own first media, not the last call's.
    call.in_call_since.set(None);
    let (tx, rx) = unbounded();
    call.browser.commands.set_value(Some(tx.clone()));
    spawn_local(conduct(call, session, role, peer, tx, rx));
}

/// A fresh, random peer-connection id.
fn new_pc_id() -> u32 {
    let bytes = env::random_bytes::<4>();
    u32::from_le_bytes(bytes)
}

/// Runs one call from media to hang-up, handling every event in arrival order.
async fn conduct(
    call: Call,
    session: SessionId,
    role: Role,
    peer: PeerId,
    tx: UnboundedSender<Input>,
    mut rx: UnboundedReceiver<Input>,
) {
    let sid = session.to_string();
    logger::event(&sid, format_args!("call starts as {role:?}"));
    // The socket first: its being live is what TURN credentials ask for. Its events
    // wait in the queue until the connection below exists.
    let net = Net::start_signal(env::signal_url(&env::origin(), &session, peer.as_str()), {
        let tx = tx.clone();
        move |event| {
            let _ = tx.unbounded_send(Input::Net(event));
        }
    });
    // This device's certificate (a stable fingerprint for Verify) comes while the
    // configuration does.
    let (config, identity) = futures_util::future::join(
        env::fetch_page_config(&session, peer.as_str()),
        keystore::identity(),
    )
    .await;
    let rtc = match new_rtc(&config, identity.as_ref().map(|i| &i.certificate), &tx) {
        Ok(rtc) => rtc,
        Err(error) => {
            logger::warn(&sid, format_args!("no peer connection: {error}"));
            call.notice.set(Some(call.texts().no_webrtc.into()));
            net.leave();
            return;
        }
    };
    let _listeners = reconnect_triggers(&net, &tx);
    tick(&tx, STATS_EVERY_MS, || Input::Stats);
    let mut conductor = Conductor {
        call,
        session,
        peer,
        role,
        config,
        identity,
        media: None,
        media_coming: true,
        net,
        rtc,
        remote_pc: None,
        signal_dropped: false,
        signal_failures: 0,
        wake_lock: None,
        last_packets: (0.0, 0.0),
        last_bytes: 0.0,
        stats_reads: 0,
        media_seen_at: js_sys::Date::now(),
        stall_restarted_at: None,
        negotiated_at: 0.0,
        trying_since: None,
        examining: Rc::default(),
        examined: false,
        tx,
    };
    conductor.renew_config_later();
    // The connection does not wait for the camera and microphone: an offer the hub had
    // queued (already in, with the early socket) is answered first, and the tracks join
    // when they are ready (Input::MediaReady), with no renegotiation. Opening them only
    // then keeps the page's main thread for the answer (measured: BENCHMARKS.md).
    let is_live = || call.phase.get_untracked().is_live();
    let mut live = true;
    while live && let Ok(input) = rx.try_recv() {
        conductor.handle(input).await;
        live = is_live();
    }
    if live {
        spawn_local(open_media(call, sid.clone(), conductor.tx.clone()));
    }
    while live && let Some(input) = rx.next().await {
        conductor.handle(input).await;
        live = is_live();
    }
    conductor.finish();
}

/// Opens camera and microphone for the call and hands them to its task; if the call is
/// over by then, closes them again.
async fn open_media(call: Call, sid: String, tx: UnboundedSender<Input>) {
    let media = prepare_media(call, &sid).await;
    let has_video = media.as_ref().is_some_and(|media| media.has_video());
    if tx.unbounded_send(Input::MediaReady(media)).is_err() {
        call.browser.media.stop();
        return;
    }
    if has_video {
        call.camera_count.set(LocalMedia::camera_count().await);
    }
}

async fn prepare_media(call: Call, sid: &str) -> Option<Rc<LocalMedia>> {
    let prepared = call.browser.media.start().await;
    if let Some((missing, error)) = &prepared.problem {
        logger::warn(sid, format_args!("missing {missing:?}: {error}"));
        call.media_trouble.set(Some(MediaTrouble {
            missing: *missing,
            because: missing_because(error),
        }));
        call.trouble_card_open.set(true);
    } else {
        call.media_trouble.set(None);
        call.trouble_card_open.set(false);
    }
    let media = prepared.media;
    call.has_camera
        .set(media.as_ref().is_some_and(|media| media.has_video()));
    call.has_mic
        .set(media.as_ref().is_some_and(|media| media.has_audio()));
    crate::contours::call::apply_toggles(call);
    media
}

/// How long each server's probe may take.
const PROBE_MS: u32 = 5_000;

/// Probes every server URL of `config` and puts the report on the call.
async fn examine(call: Call, config: PageConfig, lead: Option<&'static str>) {
    // One server after another, in the configuration's order: a server that answers
    // does so in well under a second; only one that does not takes its whole time.
    let mut findings = Vec::new();
    for server in &config.ice_servers {
        for url in &server.urls {
            let outcome = crate::contours::rtc::probe(server, url, PROBE_MS).await;
            if let (Some(outcome), Some(reach)) = (outcome, Reach::of_url(url)) {
                findings.push(Finding {
                    url: url.clone(),
                    reach,
                    outcome,
                });
            }
        }
    }
    let answering = findings
        .iter()
        .filter(|f| f.outcome == Outcome::Works)
        .count();
    logger::event(
        "-",
        format_args!(
            "connection doctor: {answering} of {} servers answer",
            findings.len()
        ),
    );
    let report = crate::contours::doctor::report(call.texts(), &findings);
    call.notice.try_set(Some(
        lead.map_or(report.clone(), |lead| format!("{lead}\n{report}")),
    ));
}

/// Why a device is missing, as the person can act on it.
fn missing_because(error: &MediaError) -> MissingBecause {
    match error {
        MediaError::Denied => MissingBecause::Denied,
        MediaError::Unsupported => MissingBecause::Unsupported,
        MediaError::NotFound | MediaError::Failed(_) => MissingBecause::NotFound,
    }
}

/// A new peer connection (for the call's start, or when the other side's page is new),
/// its events going to the call's task. Media and receive-only transceivers are added by
/// [`Conductor::equip`], once the camera and microphone are settled.
fn new_rtc(
    config: &PageConfig,
    certificate: Option<&web_sys::RtcCertificate>,
    tx: &UnboundedSender<Input>,
) -> Result<Rtc, crate::contours::rtc::RtcError> {
    let tx = tx.clone();
    Rtc::new(new_pc_id(), config, certificate, move |id, event| {
        let _ = tx.unbounded_send(Input::Rtc(id, event));
    })
}

/// Reconnects the signal socket at once when the network comes back or the page is
/// shown again, instead of waiting for the backoff.
fn reconnect_triggers(net: &Net, tx: &UnboundedSender<Input>) -> Vec<env::Listener> {
    let mut listeners = vec![env::listen(&env::window_target(), "online", {
        let net = net.clone();
        move |_| net.reconnect_now()
    })];
    if let Some(document) = env::document_target() {
        listeners.push(env::listen(&document, "visibilitychange", {
            let net = net.clone();
            let tx = tx.clone();
            move |_| {
                if env::page_visible() {
                    net.reconnect_now();
                    let _ = tx.unbounded_send(Input::Visible);
                }
            }
        }));
    }
    listeners
}

/// Sends `input()` to the call's task every `ms` until the task is gone.
fn tick(tx: &UnboundedSender<Input>, ms: u32, input: fn() -> Input) {
    let tx = tx.clone();
    let interval = Rc::new(std::cell::Cell::new(
        None::<gloo_timers::callback::Interval>,
    ));
    let slot = interval.clone();
    interval.set(Some(gloo_timers::callback::Interval::new(ms, move || {
        if tx.unbounded_send(input()).is_err() {
            slot.take();
        }
    })));
}

/// The state of one running call: the W3C "perfect negotiation" pattern with the guest
/// as the polite peer, plus peer-connection ids so a reloaded page gets a fresh one.
struct Conductor {
    call: Call,
    session: SessionId,
    peer: PeerId,
    role: Role,
    config: PageConfig,
    /// This device's certificate, for every peer connection of the call, and its
    /// successor's fingerprint.
    identity: Option<keystore::Identity>,
    /// The camera and microphone, once settled ([`Conductor::media_coming`] until then).
    media: Option<Rc<LocalMedia>>,
    /// The camera and microphone are still opening.
    media_coming: bool,
    net: Net,
    rtc: Rtc,
    /// The other side's current peer-connection id, once known.
    remote_pc: Option<u32>,
    /// The signal socket dropped since it was last open.
    signal_dropped: bool,
    /// Drops in a row without the socket opening in between.
    signal_failures: u32,
    /// The screen wake lock held during the call, if the browser gave one.
    wake_lock: Option<wasm_bindgen::JsValue>,
    /// Totals of the previous statistics sample: (packets lost, packets received).
    last_packets: (f64, f64),
    /// Bytes received over the connection at the previous statistics sample.
    last_bytes: f64,
    /// Statistics reads so far (the badge is refreshed on every
    /// [`QUALITY_EVERY_READS`]th).
    stats_reads: u32,
    /// When a statistics sample last showed bytes received (or the connection was
    /// not up yet), in `Date.now()` milliseconds.
    media_seen_at: f64,
    /// When the media watchdog last restarted ICE; `None` while media flows.
    stall_restarted_at: Option<f64>,
    /// When this side last sent an offer or took one or an answer (`Date.now()`
    /// milliseconds; 0 before any).
    negotiated_at: f64,
    /// Since when (`Date.now()`) both sides have been trying to connect; `None` once
    /// connected.
    trying_since: Option<f64>,
    /// The connection doctor is probing the servers now; it has run in this call.
    examining: Rc<std::cell::Cell<bool>>,
    examined: bool,
    tx: UnboundedSender<Input>,
}

impl Conductor {
    fn sid(&self) -> &str {
        self.session.as_str()
    }

    fn polite(&self) -> bool {
        self.role == Role::Guest
    }

    fn route(&self) -> (Option<u32>, Option<u32>) {
        (Some(self.rtc.id()), self.remote_pc)
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::HangUp => {
                logger::event(self.sid(), format_args!("hang-up"));
                self.call.apply(Event::HangUp);
            }
            Input::Net(event) => self.on_net(event).await,
            Input::Rtc(id, event) if id == self.rtc.id() => self.on_rtc(event).await,
            Input::Rtc(..) => {}
            Input::CheckConnection(id) if id == self.rtc.id() => self.check_connection().await,
            Input::CheckConnection(_) => {}
            Input::SayIfNotConnected(id) if id == self.rtc.id() && !self.connected() => {
                self.say_cannot_connect();
            }
            Input::SayIfNotConnected(_) => {}
            Input::MediaReady(media) => {
                self.media = media;
                self.media_coming = false;
                self.equip();
                self.rtc.tell_devices(self.devices());
            }
            Input::DevicesChanged => self.rtc.tell_devices(self.devices()),
            Input::Stats => self.refresh_quality().await,
            Input::SwitchCamera => self.switch_camera().await,
            Input::UseDevice(kind, id) => self.use_device(kind, &id).await,
            Input::RetryMedia => {
                spawn_local(open_media(
                    self.call,
                    self.sid().to_owned(),
                    self.tx.clone(),
                ));
            }
            Input::Examine => self.examine(None),
            Input::CheckHostThere => {
                let absent = self.role == Role::Guest && self.remote_pc.is_none();
                self.call.host_absent.set(absent);
            }
            Input::RenewConfig => self.renew_config().await,
            Input::Visible => {
                if matches!(self.call.phase.get_untracked(), Phase::InCall { .. }) {
                    self.hold_wake_lock().await;
                }
            }
        }
    }

    async fn on_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Open => {
                logger::event(self.sid(), format_args!("signal open"));
                self.signal_failures = 0;
                if self.role == Role::Guest && self.remote_pc.is_none() {
                    self.later(HOST_ABSENT_AFTER_MS, Input::CheckHostThere);
                }
                let unreachable = self.call.texts().hub_unreachable;
                if self.call.notice.get_untracked().as_deref() == Some(unreachable) {
                    self.call.notice.set(None);
                }
                if std::mem::take(&mut self.signal_dropped) && !self.connected() {
                    // Messages may have been lost while the socket was down.
                    self.offer(true).await;
                }
            }
            NetEvent::Message(signal) => self.on_signal(signal).await,
            NetEvent::Dropped { code, retrying } => {
                logger::warn(
                    self.sid(),
                    format_args!("signal dropped ({code}), retrying: {retrying}"),
                );
                self.signal_dropped = true;
                self.signal_failures += 1;
                // Still down after a few quick retries, with no call to fall back on:
                // say so (the retries go on).
                if self.signal_failures >= 3 && !self.connected() {
                    self.call
                        .notice
                        .set(Some(self.call.texts().hub_unreachable.to_owned()));
                }
                if code == close::REPLACED {
                    self.call
                        .notice
                        .set(Some(self.call.texts().other_tab.to_owned()));
                }
            }
            NetEvent::Ended => self.call.apply(Event::PeerHungUp),
        }
    }

    async fn on_signal(&mut self, signal: Signal<'static>) {
        logger::event(self.sid(), format_args!("received {}", signal.kind()));
        let route = signal.route();
        let from_the_other_side = !matches!(signal, Signal::Error { .. });
        let result = match signal {
            Signal::Offer { sdp, .. } => self.on_offer(&sdp, route).await,
            Signal::Answer { sdp, .. } => self.on_answer(&sdp, route).await,
            Signal::Candidate { candidate, .. } => {
                self.on_candidate(candidate.as_ref(), route).await
            }
            Signal::Error { code, message, .. } => {
                self.on_error(code, &message);
                Ok(())
            }
        };
        if let Err(error) = result {
            logger::warn(self.sid(), format_args!("signal not applied: {error}"));
        }
        if from_the_other_side {
            self.start_trying();
        }
    }

    async fn on_offer(
        &mut self,
        sdp: &str,
        route: Route,
    ) -> Result<(), crate::contours::rtc::RtcError> {
        let from_new_page =
            matches!((self.remote_pc, route.pc), (Some(known), Some(pc)) if known != pc);
        if from_new_page {
            logger::event(
                self.sid(),
                format_args!("the other side has a new connection"),
            );
            self.renew_rtc();
        } else if !self.rtc.is_stable() && !self.polite() {
            logger::event(self.sid(), format_args!("offer collision: keeping ours"));
            return Ok(());
        }
        let answer = self.rtc.accept_offer(sdp, self.media_coming).await?;
        self.remote_pc = route.pc;
        self.call.host_absent.set(false);
        self.negotiated_at = js_sys::Date::now();
        self.check_later(CONNECT_WITHIN_MS);
        let (pc, to_pc) = self.route();
        self.net.send(&Signal::Answer {
            session_id: Cow::Borrowed(self.session.as_str()),
            from: Cow::Borrowed(self.peer.as_str()),
            sdp: Cow::Owned(answer),
            pc,
            to_pc,
        });
        Ok(())
    }

    async fn on_answer(
        &mut self,
        sdp: &str,
        route: Route,
    ) -> Result<(), crate::contours::rtc::RtcError> {
        let for_us = route.to_pc.is_none_or(|to| to == self.rtc.id());
        if !for_us || self.rtc.is_stable() {
            logger::event(self.sid(), format_args!("stale answer dropped"));
            return Ok(());
        }
        self.rtc.accept_answer(sdp).await?;
        self.remote_pc = route.pc;
        self.negotiated_at = js_sys::Date::now();
        self.check_later(CONNECT_WITHIN_MS);
        Ok(())
    }

    async fn on_candidate(
        &mut self,
        candidate: Option<&IceCandidate<'_>>,
        route: Route,
    ) -> Result<(), crate::contours::rtc::RtcError> {
        let current = route.pc.is_none() || route.pc == self.remote_pc;
        let for_us = route.to_pc.is_none_or(|to| to == self.rtc.id());
        if !current || !for_us {
            return Ok(());
        }
        self.rtc.add_remote_candidate(candidate).await
    }

    fn on_error(&mut self, code: ErrorCode, message: &str) {
        logger::warn(self.sid(), format_args!("hub error {code}"));
        logger::event(self.sid(), format_args!("hub says: {message}"));
        if ends_the_call(code) {
            self.call.apply(Event::Refused(code));
        } else {
            self.call.flash(self.call.texts().error(code));
        }
    }

    async fn on_rtc(&mut self, event: RtcEvent) {
        match event {
            // No waiting for the other side's offer: one the hub had queued for this
            // side came in first (the queue is delivered on connect, and its frames are
            // handled before the connection's first event); one still on its way meets
            // ours in a glare, which perfect negotiation settles (the guest gives way).
            RtcEvent::NegotiationNeeded => {
                if self.rtc.is_stable() {
                    self.offer(false).await;
                }
            }
            RtcEvent::LocalCandidate(candidate) => {
                let (pc, to_pc) = self.route();
                self.net.send(&Signal::Candidate {
                    session_id: Cow::Borrowed(self.session.as_str()),
                    from: Cow::Borrowed(self.peer.as_str()),
                    candidate,
                    pc,
                    to_pc,
                });
            }
            RtcEvent::RemoteStream(stream) => self.call.browser.remote.set(Some(stream)),
            RtcEvent::State(state) => self.on_state(state).await,
            RtcEvent::DevicesChannelOpen => self.rtc.tell_devices(self.devices()),
            RtcEvent::PeerDevices(devices) => self.call.peer_devices.set(devices),
        }
    }

    async fn on_state(&mut self, state: RtcPeerConnectionState) {
        logger::event(self.sid(), format_args!("connection {state:?}"));
        match state {
            RtcPeerConnectionState::Connected => {
                self.forget_connect_trouble();
                self.call.apply(Event::MediaFlowing);
                if self.call.in_call_since.get_untracked().is_none() {
                    self.call.in_call_since.set(Some(js_sys::Date::now()));
                }
                self.hold_wake_lock().await;
            }
            RtcPeerConnectionState::Disconnected => {
                self.call.apply(Event::ConnectionLost);
                self.start_trying();
                self.check_later(DISCONNECTED_GRACE_MS);
            }
            RtcPeerConnectionState::Failed => {
                self.call.apply(Event::ConnectionLost);
                self.start_trying();
                self.offer(true).await;
                self.check_later(RESTART_EVERY_MS);
            }
            _ => {}
        }
    }

    fn connected(&self) -> bool {
        self.rtc.state() == RtcPeerConnectionState::Connected
    }

    /// Restarts ICE if the connection has not come back by itself, unless an
    /// exchange is still settling (then it looks again once that had its time).
    async fn check_connection(&mut self) {
        if self.connected() {
            return;
        }
        if let Some(wait_ms) = self.negotiation_settling() {
            self.check_later(wait_ms);
            return;
        }
        logger::event(self.sid(), format_args!("restarting ICE"));
        self.offer(true).await;
        self.check_later(RESTART_EVERY_MS);
    }

    /// How much longer the last offer/answer exchange is left to finish, if it is
    /// within [`NEGOTIATION_SETTLE_MS`].
    fn negotiation_settling(&self) -> Option<u32> {
        let since = js_sys::Date::now() - self.negotiated_at;
        let left = f64::from(NEGOTIATION_SETTLE_MS) - since;
        (left > 0.0).then(|| left.ceil() as u32)
    }

    /// Not connected, and the other side is there (it signalled, or the connection
    /// was up): in [`SAY_CANNOT_CONNECT_MS`] the page says so if it still is not.
    /// Any signal from the other side starts it, not only an accepted offer or
    /// answer, so a lost or stale answer cannot keep the notice away.
    fn start_trying(&mut self) {
        if self.trying_since.is_none() && !self.connected() {
            self.trying_since = Some(js_sys::Date::now());
            self.later(
                SAY_CANNOT_CONNECT_MS,
                Input::SayIfNotConnected(self.rtc.id()),
            );
        }
    }

    /// The notice for a call that does not connect, and the connection doctor, which
    /// says in plain words what fails and what the operator must add.
    fn say_cannot_connect(&mut self) {
        let text = self.call.texts().cannot_connect;
        if !self
            .call
            .notice
            .with_untracked(|n| n.as_deref().is_some_and(|n| n.starts_with(text)))
        {
            let has_turn = self.config.ice_servers.iter().any(|server| {
                server
                    .urls
                    .iter()
                    .any(|url| Reach::of_url(url).is_some_and(Reach::is_turn))
            });
            logger::warn(
                self.sid(),
                format_args!("cannot connect (TURN offered: {has_turn})"),
            );
            self.call.notice.set(Some(text.to_owned()));
            if !self.examined {
                self.examine(Some(text));
            }
        }
    }

    /// Starts the connection doctor on this call's servers (with its TURN credentials),
    /// unless it is running already; its report replaces the notice, after `lead` (what
    /// made it run), and stays until closed.
    fn examine(&mut self, lead: Option<&'static str>) {
        if self.examining.replace(true) {
            return;
        }
        self.examined = true;
        let (call, config) = (self.call, self.config.clone());
        let running = self.call.texts().doctor_running;
        self.call.notice.set(Some(
            lead.map_or(running.to_owned(), |lead| format!("{lead}\n{running}")),
        ));
        let examining = Rc::clone(&self.examining);
        spawn_local(async move {
            examine(call, config, lead).await;
            examining.set(false);
        });
    }

    /// Connected: a "cannot connect" notice is out of date.
    fn forget_connect_trouble(&mut self) {
        self.trying_since = None;
        let text = self.call.texts().cannot_connect;
        let stale = self
            .call
            .notice
            .with_untracked(|notice| notice.as_deref().is_some_and(|n| n.starts_with(text)));
        if stale {
            self.call.notice.set(None);
        }
    }

    fn check_later(&self, ms: u32) {
        self.later(ms, Input::CheckConnection(self.rtc.id()));
    }

    /// Hands `input` to this task in `ms` milliseconds.
    fn later(&self, ms: u32, input: Input) {
        let tx = self.tx.clone();
        gloo_timers::callback::Timeout::new(ms, move || {
            let _ = tx.unbounded_send(input);
        })
        .forget();
    }

    /// Sends an offer from the current connection (with new ICE credentials when
    /// `ice_restart`).
    async fn offer(&mut self, ice_restart: bool) {
        if !self.rtc.is_stable() && !ice_restart {
            return;
        }
        match self.rtc.create_offer(ice_restart).await {
            Ok(sdp) => {
                self.negotiated_at = js_sys::Date::now();
                let (pc, to_pc) = self.route();
                self.net.send(&Signal::Offer {
                    session_id: Cow::Borrowed(self.session.as_str()),
                    from: Cow::Borrowed(self.peer.as_str()),
                    sdp: Cow::Owned(sdp),
                    pc,
                    to_pc,
                });
            }
            Err(error) => logger::warn(self.sid(), format_args!("offer failed: {error}")),
        }
    }

    /// Replaces the peer connection with a fresh one (the other side reloaded).
    fn renew_rtc(&mut self) {
        self.rtc.close();
        self.remote_pc = None;
        self.trying_since = None;
        self.call.peer_devices.set(Devices::default());
        self.call.apply(Event::ConnectionLost);
        let certificate = self.identity.as_ref().map(|i| &i.certificate);
        match new_rtc(&self.config, certificate, &self.tx) {
            Ok(rtc) => {
                self.rtc = rtc;
                self.equip();
            }
            Err(error) => logger::warn(self.sid(), format_args!("no new connection: {error}")),
        }
    }

    /// Gives the connection this side's tracks, once the camera and microphone are
    /// settled; a host also receives audio and video where it sends neither.
    fn equip(&mut self) {
        if self.media_coming {
            return;
        }
        if let Some(media) = &self.media {
            self.rtc.send_local_media(media);
        }
        if self.role == Role::Host {
            self.rtc.receive_audio_and_video();
        }
        self.rtc.open_devices_channel();
        if let Some(channel) = self.rtc.open_chat_channel() {
            chat::attach(self.call, channel);
        }
        if let Some((channel, descriptions)) = self.rtc.open_verify_channel() {
            let successor = self.identity.as_ref().and_then(|i| i.successor.clone());
            verify::attach(self.call, channel, descriptions, successor);
        }
    }

    /// This side's camera and microphone state, as the toggles have it.
    fn devices(&self) -> Devices {
        Devices {
            cam: self.call.cam_on.get_untracked() && self.call.has_camera.get_untracked(),
            mic: self.call.mic_on.get_untracked() && self.call.has_mic.get_untracked(),
        }
    }

    /// Schedules the renewal of the TURN credentials, if they expire.
    fn renew_config_later(&self) {
        if let Some(seconds) = self.config.renew_after_seconds {
            let ms = u32::try_from(seconds.saturating_mul(1000)).unwrap_or(u32::MAX);
            self.later(ms, Input::RenewConfig);
        }
    }

    /// Fetches fresh TURN credentials (the live socket is the proof) and moves the
    /// connection onto them with an ICE restart, which keeps the current path until
    /// the new one works (the old credentials would stop the relay when they expire).
    async fn renew_config(&mut self) {
        let config = env::fetch_page_config(&self.session, self.peer.as_str()).await;
        if config.renew_after_seconds.is_none() {
            // Refused (the socket was down): try again soon.
            logger::warn(self.sid(), format_args!("TURN credentials not renewed"));
            self.later(RENEW_RETRY_MS, Input::RenewConfig);
            return;
        }
        self.config = config;
        if let Err(error) = self.rtc.set_config(&self.config) {
            logger::warn(
                self.sid(),
                format_args!("configuration not applied: {error}"),
            );
        }
        logger::event(self.sid(), format_args!("TURN credentials renewed"));
        self.renew_config_later();
        if self.connected() {
            self.offer(true).await;
        }
    }

    /// Sends the next camera's video instead of the current one.
    async fn switch_camera(&mut self) {
        let Some(media) = self.media.clone() else {
            return;
        };
        let opened = media.open_next_camera().await;
        self.use_opened(&media, opened, "camera switched").await;
    }

    /// Sends what device `id` of `kind` gives instead of the one in use (the person
    /// picked it), with no renegotiation.
    async fn use_device(&mut self, kind: DeviceKind, id: &str) {
        let Some(media) = self.media.clone() else {
            return;
        };
        if media.device_in_use(kind).as_deref() == Some(id) {
            return;
        }
        let opened = media.open_device(kind, id).await;
        self.use_opened(&media, opened, "device switched").await;
    }

    /// Sends the `new` track of a device just opened in place of the `old` one, then
    /// shows it in `media` and stops the old one.
    async fn use_opened(
        &self,
        media: &LocalMedia,
        opened: Result<(MediaStreamTrack, MediaStreamTrack), MediaError>,
        what: &str,
    ) {
        match opened {
            Ok((old, new)) => {
                if let Err(error) = self.rtc.replace_track(&new).await {
                    logger::warn(self.sid(), format_args!("new device not sent: {error}"));
                }
                media.use_track(&old, &new);
                self.call.browser.media.show();
                logger::event(self.sid(), format_args!("{what}"));
            }
            Err(error) => logger::warn(self.sid(), format_args!("device not opened: {error}")),
        }
    }

    /// Keeps the screen on during the call (released by the browser when hidden).
    async fn hold_wake_lock(&mut self) {
        if let Some(old) = self.wake_lock.take() {
            env::release_wake_lock(&old);
        }
        self.wake_lock = env::request_wake_lock().await;
    }

    /// Updates the quality badge from the connection's statistics, and restarts ICE
    /// when nothing arrives any more while the connection still says "connected".
    async fn refresh_quality(&mut self) {
        let now = js_sys::Date::now();
        if !self.connected() {
            self.call.quality.set(None);
            self.media_seen_at = now;
            return;
        }
        let Some(report) = self.rtc.stats().await else {
            return;
        };
        let sample = crate::contours::rtc::sample_stats(&report);
        let last_bytes = std::mem::replace(&mut self.last_bytes, sample.bytes_received);
        // Any change counts as life: fewer bytes than before is a new connection,
        // counting from zero.
        if sample.bytes_received != last_bytes {
            self.receiving_again(now);
        } else {
            self.watch_for_stall(now).await;
        }
        self.stats_reads = self.stats_reads.wrapping_add(1);
        if !self.stats_reads.is_multiple_of(QUALITY_EVERY_READS) {
            return;
        }
        let packets = (sample.packets_lost, sample.packets_received);
        let loss = loss_percent(std::mem::replace(&mut self.last_packets, packets), packets);
        if let Some(rtt_ms) = sample.rtt_ms {
            self.call
                .quality
                .set(Some((grade(rtt_ms, loss), rtt_ms.round() as u32)));
        }
    }

    fn receiving_again(&mut self, now: f64) {
        self.media_seen_at = now;
        if self.stall_restarted_at.take().is_some() {
            logger::event(self.sid(), format_args!("receiving again"));
            self.call.apply(Event::MediaFlowing);
        }
    }

    /// Nothing received since the last sample: after [`MEDIA_STALL_MS`] the call shows
    /// that it is reconnecting and ICE restarts, then again every
    /// [`RESTART_EVERY_MS`] while nothing arrives.
    async fn watch_for_stall(&mut self, now: f64) {
        let silent_ms = now - self.media_seen_at;
        let due = match self.stall_restarted_at {
            None => silent_ms >= MEDIA_STALL_MS,
            Some(at) => now - at >= f64::from(RESTART_EVERY_MS),
        };
        if !due {
            return;
        }
        logger::event(
            self.sid(),
            // Whole milliseconds: formatting a float would add its code to the wasm (14 KB).
            format_args!(
                "nothing received for {} ms: restarting ICE",
                silent_ms as u64
            ),
        );
        self.stall_restarted_at = Some(now);
        self.call.apply(Event::ConnectionLost);
        if self.negotiation_settling().is_some() {
            // The other side's restart is under way: let it finish.
            logger::event(self.sid(), format_args!("an ICE restart is under way"));
            return;
        }
        self.offer(true).await;
    }

    /// Releases everything: socket (a hang-up closes it with 1000), connection, camera.
    fn finish(mut self) {
        if let Some(lock) = self.wake_lock.take() {
            env::release_wake_lock(&lock);
        }
        self.net.stop_signal();
        self.rtc.close();
        self.call.browser.media.stop();
        self.call.browser.commands.set_value(None);
        env::forget(&self.session);
        env::show_in_address_bar(None);
        // The reason alone: the whole phase's Debug would print the session id again, and
        // a string's Debug adds its escaping code to the wasm.
        if let Phase::Ended { reason, .. } = self.call.phase.get_untracked() {
            logger::event(self.sid(), format_args!("call over: {reason:?}"));
        }
    }
}
