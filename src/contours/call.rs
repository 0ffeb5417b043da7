//! The call conductor: the one place that changes the call's [`Phase`]. Views call its
//! commands (`press_call`, `press_start`, `hang_up`); in the browser it runs one task per
//! call that prepares Media, opens Rtc and Net, and feeds their events, one at a time and
//! in order, into Core's transition function. Must not render anything: views read
//! `Call`'s signals.

use leptos::prelude::*;

use crate::contours::core::{EndReason, Event, Phase, Role, transition};
use crate::contours::env::Link;

/// The call of this page: its phase and what the views show besides it.
#[derive(Clone, Copy)]
pub struct Call {
    /// Where the call is; changed only through [`Call::apply`].
    pub phase: RwSignal<Phase>,
    /// The full link to share (set in the browser, where the origin is known).
    pub share_link: RwSignal<String>,
    /// A passing message for the user (a toast), if any.
    pub notice: RwSignal<Option<String>>,
    /// The browser blocked sound until the user taps.
    pub needs_tap_for_sound: RwSignal<bool>,
    pub local_video: NodeRef<leptos::html::Video>,
    pub remote_video: NodeRef<leptos::html::Video>,
    #[cfg(feature = "hydrate")]
    browser: browser::Streams,
}

impl Call {
    /// The call for a page opened at `link`. The same on the server and in the browser, so
    /// hydration matches; the browser then resumes or starts it in [`Call::resume`].
    pub fn new(link: &Link) -> Call {
        let phase = match link {
            Link::Home => Phase::Idle,
            Link::Call(session) => Phase::Connecting {
                session: *session,
                role: Role::Guest,
            },
            Link::Bad => Phase::Ended {
                reason: EndReason::BadLink,
            },
        };
        let call = Call {
            phase: RwSignal::new(phase),
            share_link: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
            needs_tap_for_sound: RwSignal::new(false),
            local_video: NodeRef::new(),
            remote_video: NodeRef::new(),
            #[cfg(feature = "hydrate")]
            browser: browser::Streams::new(),
        };
        #[cfg(feature = "hydrate")]
        browser::attach_streams_to_videos(call);
        call
    }

    /// Moves the phase on by `event`.
    pub fn apply(&self, event: Event) {
        self.phase.update(|phase| *phase = transition(phase, event));
    }

    /// In the browser, once after hydration: rejoin the call this tab was in, or join
    /// the link as a guest.
    pub fn resume(&self) {
        #[cfg(feature = "hydrate")]
        browser::resume(*self);
    }

    /// «Позвонить»: a new session and its link.
    pub fn press_call(&self) {
        #[cfg(feature = "hydrate")]
        browser::press_call(*self);
    }

    /// «Начать звонок»: the host starts the call.
    pub fn press_start(&self) {
        #[cfg(feature = "hydrate")]
        browser::press_start(*self);
    }

    /// «Завершить»: hang up for both sides.
    pub fn hang_up(&self) {
        #[cfg(feature = "hydrate")]
        browser::hang_up(*self);
    }

    /// Copies the share link to the clipboard.
    pub fn copy_link(&self) {
        #[cfg(feature = "hydrate")]
        browser::copy_link(*self);
    }

