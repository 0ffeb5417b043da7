//! The call of this page: [`Call`], the signals the views read, and its commands
//! (`press_call`, `press_start`, `hang_up`, the toggles). Owns starting a call (or
//! resuming the one this tab was in) and handing commands to the running call's task,
//! the [`conductor`](super::conductor), which is the one place that moves the phase
//! while a call runs. Must not render anything (views read `Call`'s signals) or speak to
//! the network itself (that is Net, driven by the conductor).
//!
//! Every command is the same on the server and in the browser: the server half renders
//! the page and does nothing on a tap, through [`imp`]'s no-op twin of the browser half.

use leptos::prelude::*;

use crate::contours::chat::Chat;
use crate::contours::core::{
    DeviceKind, Devices, EndReason, Event, MediaTrouble, Phase, Quality, Role, transition,
};
use crate::contours::devices::DevicePanel;
use crate::contours::env::Link;
use crate::contours::verify::Verify;
use crate::i18n::{Lang, Texts};

/// The call of this page: its phase and what the views show besides it.
#[derive(Clone, Copy)]
pub struct Call {
    /// The UI's language.
    pub lang: Lang,
    /// Where the call is; changed only through [`Call::apply`].
    pub phase: RwSignal<Phase>,
    /// When media first flowed (milliseconds since the epoch), for the call timer.
    pub in_call_since: RwSignal<Option<f64>>,
    /// The connection's quality and round-trip time in milliseconds, from `getStats`.
    pub quality: RwSignal<Option<(Quality, u32)>>,
    /// The full link to share (set in the browser, where the origin is known).
    pub share_link: RwSignal<String>,
    /// A passing message for the user (a toast), if any.
    pub notice: RwSignal<Option<String>>,
    /// The browser blocked sound until the user taps.
    pub needs_tap_for_sound: RwSignal<bool>,
    /// Whether this side sends its microphone / camera (the user's toggles).
    pub mic_on: RwSignal<bool>,
    pub cam_on: RwSignal<bool>,
    /// Whether this side has a camera / microphone at all.
    pub has_camera: RwSignal<bool>,
    pub has_mic: RwSignal<bool>,
    /// Whether the other side sends its camera and microphone (as it last said).
    pub peer_devices: RwSignal<Devices>,
    /// How many cameras there are (the switch shows from two on).
    pub camera_count: RwSignal<usize>,
    /// The link was just copied: the copy button says so for a moment.
    pub copied: RwSignal<bool>,
    /// What this side's call goes without and why, if anything; and whether the card
    /// that says so is open (closed by the person, opened again from a control).
    pub media_trouble: RwSignal<Option<MediaTrouble>>,
    pub trouble_card_open: RwSignal<bool>,
    /// A guest whose socket is open and who has no offer: the host has not started yet.
    pub host_absent: RwSignal<bool>,
    /// The call's chat: text lines and photos over its own channel.
    pub chat: Chat,
    /// The panel to pick the microphone, camera and speaker.
    pub device_panel: DevicePanel,
    /// Who is on the other end: the code to compare, and the verified name.
    pub verify: Verify,
    pub local_video: NodeRef<leptos::html::Video>,
    pub remote_video: NodeRef<leptos::html::Video>,
    /// What only the browser has: the streams, the local media, the running task (on
    /// the server, nothing).
    #[cfg_attr(not(feature = "hydrate"), expect(dead_code))]
    pub(super) browser: imp::Browser,
}

impl Call {
    /// The call for a page opened at `link`. The same on the server and in the browser, so
    /// hydration matches; the browser then resumes or starts it in [`Call::resume`].
    pub fn new(link: &Link, lang: Lang) -> Call {
        let phase = match link {
            Link::Home => Phase::Idle,
            Link::Call(session) => Phase::Connecting {
                session: *session,
                role: Role::Guest,
            },
            Link::Bad => Phase::Ended {
                reason: EndReason::BadLink,
                role: Role::Guest,
            },
        };
        let call = Call {
            lang,
            phase: RwSignal::new(phase),
            in_call_since: RwSignal::new(None),
            quality: RwSignal::new(None),
            share_link: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
            needs_tap_for_sound: RwSignal::new(false),
            mic_on: RwSignal::new(true),
            cam_on: RwSignal::new(true),
            has_camera: RwSignal::new(true),
            has_mic: RwSignal::new(true),
            peer_devices: RwSignal::new(Devices::default()),
            camera_count: RwSignal::new(0),
            copied: RwSignal::new(false),
            media_trouble: RwSignal::new(None),
            trouble_card_open: RwSignal::new(false),
            host_absent: RwSignal::new(false),
            chat: Chat::new(),
            device_panel: DevicePanel::new(),
            verify: Verify::new(),
            local_video: NodeRef::new(),
            remote_video: NodeRef::new(),
            browser: imp::Browser::new(),
        };
        imp::attach_streams_to_videos(call);
        call
    }

