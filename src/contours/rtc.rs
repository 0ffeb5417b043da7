//! Rtc: one `RTCPeerConnection`. Owns creating it from the page's ICE configuration,
//! adding local tracks, offers (with ICE restart), answers, remote candidates, statistics,
//! and turning its callbacks into [`RtcEvent`]s tagged with the connection's id. Must not
//! touch the signal socket or the UI: the conductor decides what to send and when
//! (the W3C "perfect negotiation" roles live there).

use std::borrow::Cow;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, RtcConfiguration, RtcIceCandidateInit, RtcIceServer, RtcIceTransportPolicy,
    RtcOfferOptions, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState, RtcTrackEvent,
};

use crate::contours::core::Devices;
use crate::contours::doctor::{Outcome, Reach};
use crate::contours::env::{self, IceServer, PageConfig};
use crate::contours::media::LocalMedia;
use crate::protocol::IceCandidate;

/// What a peer connection reports.
pub enum RtcEvent {
    /// Tracks changed: an offer is due.
    NegotiationNeeded,
    /// A local ICE candidate to send, or `None` at the end of gathering.
    LocalCandidate(Option<IceCandidate<'static>>),
    /// The remote side's media arrived.
    RemoteStream(MediaStream),
    /// The connection's overall state changed.
    State(RtcPeerConnectionState),
    /// The devices channel opened: this side's camera and microphone state is due.
    DevicesChannelOpen,
    /// The other side says whether it sends its camera and microphone.
    PeerDevices(Devices),
}

/// A failure of the browser's WebRTC API, by its name (never SDP).
#[derive(Debug, Clone, thiserror::Error)]
#[error("WebRTC: {0}")]
pub struct RtcError(String);

impl From<wasm_bindgen::JsValue> for RtcError {
    fn from(value: wasm_bindgen::JsValue) -> Self {
        let name = js_sys::Reflect::get(&value, &"name".into())
            .ok()
            .and_then(|n| n.as_string())
            .unwrap_or_else(|| "error".into());
        RtcError(name)
    }
}

type Callback<T> = Closure<dyn FnMut(T)>;

/// One peer connection, its id, and the callbacks it keeps alive.
pub struct Rtc {
    id: u32,
    pc: RtcPeerConnection,
    _on_negotiation: Callback<web_sys::Event>,
    _on_candidate: Callback<RtcPeerConnectionIceEvent>,
    _on_track: Callback<RtcTrackEvent>,
    _on_state: Callback<web_sys::Event>,
    emit: Rc<dyn Fn(u32, RtcEvent)>,
    /// The channel that tells each side the other's devices, once opened.
    devices: Option<DevicesChannel>,
    /// The chat's channel, once opened (its messages are the chat contour's).
    chat: Option<web_sys::RtcDataChannel>,
    /// The verification channel, once opened (its messages are Verify's).
    verify: Option<web_sys::RtcDataChannel>,
    /// This device's certificate, if it keeps one.
    certificate: Option<web_sys::RtcCertificate>,
}

/// What Verify reads of a connection: the certificate fingerprints of both sides, as the
/// current descriptions have them (the DTLS connection checks the other side's
/// certificate against its description, so these are the ones really used).
pub struct Descriptions(RtcPeerConnection);

impl Descriptions {
    /// This side's and the other side's fingerprint, once both descriptions are set.
    pub fn fingerprints(&self) -> Option<(String, String)> {
        let of = |d: Option<web_sys::RtcSessionDescription>| {
            crate::contours::verify::sdp_fingerprint(&d?.sdp())
        };
        Some((
            of(self.0.local_description())?,
            of(self.0.remote_description())?,
        ))
    }
}

/// A data channel both sides make with the same id (negotiated, so neither announces it
/// to the other) for the call's own small messages: each side's camera and microphone
/// state ([`Devices`]).
struct DevicesChannel {
    channel: web_sys::RtcDataChannel,
    _on_open: Callback<web_sys::Event>,
    _on_message: Callback<web_sys::MessageEvent>,
}

/// The devices channel's id, the same on both sides.
const DEVICES_CHANNEL_ID: u16 = 0;
/// The chat channel's id, the same on both sides.
const CHAT_CHANNEL_ID: u16 = 1;
/// The verification channel's id, the same on both sides.
const VERIFY_CHANNEL_ID: u16 = 2;

/// The `RTCConfiguration` for `config`, with this device's `certificate` where it keeps
/// one (a connection's certificates never change: renewing the TURN credentials passes
/// the same one, or the browser refuses the new configuration).
fn configuration(
    config: &PageConfig,
    certificate: Option<&web_sys::RtcCertificate>,
) -> RtcConfiguration {
    let servers = js_sys::Array::new();
    for server in &config.ice_servers {
        let ice = RtcIceServer::new();
        let urls: js_sys::Array = server
            .urls
            .iter()
            .map(|u| js_sys::JsString::from(u.as_str()))
            .collect();
        ice.set_urls(&urls);
        if let Some(username) = &server.username {
            ice.set_username(username);
        }
        if let Some(credential) = &server.credential {
            ice.set_credential(credential);
        }
        servers.push(&ice);
    }
    let rtc = RtcConfiguration::new();
    rtc.set_ice_servers(&servers);
    if let Some(certificate) = certificate {
        rtc.set_certificates(&js_sys::Array::of1(certificate));
    }
    if config.relay_only {
        rtc.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
    }
    rtc
}

/// Probes one STUN or TURN server `url` (with `server`'s credentials): a throwaway
/// connection gathers candidates through that server alone (through its relay alone, for
/// TURN) for at most `ms`. It works when the server's own kind of candidate appears (a
/// TURN relay; a STUN server's reflexive address, or, where the page has no NAT in front
/// of it and so no new address, a gathering that ends with no error from the server).
/// Only candidate types are read, never their addresses.
pub async fn probe(server: &IceServer, url: &str, ms: u32) -> Option<Outcome> {
    use futures_util::StreamExt;
    let reach = Reach::of_url(url)?;
    let config = PageConfig {
        ice_servers: vec![IceServer {
            urls: vec![url.to_owned()],
            username: server.username.clone(),
            credential: server.credential.clone(),
        }],
        relay_only: reach.is_turn(),
        renew_after_seconds: None,
    };
    let pc = RtcPeerConnection::new_with_configuration(&configuration(&config, None)).ok()?;
    // What ended the probe: Some(true) a candidate of the wanted type, Some(false) the
    // end of gathering, None the time running out.
    let (done, mut finished) = futures_channel::mpsc::unbounded::<Option<bool>>();
    // The last error the server's probe reported (401 and 403: credentials refused).
    let error = Rc::new(std::cell::Cell::new(0_u16));
    let wanted = if reach.is_turn() {
        " typ relay"
    } else {
        " typ srflx"
    };
    // One handler for both events (one closure less in the wasm).
    let on_event = {
        let error = Rc::clone(&error);
        let done = done.clone();
        move |event: web_sys::Event| {
            if let Some(event) = event.dyn_ref::<web_sys::RtcPeerConnectionIceErrorEvent>() {
                error.set(event.error_code());
            } else if let Some(event) = event.dyn_ref::<RtcPeerConnectionIceEvent>() {
                // A candidate of the wanted type, or the end of gathering (no candidate).
                match event.candidate().map(|c| c.candidate().contains(wanted)) {
                    Some(false) => {}
                    found => {
                        let _ = done.unbounded_send(Some(found.is_some()));
                    }
                }
            }
        }
    };
    let _listeners = ["icecandidate", "icecandidateerror"]
        .map(|name| env::listen(pc.as_ref(), name, on_event.clone()));
    let _channel = pc.create_data_channel("probe");
    let offer = JsFuture::from(pc.create_offer()).await.ok()?;
    let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    init.set_sdp(&sdp_of(&offer));
    JsFuture::from(pc.set_local_description(&init)).await.ok()?;
    let _timer = gloo_timers::callback::Timeout::new(ms, move || {
        let _ = done.unbounded_send(None);
    });
    let found = finished.next().await.flatten();
    pc.close();
    Some(match (found, error.get()) {
        (Some(true), _) => Outcome::Works,
        (_, 401 | 403) => Outcome::Refused,
        // STUN with no NAT in front: no reflexive address, and no error either.
        (Some(false), 0) if !reach.is_turn() => Outcome::Works,
        _ => Outcome::NoAnswer,
    })
}

/// The fingerprint a connection with `certificate` would show, read from a throwaway
/// offer (every browser makes one; not every one has `getFingerprints`).
pub async fn fingerprint_of(certificate: &web_sys::RtcCertificate) -> Option<String> {
    let config = configuration(&PageConfig::default(), Some(certificate));
    let pc = RtcPeerConnection::new_with_configuration(&config).ok()?;
    let _channel = pc.create_data_channel("fingerprint");
    let offer = JsFuture::from(pc.create_offer()).await;
    pc.close();
    crate::contours::verify::sdp_fingerprint(&sdp_of(&offer.ok()?))
}

impl Rtc {
    /// A new peer connection with id `id` and this device's `certificate` (see
    /// [`keystore`](crate::contours::keystore)), whose events go to `emit`.
    pub fn new(
        id: u32,
        config: &PageConfig,
        certificate: Option<&web_sys::RtcCertificate>,
        emit: impl Fn(u32, RtcEvent) + Clone + 'static,
    ) -> Result<Rtc, RtcError> {
        let pc = RtcPeerConnection::new_with_configuration(&configuration(config, certificate))?;

        let on_negotiation = Callback::<web_sys::Event>::new({
            let emit = emit.clone();
            move |_| emit(id, RtcEvent::NegotiationNeeded)
        });
        pc.set_onnegotiationneeded(Some(on_negotiation.as_ref().unchecked_ref()));

        let on_candidate = Callback::<RtcPeerConnectionIceEvent>::new({
            let emit = emit.clone();
            move |event: RtcPeerConnectionIceEvent| {
                let candidate = event.candidate().map(|c| IceCandidate {
                    candidate: Cow::Owned(c.candidate()),
                    sdp_mid: c.sdp_mid().map(Cow::Owned),
                    sdp_m_line_index: c.sdp_m_line_index(),
                    username_fragment: None,
                });
                emit(id, RtcEvent::LocalCandidate(candidate));
            }
        });
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));