    /// The user tapped to allow sound that autoplay blocked.
    pub fn enable_sound(&self) {
        #[cfg(feature = "hydrate")]
        browser::enable_sound(*self);
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::borrow::Cow;

    use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
    use futures_util::StreamExt;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{HtmlMediaElement, MediaStream, RtcPeerConnectionState};

    use super::Call;
    use crate::contours::core::{Event, Phase, Role, ends_the_call};
    use crate::contours::env::{self, Remembered};
    use crate::contours::media::LocalMedia;
    use crate::contours::net::{Net, NetEvent};
    use crate::contours::rtc::{Rtc, RtcEvent};
    use crate::logger;
    use crate::protocol::{PeerId, SessionId, Signal};

    /// The media streams the two video elements show.
    #[derive(Clone, Copy)]
    pub struct Streams {
        local: RwSignal<Option<MediaStream>, LocalStorage>,
        remote: RwSignal<Option<MediaStream>, LocalStorage>,
        /// Where the running call's task takes commands; `None` when no call runs.
        commands: StoredValue<Option<UnboundedSender<Input>>, LocalStorage>,
    }

    impl Streams {
        pub fn new() -> Streams {
            Streams {
                local: RwSignal::new_local(None),
                remote: RwSignal::new_local(None),
                commands: StoredValue::new_local(None),
            }
        }
    }

    /// One thing for the call's task to handle, in arrival order.
    pub enum Input {
        Net(NetEvent),
        Rtc(RtcEvent),
        HangUp,
    }

    /// Shows each stream in its video element whenever either appears.
    pub fn attach_streams_to_videos(call: Call) {
        Effect::new(move || {
            if let (Some(video), Some(stream)) = (call.local_video.get(), call.browser.local.get())
            {
                video.set_muted(true);
                video.set_src_object(Some(&stream));
                play(call, video.unchecked_ref());
            }
        });
        Effect::new(move || {
            if let (Some(video), Some(stream)) =
                (call.remote_video.get(), call.browser.remote.get())
            {
                video.set_src_object(Some(&stream));
                play(call, video.unchecked_ref());
            }
        });
    }

    /// Starts playback; where autoplay with sound is refused, plays muted and asks for a tap.
    fn play(call: Call, video: &HtmlMediaElement) {
        let video = video.clone();
        spawn_local(async move {
            let Ok(promise) = video.play() else { return };
            if JsFuture::from(promise).await.is_err() && !video.muted() {
                video.set_muted(true);
                call.needs_tap_for_sound.set(true);
                if let Ok(promise) = video.play() {
                    let _ = JsFuture::from(promise).await;
                }
            }
        });
    }

    pub fn enable_sound(call: Call) {
        if let Some(video) = call.remote_video.get_untracked() {
            video.set_muted(false);
            let _ = video.play();
        }
        call.needs_tap_for_sound.set(false);
    }

    pub fn resume(call: Call) {
        let Phase::Connecting { session, .. } = call.phase.get_untracked() else {
            return;
        };
        let memory = env::recall(&session).unwrap_or_else(|| Remembered {
            host: false,
            peer: env::new_peer_id().to_string(),
            started: true,
        });
        env::remember(&session, &memory);
        if memory.host {
            call.share_link
                .set(env::share_link(&env::origin(), &session));
            call.phase.set(Phase::ShareLink { session });
            if memory.started {
                call.apply(Event::StartPressed);
                start(call, session, Role::Host, &memory.peer);
            }
        } else {
            start(call, session, Role::Guest, &memory.peer);
        }
    }

    pub fn press_call(call: Call) {
        let session = env::new_session_id();
        env::remember(
            &session,
            &Remembered {
                host: true,
                peer: env::new_peer_id().to_string(),
                started: false,
            },
        );
        env::show_in_address_bar(Some(&session));
        call.share_link
            .set(env::share_link(&env::origin(), &session));
        call.apply(Event::CallPressed(session));
    }

    pub fn press_start(call: Call) {
        let Phase::ShareLink { session } = call.phase.get_untracked() else {
            return;
        };
        let Some(mut memory) = env::recall(&session) else {
            return;
        };
        memory.started = true;
        env::remember(&session, &memory);
        call.apply(Event::StartPressed);
        start(call, session, Role::Host, &memory.peer);
    }

    pub fn hang_up(call: Call) {
        let sent = call.browser.commands.with_value(|commands| {
            commands
                .as_ref()
                .is_some_and(|tx| tx.unbounded_send(Input::HangUp).is_ok())
        });
        if !sent {
            // Nothing runs yet (the share-link view): just leave.
            if let Some(session) = call.phase.get_untracked().session() {
                env::forget(&session);
            }
            env::show_in_address_bar(None);
            call.apply(Event::HangUp);
        }
    }

    pub fn copy_link(call: Call) {
        let link = call.share_link.get_untracked();
        spawn_local(async move {
            let copied = env::copy_to_clipboard(&link).await;
            call.notice.set(Some(if copied {
                "Ссылка скопирована".to_owned()
            } else {
                "Не удалось скопировать: выделите ссылку и скопируйте её".to_owned()
            }));
        });
    }

    fn start(call: Call, session: SessionId, role: Role, peer: &str) {
        let Ok(peer) = PeerId::parse(peer) else {
            return;
        };
        let (tx, rx) = unbounded();
        call.browser.commands.set_value(Some(tx.clone()));
        spawn_local(conduct(call, session, role, peer, tx, rx));
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
        let media = match LocalMedia::prepare().await {
            Ok(media) => Some(media),
            Err(error) => {
                logger::warn(&sid, format_args!("no local media: {error}"));
                call.notice
                    .set(Some(format!("Камера и микрофон недоступны: {error}")));
                None
            }
        };
        if let Some(media) = &media {
            call.browser.local.set(Some(media.stream().clone()));
        }
        let rtc = match Rtc::new({
            let tx = tx.clone();
            move |event| {
                let _ = tx.unbounded_send(Input::Rtc(event));
            }
        }) {
            Ok(rtc) => rtc,
            Err(error) => {
                logger::warn(&sid, format_args!("no peer connection: {error}"));
                call.notice
                    .set(Some("Браузер не поддерживает видеозвонки".into()));
                return;
            }
        };
        if let Some(media) = &media {
            rtc.add_local_media(media);
        }
        if role == Role::Host {
            rtc.receive_audio_and_video();
        }
        let net = Net::start_signal(
            env::signal_url(&env::origin(), &session, peer.as_str()),
            move |event| {
                let _ = tx.unbounded_send(Input::Net(event));
            },
        );
        if role == Role::Host {
            match rtc.create_offer().await {
                Ok(sdp) => net.send(&Signal::Offer {
                    session_id: Cow::Borrowed(session.as_str()),
                    from: Cow::Borrowed(peer.as_str()),
                    sdp: Cow::Owned(sdp),
                }),
                Err(error) => logger::warn(&sid, format_args!("offer failed: {error}")),
            }
        }
        let ctx = Conductor {
            call,
            session,
            peer,
            rtc: &rtc,
            net: &net,
        };
        while let Some(input) = rx.next().await {
            ctx.handle(input).await;
            if !call.phase.get_untracked().is_live() {
                break;
            }
        }
        net.stop_signal();
        rtc.close();
        if let Some(media) = &media {
            media.stop();
        }
        call.browser.commands.set_value(None);
        env::forget(&session);
        env::show_in_address_bar(None);
        logger::event(
            &sid,
            format_args!("call over: {:?}", call.phase.get_untracked()),
        );
    }

    struct Conductor<'a> {
        call: Call,
        session: SessionId,
        peer: PeerId,
        rtc: &'a Rtc,
        net: &'a Net,
    }