    /// The UI's words.
    pub fn texts(&self) -> &'static Texts {
        self.lang.texts()
    }

    /// Shows `text` for a few seconds: a passing message (copied, a refused message, a
    /// question). A notice set directly stays until whoever set it clears it.
    pub fn flash(&self, text: &str) {
        self.notice.set(Some(text.to_owned()));
        imp::hide_notice_later(*self, text.to_owned());
    }

    /// Moves the phase on by `event`.
    pub fn apply(&self, event: Event) {
        self.phase.update(|phase| *phase = transition(phase, event));
    }

    /// In the browser, once after hydration: rejoin the call this tab was in, or join
    /// the link as a guest.
    pub fn resume(&self) {
        imp::resume(*self);
    }

    /// «Позвонить»: a new session and its link.
    pub fn press_call(&self) {
        imp::press_call(*self);
    }

    /// «Начать звонок»: the host starts the call.
    pub fn press_start(&self) {
        imp::press_start(*self);
    }

    /// «Завершить»: hang up for both sides.
    pub fn hang_up(&self) {
        imp::hang_up(*self);
    }

    /// Copies the share link to the clipboard; the copy button confirms it, and a host who
    /// has not started yet starts waiting (sending the link is the step, not a second
    /// button).
    pub fn copy_link(&self) {
        imp::copy_link(*self);
    }

    /// Microphone on/off.
    pub fn toggle_mic(&self) {
        self.mic_on.update(|on| *on = !*on);
        imp::apply_toggles(*self);
    }

    /// Camera on/off.
    pub fn toggle_cam(&self) {
        self.cam_on.update(|on| *on = !*on);
        imp::apply_toggles(*self);
    }

    /// Moves to the next camera (front ⇄ back on a phone).
    pub fn switch_camera(&self) {
        imp::switch_camera(*self);
    }

    /// Sends what microphone or camera `id` gives instead of the one in use.
    pub fn use_device(&self, kind: DeviceKind, id: String) {
        imp::use_device(*self, kind, id);
    }

    /// Shows the other side's video in picture-in-picture, where the browser can.
    pub fn picture_in_picture(&self) {
        imp::picture_in_picture(*self);
    }

    /// Opens the system's share sheet with an invitation and the link, where the browser
    /// has one; once shared, a host who has not started yet starts waiting.
    pub fn share_link_natively(&self) {
        imp::share_natively(*self);
    }

    /// «Закрыть» on a guest's end view: closes the page, or where the browser does not
    /// let a page close itself, goes to the home page.
    pub fn close_page(&self) {
        imp::close_page();
    }

    /// «Попробовать снова»: asks for the missing camera or microphone again (after the
    /// person allowed it); what it gets joins the running call.
    pub fn retry_media(&self) {
        imp::retry_media(*self);
    }

    /// «Проверить связь»: probes the page's STUN and TURN servers and says what fails.
    pub fn examine(&self) {
        imp::examine(*self);
    }

    /// Opens the card that says why a device is missing (from its control).
    pub fn show_media_trouble(&self) {
        self.trouble_card_open
            .set(self.media_trouble.get_untracked().is_some());
    }

    /// The user tapped to allow sound that autoplay blocked.
    pub fn enable_sound(&self) {
        imp::enable_sound(*self);
    }
}

#[cfg(feature = "hydrate")]
pub(super) use imp::apply_toggles;

/// The server's half of the commands: a page rendered on the server has no camera, no
/// socket and no taps, so each command does nothing.
#[cfg(not(feature = "hydrate"))]
mod imp {
    use super::Call;

    pub use crate::contours::ServerHalf as Browser;

    pub fn attach_streams_to_videos(_: Call) {}
    pub fn hide_notice_later(_: Call, _: String) {}
    pub fn resume(_: Call) {}
    pub fn press_call(_: Call) {}
    pub fn press_start(_: Call) {}
    pub fn hang_up(_: Call) {}
    pub fn copy_link(_: Call) {}
    pub fn apply_toggles(_: Call) {}
    pub fn switch_camera(_: Call) {}
    pub fn use_device(_: Call, _: super::DeviceKind, _: String) {}
    pub fn picture_in_picture(_: Call) {}
    pub fn share_natively(_: Call) {}
    pub fn enable_sound(_: Call) {}
    pub fn retry_media(_: Call) {}
    pub fn examine(_: Call) {}
    pub fn close_page() {}
}

/// The browser's half of the commands.
#[cfg(feature = "hydrate")]
mod imp {
    use futures_channel::mpsc::UnboundedSender;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use web_sys::MediaStream;

    use super::Call;
    use crate::contours::conductor::{self, Input};
    use crate::contours::core::{Event, Phase, Role};
    use crate::contours::env::{self, Remembered};
    use crate::contours::media::{UseLocalMedia, use_local_media};

    /// The browser-only parts of a call.
    #[derive(Clone, Copy)]
    pub struct Browser {
        /// The camera and microphone (the self-view shows its stream).
        pub media: UseLocalMedia,
        /// The other side's stream, once it arrives.
        pub remote: RwSignal<Option<MediaStream>, LocalStorage>,
        /// Where the running call's task takes commands; `None` when no call runs.
        pub commands: StoredValue<Option<UnboundedSender<Input>>, LocalStorage>,
    }