        // The other side's tracks come in the stream it named; a track it sends through
        // a transceiver it answered with before its camera was ready (see
        // `accept_offer`) names none, and goes with the others named none.
        let unnamed = js_sys::Array::new();
        let on_track = Callback::<RtcTrackEvent>::new({
            let emit = emit.clone();
            move |event: RtcTrackEvent| {
                let named = event.streams().get(0).dyn_into::<MediaStream>().ok();
                let stream = named.or_else(|| {
                    unnamed.push(&event.track());
                    MediaStream::new_with_tracks(&unnamed).ok()
                });
                if let Some(stream) = stream {
                    emit(id, RtcEvent::RemoteStream(stream));
                }
            }
        });
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));

        let on_state = Callback::<web_sys::Event>::new({
            let pc = pc.clone();
            let emit = emit.clone();
            move |_| emit(id, RtcEvent::State(pc.connection_state()))
        });
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));

        Ok(Rtc {
            id,
            pc,
            _on_negotiation: on_negotiation,
            _on_candidate: on_candidate,
            _on_track: on_track,
            _on_state: on_state,
            emit: Rc::new(emit),
            devices: None,
            chat: None,
            verify: None,
            certificate: certificate.cloned(),
        })
    }

    /// Opens the devices channel (once). Made with the tracks, so a first offer carries
    /// both; a side that answered before its camera was ready opens it after, on the
    /// transport the offer already agreed.
    pub fn open_devices_channel(&mut self) {
        if self.devices.is_some() {
            return;
        }
        let channel = self.negotiated_channel("devices", DEVICES_CHANNEL_ID);
        let (id, emit) = (self.id, self.emit.clone());
        let on_open = Callback::<web_sys::Event>::new({
            let emit = emit.clone();
            move |_| emit(id, RtcEvent::DevicesChannelOpen)
        });
        channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        let on_message =
            Callback::<web_sys::MessageEvent>::new(move |event: web_sys::MessageEvent| {
                // Anything but a devices message is ignored: a bad message never ends a call.
                if let Some(devices) = event
                    .data()
                    .as_string()
                    .as_deref()
                    .and_then(Devices::from_wire)
                {
                    emit(id, RtcEvent::PeerDevices(devices));
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        self.devices = Some(DevicesChannel {
            channel,
            _on_open: on_open,
            _on_message: on_message,
        });
    }

    /// Opens the chat's channel, the first time (later, `None`): ordered and reliable, so
    /// a photo's chunks come whole and in order after its header.
    pub fn open_chat_channel(&mut self) -> Option<web_sys::RtcDataChannel> {
        if self.chat.is_some() {
            return None;
        }
        let channel = self.negotiated_channel("chat", CHAT_CHANNEL_ID);
        self.chat = Some(channel.clone());
        Some(channel)
    }

    /// Opens the verification channel, the first time (later, `None`), with what Verify
    /// reads of the connection.
    pub fn open_verify_channel(&mut self) -> Option<(web_sys::RtcDataChannel, Descriptions)> {
        if self.verify.is_some() {
            return None;
        }
        let channel = self.negotiated_channel("verify", VERIFY_CHANNEL_ID);
        self.verify = Some(channel.clone());
        Some((channel, Descriptions(self.pc.clone())))
    }

    /// A data channel both sides make with the same `id`, so neither announces it.
    fn negotiated_channel(&self, label: &str, id: u16) -> web_sys::RtcDataChannel {
        let init = web_sys::RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(id);
        self.pc
            .create_data_channel_with_data_channel_dict(label, &init)
    }

    /// Tells the other side whether this side sends its camera and microphone (once the
    /// channel is open; it asks again when it opens).
    pub fn tell_devices(&self, devices: Devices) {
        let Some(open) = &self.devices else { return };
        if open.channel.ready_state() == web_sys::RtcDataChannelState::Open {
            let _ = open.channel.send_with_str(&devices.to_wire());
        }
    }

    /// This connection's id (the `pc` of the messages it sends).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Sends every local track to the other side; audio goes first on a narrow link. A
    /// track goes out through a transceiver already agreed to send its kind (answered
    /// while the camera was opening), with no renegotiation; else it is added, and the
    /// connection asks for an offer.
    pub fn send_local_media(&self, media: &LocalMedia) {
        for track in media.tracks() {
            let sender = match self.sender_for(&track.kind()) {
                Some(sender) => {
                    let replaced = JsFuture::from(sender.replace_track(Some(&track)));
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(error) = replaced.await.map_err(RtcError::from) {
                            crate::logger::warn("-", format_args!("track not sent: {error}"));
                        }
                    });
                    sender
                }
                None => self.pc.add_track_0(&track, media.stream()),
            };
            if track.kind() == "audio" {
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(error) = prefer(&sender).await {
                        crate::logger::warn("-", format_args!("audio priority not set: {error}"));
                    }
                });
            }
        }
    }

    /// The sender a new `kind` track goes out on without a new transceiver: the one that
    /// already sends that kind (media asked for again), or one agreed to send that has no
    /// track yet.
    fn sender_for(&self, kind: &str) -> Option<web_sys::RtcRtpSender> {
        use web_sys::RtcRtpTransceiverDirection::{Sendonly, Sendrecv};
        let transceivers = self.transceivers();
        let sending_kind = transceivers.iter().find_map(|t| {
            let sender = t.sender();
            sender
                .track()
                .is_some_and(|track| track.kind() == kind)
                .then_some(sender)
        });
        sending_kind.or_else(|| {
            transceivers.into_iter().find_map(|t| {
                let sending = matches!(t.direction(), Sendrecv | Sendonly);
                let sender = t.sender();
                (sending && sender.track().is_none() && t.receiver().track().kind() == kind)
                    .then_some(sender)
            })
        })
    }

    fn transceivers(&self) -> Vec<web_sys::RtcRtpTransceiver> {
        self.pc
            .get_transceivers()
            .iter()
            .filter_map(|t| t.dyn_into::<web_sys::RtcRtpTransceiver>().ok())
            .collect()
    }

    /// Sends `track` instead of the current track of its kind (no renegotiation).
    pub async fn replace_track(&self, track: &web_sys::MediaStreamTrack) -> Result<(), RtcError> {
        let kind = track.kind();
        for sender in self.pc.get_senders().iter() {
            let Ok(sender) = sender.dyn_into::<web_sys::RtcRtpSender>() else {
                continue;
            };
            if sender.track().is_some_and(|t| t.kind() == kind) {
                JsFuture::from(sender.replace_track(Some(track))).await?;
            }
        }
        Ok(())
    }

    /// Makes sure this side receives audio and video even where it sends neither.
    pub fn receive_audio_and_video(&self) {
        let transceivers = self.transceivers();
        for kind in ["audio", "video"] {
            let present = transceivers
                .iter()
                .any(|t| t.receiver().track().kind() == kind);
            if !present {
                let init = web_sys::RtcRtpTransceiverInit::new();
                init.set_direction(web_sys::RtcRtpTransceiverDirection::Recvonly);
                self.pc.add_transceiver_with_str_and_init(kind, &init);
            }
        }
    }

    /// Whether no offer/answer exchange is under way.
    pub fn is_stable(&self) -> bool {
        self.pc.signaling_state() == RtcSignalingState::Stable
    }

    pub fn state(&self) -> RtcPeerConnectionState {
        self.pc.connection_state()
    }

    /// Makes an offer (with new ICE credentials when `ice_restart`), sets it as the local
    /// description and returns its SDP.
    pub async fn create_offer(&self, ice_restart: bool) -> Result<String, RtcError> {
        let options = RtcOfferOptions::new();
        options.set_ice_restart(ice_restart);
        let offer = JsFuture::from(self.pc.create_offer_with_rtc_offer_options(&options)).await?;
        self.set_local(RtcSdpType::Offer, &sdp_of(&offer)).await
    }

    /// Takes the other side's offer (rolling back our own, if any) and returns our answer.
    /// With `media_coming` (the camera and microphone are still opening), the answer
    /// agrees to send on every kind the offer has, so the tracks can go out when they are
    /// ready without another offer/answer exchange ([`Rtc::send_local_media`]).
    pub async fn accept_offer(&self, sdp: &str, media_coming: bool) -> Result<String, RtcError> {
        if self.pc.signaling_state() == RtcSignalingState::HaveLocalOffer {
            let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
            JsFuture::from(self.pc.set_local_description(&rollback)).await?;
        }
        self.set_remote(RtcSdpType::Offer, sdp).await?;
        if media_coming {
            self.agree_to_send();
        }
        let answer = JsFuture::from(self.pc.create_answer()).await?;
        self.set_local(RtcSdpType::Answer, &sdp_of(&answer)).await
    }

    /// Turns every receive-only transceiver with nothing to send yet into send-and-receive.
    fn agree_to_send(&self) {
        use web_sys::RtcRtpTransceiverDirection::{Recvonly, Sendrecv};
        for transceiver in self.transceivers() {
            if transceiver.direction() == Recvonly && transceiver.sender().track().is_none() {
                transceiver.set_direction(Sendrecv);
            }
        }
    }

    /// Takes the other side's answer to our offer.
    pub async fn accept_answer(&self, sdp: &str) -> Result<(), RtcError> {
        self.set_remote(RtcSdpType::Answer, sdp).await
    }

    /// Adds one of the other side's candidates (`None`: it has no more).
    pub async fn add_remote_candidate(
        &self,
        candidate: Option<&IceCandidate<'_>>,
    ) -> Result<(), RtcError> {
        let init = candidate.map(|c| {
            let init = RtcIceCandidateInit::new(&c.candidate);
            init.set_sdp_mid(c.sdp_mid.as_deref());
            init.set_sdp_m_line_index(c.sdp_m_line_index);
            init
        });
        let promise = self
            .pc
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(init.as_ref());
        JsFuture::from(promise).await?;
        Ok(())
    }

    /// The raw `getStats()` report, for the quality badge.
    pub async fn stats(&self) -> Option<wasm_bindgen::JsValue> {
        JsFuture::from(self.pc.get_stats()).await.ok()
    }

    /// Uses `config` from now on (fresh TURN credentials); the current candidates stay
    /// until the next ICE restart.
    pub fn set_config(&self, config: &PageConfig) -> Result<(), RtcError> {
        self.pc
            .set_configuration_with_configuration(&configuration(
                config,
                self.certificate.as_ref(),
            ))?;
        Ok(())
    }

    /// Closes the connection; its callbacks go quiet first.
    pub fn close(&self) {
        if let Some(open) = &self.devices {
            open.channel.set_onopen(None);
            open.channel.set_onmessage(None);
            open.channel.close();
        }
        for channel in [&self.chat, &self.verify].into_iter().flatten() {
            channel.close();
        }
        self.pc.set_onnegotiationneeded(None);
        self.pc.set_onicecandidate(None);
        self.pc.set_ontrack(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.close();
    }

    async fn set_local(&self, kind: RtcSdpType, sdp: &str) -> Result<String, RtcError> {
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(sdp);
        JsFuture::from(self.pc.set_local_description(&init)).await?;
        Ok(sdp.to_owned())
    }

    async fn set_remote(&self, kind: RtcSdpType, sdp: &str) -> Result<(), RtcError> {
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(sdp);
        JsFuture::from(self.pc.set_remote_description(&init)).await?;
        Ok(())
    }
}