    impl Conductor<'_> {
        fn sid(&self) -> &str {
            self.session.as_str()
        }

        async fn handle(&self, input: Input) {
            match input {
                Input::HangUp => {
                    logger::event(self.sid(), format_args!("hang-up"));
                    self.call.apply(Event::HangUp);
                }
                Input::Net(event) => self.on_net(event).await,
                Input::Rtc(event) => self.on_rtc(event),
            }
        }

        async fn on_net(&self, event: NetEvent) {
            match event {
                NetEvent::Open => logger::event(self.sid(), format_args!("signal open")),
                NetEvent::Message(signal) => self.on_signal(signal).await,
                NetEvent::Dropped { code, retrying } => {
                    logger::warn(
                        self.sid(),
                        format_args!("signal dropped ({code}), retrying: {retrying}"),
                    );
                }
                NetEvent::Ended => self.call.apply(Event::PeerHungUp),
            }
        }

        async fn on_signal(&self, signal: Signal<'static>) {
            logger::event(self.sid(), format_args!("received {}", signal.kind()));
            let result = match &signal {
                Signal::Offer { sdp, .. } => match self.rtc.accept_offer(sdp).await {
                    Ok(answer) => {
                        self.net.send(&Signal::Answer {
                            session_id: Cow::Borrowed(self.session.as_str()),
                            from: Cow::Borrowed(self.peer.as_str()),
                            sdp: Cow::Owned(answer),
                        });
                        Ok(())
                    }
                    Err(error) => Err(error),
                },
                Signal::Answer { sdp, .. } => self.rtc.accept_answer(sdp).await,
                Signal::Candidate { candidate, .. } => {
                    self.rtc.add_remote_candidate(candidate.as_ref()).await
                }
                Signal::Error { code, message, .. } => {
                    if ends_the_call(*code) {
                        self.call.apply(Event::Refused(*code));
                    } else {
                        self.call.notice.set(Some(message.to_string()));
                    }
                    Ok(())
                }
            };
            if let Err(error) = result {
                logger::warn(
                    self.sid(),
                    format_args!("{} failed: {error}", signal.kind()),
                );
            }
        }

        fn on_rtc(&self, event: RtcEvent) {
            match event {
                RtcEvent::LocalCandidate(candidate) => self.net.send(&Signal::Candidate {
                    session_id: Cow::Borrowed(self.session.as_str()),
                    from: Cow::Borrowed(self.peer.as_str()),
                    candidate,
                }),
                RtcEvent::RemoteStream(stream) => self.call.browser.remote.set(Some(stream)),
                RtcEvent::State(state) => {
                    logger::event(self.sid(), format_args!("connection {state:?}"));
                    match state {
                        RtcPeerConnectionState::Connected => self.call.apply(Event::MediaFlowing),
                        RtcPeerConnectionState::Disconnected | RtcPeerConnectionState::Failed => {
                            self.call.apply(Event::ConnectionLost)
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