    impl Browser {
        pub fn new() -> Browser {
            Browser {
                media: use_local_media(),
                remote: RwSignal::new_local(None),
                commands: StoredValue::new_local(None),
            }
        }
    }

    /// Shows each stream in its video element whenever either appears.
    pub fn attach_streams_to_videos(call: Call) {
        Effect::new(move || {
            let stream = call.browser.media.stream.get();
            if let (Some(video), Some(stream)) = (call.local_video.get(), stream) {
                video.set_muted(true);
                video.set_src_object(Some(&stream));
                play(call, video.unchecked_ref());
            }
        });
        Effect::new(move || {
            if let (Some(video), Some(stream)) =
                (call.remote_video.get(), call.browser.remote.get())
            {
                // Each track announces its stream: loading the same one again would only
                // restart the video.
                if video.src_object().as_ref() != Some(&stream) {
                    video.set_src_object(Some(&stream));
                    play(call, video.unchecked_ref());
                }
            }
        });
    }

    /// How long a passing message stays.
    const FLASH_MS: u32 = 3_500;

    /// Clears the notice in [`FLASH_MS`], if it still says `text`.
    pub fn hide_notice_later(call: Call, text: String) {
        gloo_timers::callback::Timeout::new(FLASH_MS, move || {
            let same = call
                .notice
                .try_with_untracked(|n| n.as_deref() == Some(&text));
            if same == Some(true) {
                call.notice.try_set(None);
            }
        })
        .forget();
    }

    /// Starts playback; where autoplay with sound is refused, asks for a tap.
    fn play(call: Call, video: &web_sys::HtmlMediaElement) {
        let video = video.clone();
        spawn_local(async move {
            if !env::play_or_play_muted(&video).await {
                call.needs_tap_for_sound.set(true);
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

    pub fn apply_toggles(call: Call) {
        if let Some(media) = call.browser.media.current() {
            media.set_audio_enabled(call.mic_on.get_untracked());
            media.set_video_enabled(call.cam_on.get_untracked());
        }
        send(call, Input::DevicesChanged);
    }

    pub fn resume(call: Call) {
        let Phase::Connecting { session, .. } = call.phase.get_untracked() else {
            return;
        };
        let memory = match env::recall(&session) {
            Some(memory) => memory,
            // The host's own link, opened in another tab: never the guest's seat.
            None if env::hosted_here(&session) => {
                call.share_link
                    .set(env::share_link(&env::origin(), &session));
                call.apply(Event::OwnLinkOpened);
                return;
            }
            None => Remembered {
                host: false,
                peer: env::new_peer_id().to_string(),
                started: true,
            },
        };
        env::remember(&session, &memory);
        if memory.host {
            call.share_link
                .set(env::share_link(&env::origin(), &session));
            call.phase.set(Phase::ShareLink { session });
            if memory.started {
                call.apply(Event::StartPressed);
                conductor::start(call, session, Role::Host, &memory.peer);
            }
        } else {
            conductor::start(call, session, Role::Guest, &memory.peer);
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
        env::mark_hosting(&session);
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
        conductor::start(call, session, Role::Host, &memory.peer);
    }

    /// Hands `input` to the running call's task, if one runs.
    fn send(call: Call, input: Input) -> bool {
        call.browser.commands.with_value(|commands| {
            commands
                .as_ref()
                .is_some_and(|tx| tx.unbounded_send(input).is_ok())
        })
    }

    pub fn hang_up(call: Call) {
        if !send(call, Input::HangUp) {
            // Nothing runs yet (the share-link view): just leave.
            if let Some(session) = call.phase.get_untracked().session() {
                env::forget(&session);
            }
            env::show_in_address_bar(None);
            call.apply(Event::HangUp);
        }
    }

    pub fn switch_camera(call: Call) {
        send(call, Input::SwitchCamera);
    }

    pub fn use_device(call: Call, kind: super::DeviceKind, id: String) {
        send(call, Input::UseDevice(kind, id));
    }

    pub fn picture_in_picture(call: Call) {
        if let Some(video) = call.remote_video.get_untracked() {
            env::request_picture_in_picture(&video);
        }
    }

    pub fn share_natively(call: Call) {
        let link = call.share_link.get_untracked();
        spawn_local(async move {
            if env::share("HomeCall", call.texts().invitation, &link).await {
                press_start(call);
            }
        });
    }

    pub fn retry_media(call: Call) {
        call.trouble_card_open.set(false);
        send(call, Input::RetryMedia);
    }

    pub fn examine(call: Call) {
        send(call, Input::Examine);
    }

    /// How long the copy button says the link was copied.
    const COPIED_MS: u32 = 2_500;

    pub fn close_page() {
        env::close_or_go_home();
    }

    pub fn copy_link(call: Call) {
        let link = call.share_link.get_untracked();
        spawn_local(async move {
            if !env::copy_to_clipboard(&link).await {
                call.flash(call.texts().copy_failed);
                return;
            }
            call.copied.set(true);
            gloo_timers::callback::Timeout::new(COPIED_MS, move || {
                call.copied.try_set(false);
            })
            .forget();
            press_start(call);
        });
    }
}