/// Marks every encoding of `sender` `priority: "high"` and `networkPriority: "high"`
/// (WebRTC priority, RFC 8837): when the link is too narrow for everything, the
/// browser keeps the audio and lets the video give way. Called through `Reflect`, so no
/// more `web-sys` bindings weigh on the wasm; a browser that ignores the fields (Firefox,
/// Safari) sends as before.
async fn prefer(sender: &web_sys::RtcRtpSender) -> Result<(), RtcError> {
    use js_sys::{Array, Function, Reflect};
    let method = |name: &str| -> Result<Function, RtcError> {
        Ok(Reflect::get(sender, &name.into())?.dyn_into::<Function>()?)
    };
    let parameters = method("getParameters")?.call0(sender)?;
    let encodings: Array = Reflect::get(&parameters, &"encodings".into())?.dyn_into()?;
    for encoding in encodings.iter() {
        Reflect::set(&encoding, &"priority".into(), &"high".into())?;
        Reflect::set(&encoding, &"networkPriority".into(), &"high".into())?;
    }
    let set = method("setParameters")?.call1(sender, &parameters)?;
    JsFuture::from(js_sys::Promise::from(set)).await?;
    Ok(())
}

/// The numbers the quality badge needs from one `getStats()` report.
#[derive(Debug, Default, Clone, Copy)]
pub struct StatsSample {
    /// Round-trip time of the active candidate pair.
    pub rtt_ms: Option<f64>,
    /// Totals over every inbound RTP stream.
    pub packets_lost: f64,
    pub packets_received: f64,
    /// Bytes received over every candidate pair: media, RTCP and ICE checks. A
    /// connection that works receives some every few seconds even when the other side
    /// sends no media (its RTCP reports and ICE checks keep coming).
    pub bytes_received: f64,
}

/// Reads an `RTCStatsReport` (a maplike of stats dictionaries).
pub fn sample_stats(report: &wasm_bindgen::JsValue) -> StatsSample {
    let get =
        |stat: &wasm_bindgen::JsValue, key: &str| js_sys::Reflect::get(stat, &key.into()).ok();
    let number = |stat: &wasm_bindgen::JsValue, key: &str| get(stat, key).and_then(|v| v.as_f64());
    let mut sample = StatsSample::default();
    let map: &js_sys::Map = report.unchecked_ref();
    map.for_each(
        &mut |stat, _| match get(&stat, "type").and_then(|t| t.as_string()).as_deref() {
            Some("candidate-pair") => {
                sample.bytes_received += number(&stat, "bytesReceived").unwrap_or(0.0);
                let nominated = get(&stat, "nominated").and_then(|v| v.as_bool()) == Some(true);
                let succeeded =
                    get(&stat, "state").and_then(|v| v.as_string()).as_deref() == Some("succeeded");
                if nominated
                    && succeeded
                    && let Some(rtt) = number(&stat, "currentRoundTripTime")
                {
                    sample.rtt_ms = Some(rtt * 1000.0);
                }
            }
            Some("inbound-rtp") => {
                sample.packets_lost += number(&stat, "packetsLost").unwrap_or(0.0);
                sample.packets_received += number(&stat, "packetsReceived").unwrap_or(0.0);
            }
            _ => {}
        },
    );
    sample
}

fn sdp_of(description: &wasm_bindgen::JsValue) -> String {
    js_sys::Reflect::get(description, &"sdp".into())
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}
