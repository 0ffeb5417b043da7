//! The page: the HTML shell, `<App/>` with its one route, and the views of each phase
//! (home, share-link, call, end). Owns markup and wiring buttons to the call's commands;
//! must not hold call logic (that is `contours`).

use leptos::either::{Either, EitherOf3, EitherOf4};
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};

use crate::contours::call::Call;
use crate::contours::core::{EndReason, Phase, Role};
use crate::contours::core::{Quality, format_duration};
use crate::contours::env::{Link, Page};
use crate::i18n::{Lang, Texts};
use crate::protocol::ErrorCode;
use crate::pwa::Pwa;

/// The call's first step, taken while the wasm loads: a call link's signal socket opens
/// (see `early.js`).
const EARLY_START: &str = include_str!("early.js");

/// The language of this page: from `Accept-Language` on the server, and from what the
/// server wrote on `<html lang>` in the browser (so hydration renders the same words).
pub fn page_lang() -> Lang {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| {
                let header = parts.headers.get(axum::http::header::ACCEPT_LANGUAGE)?;
                Some(Lang::from_accept_language(header.to_str().ok()?))
            })
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        crate::contours::env::page_lang()
            .as_deref()
            .and_then(Lang::from_code)
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Lang::default()
    }
}

/// The page this address asks for: from the request on the server, from `location` in the
/// browser.
fn page_at_address() -> Page {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>().map_or(Page::NotFound, |parts| {
            Page::from_address(parts.uri.path(), parts.uri.query().unwrap_or_default())
        })
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let (path, query) = crate::contours::env::page_address();
        Page::from_address(&path, &query)
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Page::NotFound
    }
}

/// The HTML document around `<App/>`, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let lang = page_lang();
    view! {
        <!DOCTYPE html>
        <html lang=lang.code()>
            <head>
                <meta charset="utf-8"/>
                <meta
                    name="viewport"
                    content="width=device-width, initial-scale=1, viewport-fit=cover"
                />
                <meta name="theme-color" content="#0f172a"/>
                // Before anything else loads: a call link's signal socket opens now.
                <script nonce=leptos::nonce::use_nonce() inner_html=EARLY_START></script>
                <meta name="description" content=lang.texts().tagline/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" href="/icons/icon.svg" type="image/svg+xml"/>
                <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png"/>
                <meta name="apple-mobile-web-app-capable" content="yes"/>
                <meta name="mobile-web-app-capable" content="yes"/>
                <meta name="apple-mobile-web-app-status-bar-style" content="black-translucent"/>
                <meta name="apple-mobile-web-app-title" content="HomeCall"/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The whole app: one page, `/`, whose `?session=` decides the view. (No router: one
/// route needs none, and the wasm is smaller without one.)
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let page = match page_at_address() {
        Page::Call(link) => Either::Left(view! { <CallPage link/> }),
        Page::NotFound => Either::Right(view! { <NotFound/> }),
    };
    view! {
        <Title text="HomeCall"/>
        {page}
    }
}

#[component]
fn NotFound() -> impl IntoView {
    let t = page_lang().texts();
    view! {
        <main class="screen">
            <h1>{t.not_found}</h1>
            <a class="button primary" href="/" rel="external">{t.to_home}</a>
        </main>
    }
}

/// Which view a phase shows; the call view stays mounted across its three phases.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Screen {
    Home,
    Share,
    Call,
    End,
}

/// Where a view starts, for the keyboard: its main button, or its heading.
#[cfg(feature = "hydrate")]
fn view_start(screen: Screen) -> &'static str {
    match screen {
        Screen::Home => ".home .button.primary",
        Screen::Share => ".share h1",
        Screen::Call => ".controls button:not([disabled])",
        Screen::End => ".end h1",
    }
}

fn screen_of(phase: &Phase) -> Screen {
    match phase {
        Phase::Idle => Screen::Home,
        Phase::ShareLink { .. } => Screen::Share,
        Phase::Connecting { .. } | Phase::InCall { .. } | Phase::Reconnecting { .. } => {
            Screen::Call
        }
        Phase::Ended { .. } => Screen::End,
    }
}

#[component]
fn CallPage(link: Link) -> impl IntoView {
    let call = Call::new(&link, page_lang());
    let pwa = Pwa::new();
    Effect::new(move || {
        call.resume();
        pwa.start();
        #[cfg(feature = "hydrate")]
        crate::contours::env::forget_other_calls(call.phase.get_untracked().session().as_ref());
        #[cfg(feature = "hydrate")]
        crate::contours::env::mark_hydrated();
        // A tap made before now was held by `early.js`: it takes effect now, once.
        #[cfg(feature = "hydrate")]
        queue_microtask(crate::contours::env::replay_early_taps);
    });
    // A new version never cuts a call: reload into it once no call runs.
    Effect::new(move || {
        let live = call.phase.with(Phase::is_live);
        if pwa.update_ready.get() {
            if live {
                call.notice
                    .set(Some(call.texts().update_available.to_owned()));
            } else {
                pwa.reload();
            }
        }
    });
    let screen = Memo::new(move |_| call.phase.with(screen_of));
    // A new view starts clean (a notice belongs to the view it was shown on), with the
    // keyboard and a screen reader at its start rather than back on the page.
    Effect::new(move |before: Option<Screen>| {
        let now = screen.get();
        if before.is_some_and(|before| before != now) {
            call.notice.set(None);
            #[cfg(feature = "hydrate")]
            crate::contours::env::focus_first(view_start(now));
        }
        now
    });
    view! {
        <main class="screen" data-screen=move || match screen.get() {
            Screen::Home => "home",
            Screen::Share => "share",
            Screen::Call => "call",
            Screen::End => "end",
        }>
            {move || match screen.get() {
                Screen::Home => EitherOf4::A(view! { <Home call pwa/> }),
                Screen::Share => EitherOf4::B(view! { <ShareLink call/> }),
                Screen::Call => EitherOf4::C(view! { <CallView call/> }),
                Screen::End => EitherOf4::D(view! { <End call/> }),
            }}
            <Notice call/>
        </main>
    }
}

/// `view` while `when` holds, as `<Show>` does, but keeping the view's type: an erased view
/// (`<Show>`'s children, `into_any`) costs the wasm its own copy of the hydration code.
fn shown<V>(
    when: impl Fn() -> bool + Send + Sync + 'static,
    view: impl Fn() -> V + Send + Sync + 'static,
) -> impl IntoView
where
    V: IntoView + 'static,
{
    let when = Memo::new(move |_| when());
    move || when.get().then(&view)
}

#[component]
fn Home(call: Call, pwa: Pwa) -> impl IntoView {
    let t = call.texts();
    view! {
        <section class="home">
            <img class="logo" src="/icons/icon.svg" alt="" width="96" height="96"/>
            <h1 class="brand">"HomeCall"</h1>
            <p class="tagline">{t.tagline}</p>
            <button class="button primary big" on:click=move |_| call.press_call()>
                {t.call}
            </button>
            {shown(move || pwa.can_install.get(), move || view! {
                <button class="button" on:click=move |_| pwa.install()>{t.install}</button>
            })}
            {shown(move || pwa.show_ios_hint.get(), move || view! {
                <p class="hint">{t.install_ios_hint}</p>
            })}
        </section>
    }
}

#[component]
fn LinkBox(call: Call) -> impl IntoView {
    let t = call.texts();
    let can_share = RwSignal::new(false);
    Effect::new(move || {
        #[cfg(feature = "hydrate")]
        can_share.set(crate::contours::env::can_share());
    });
    view! {
        <div class="link-box">
            <input
                class="link"
                readonly
                aria-label=t.link_label
                prop:value=move || call.share_link.get()
                on:focus=move |ev| {
                    let input: leptos::web_sys::HtmlInputElement = event_target(&ev);
                    input.select();
                }
            />
            <button class="button" on:click=move |_| call.copy_link()>{t.copy}</button>
            {shown(move || can_share.get(), move || view! {
                <button class="button" on:click=move |_| call.share_link_natively()>{t.share}</button>
            })}
        </div>
    }
}

/// The link as a QR code (drawn by the server), for a phone to scan off a screen.
#[component]
fn LinkQr(call: Call) -> impl IntoView {
    let src = move || {
        call.phase
            .with(Phase::session)
            .map(|session| format!("/qr.svg?session={session}"))
    };
    view! {
        {shown(move || src().is_some(), move || view! {
            <img class="qr" src=src alt=call.texts().qr_label width="180" height="180"/>
        })}
    }
}

#[component]
fn ShareLink(call: Call) -> impl IntoView {
    let t = call.texts();
    view! {
        <section class="share">
            <h1 tabindex="-1">{t.share_title}</h1>
            <p>{t.share_hint}</p>
            <LinkBox call/>
            <LinkQr call/>
            <button class="button primary big" on:click=move |_| call.press_start()>
                {t.start_call}
            </button>
            <button class="button quiet" on:click=move |_| call.hang_up()>{t.cancel}</button>
        </section>
    }
}

/// Seconds since `since` (milliseconds since the epoch), ticking once a second.
fn call_timer(since: RwSignal<Option<f64>>) -> impl Fn() -> Option<String> {
    let now = RwSignal::new(0.0_f64);
    Effect::new(move || {
        #[cfg(feature = "hydrate")]
        {
            now.set(js_sys::Date::now());
            let tick = gloo_timers::callback::Interval::new(1_000, move || {
                now.set(js_sys::Date::now());
            });
            let tick = send_wrapper::SendWrapper::new(tick);
            on_cleanup(move || drop(tick));
        }
    });
    move || {
        let since = since.get()?;
        let seconds = ((now.get() - since) / 1000.0).max(0.0) as u64;
        Some(format_duration(seconds))
    }
}

/// How long a call may stay lost before the page says the other person may have left.
#[cfg(feature = "hydrate")]
const LOST_LONG_MS: u32 = 30_000;

/// Whether `reconnecting` has held for `LOST_LONG_MS` without a break (in the browser;
/// never on the server).
fn lost_for_long(reconnecting: Memo<bool>) -> RwSignal<bool> {
    let long = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        long.set(false);
        if reconnecting.get() {
            let timer = gloo_timers::callback::Timeout::new(LOST_LONG_MS, move || {
                long.try_set(true);
            });
            let timer = send_wrapper::SendWrapper::new(timer);
            on_cleanup(move || drop(timer));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = reconnecting;
    long
}

fn quality_text(t: &Texts, quality: Quality) -> &'static str {
    match quality {
        Quality::Good => t.quality_good,
        Quality::Fair => t.quality_fair,
        Quality::Poor => t.quality_poor,
    }
}

#[component]
fn CallView(call: Call) -> impl IntoView {
    let t = call.texts();
    let reconnecting = Memo::new(move |_| matches!(call.phase.get(), Phase::Reconnecting { .. }));
    let lost_long = lost_for_long(reconnecting);
    let status = move || match call.phase.get() {
        Phase::Connecting {
            role: Role::Host, ..
        } => t.waiting,
        Phase::Connecting { .. } => t.connecting,
        Phase::Reconnecting { .. } if lost_long.get() => t.peer_may_have_left,
        Phase::Reconnecting { .. } => t.reconnecting,
        _ => "",
    };
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.repeat() || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        match ev.key().as_str() {
            "m" | "M" | "ь" | "Ь" => call.toggle_mic(),
            "v" | "V" | "м" | "М" => call.toggle_cam(),
            // A stray Esc (leaving full screen, closing a menu) must not end the call:
            // the first one asks, a second one while the question shows hangs up.
            "Escape"
                if call
                    .notice
                    .with_untracked(|n| n.as_deref() == Some(t.esc_again)) =>
            {
                call.hang_up()
            }
            "Escape" => call.flash(t.esc_again),
            _ => {}
        }
    });
    on_cleanup(move || keys.remove());
    let waiting_host = move || {
        matches!(
            call.phase.get(),
            Phase::Connecting {
                role: Role::Host,
                ..
            }
        )
    };
    let timer = call_timer(call.in_call_since);
    let can_pip = RwSignal::new(false);
    Effect::new(move || {
        #[cfg(feature = "hydrate")]
        can_pip.set(crate::contours::env::can_picture_in_picture());
    });
    view! {
        <section class="call" data-phase=move || match call.phase.get() {
            Phase::InCall { .. } => "in-call",
            Phase::Reconnecting { .. } => "reconnecting",
            _ => "connecting",
        }>
            <video
                class="remote"
                node_ref=call.remote_video
                autoplay
                playsinline
                aria-label=t.remote_label
            ></video>
            {shown(move || !call.peer_devices.get().cam, move || view! {
                <p class="peer-camera-off">{t.peer_camera_off}</p>
            })}
            <video
                class="local"
                class:off=move || !call.cam_on.get()
                node_ref=call.local_video
                autoplay
                playsinline
                muted
                aria-label=t.local_label
            ></video>
            <div class="top-bar">
                {shown(move || !call.peer_devices.get().mic, move || view! {
                    <span class="peer-mic-off">{t.peer_mic_off}</span>
                })}
                <span class="timer" role="timer" aria-label=t.call_duration>{timer}</span>
                {move || call.quality.get().filter(|_| !reconnecting.get()).map(|(quality, rtt)| view! {
                    <span
                        class="quality"
                        data-quality=match quality { Quality::Good => "good", Quality::Fair => "fair", Quality::Poor => "poor" }
                        title=format!("{rtt} ms")
                    >
                        {quality_text(t, quality)}
                    </span>
                })}
            </div>
            <p class="status" role="status">{status}</p>
            {shown(waiting_host, move || view! {
                <div class="waiting">
                    <LinkBox call/>
                    <LinkQr call/>
                </div>
            })}
            {shown(move || call.needs_tap_for_sound.get(), move || view! {
                <button class="button sound" on:click=move |_| call.enable_sound()>
                    {t.enable_sound}
                </button>
            })}
            <div class="controls">
                <DeviceToggle
                    on=call.mic_on
                    available=call.has_mic
                    labels=(t.mic, t.mic_off)
                    actions=(t.mic_turn_off, t.mic_turn_on)
                    toggle=move || call.toggle_mic()
                />
                <DeviceToggle
                    on=call.cam_on
                    available=call.has_camera
                    labels=(t.cam, t.cam_off)
                    actions=(t.cam_turn_off, t.cam_turn_on)
                    toggle=move || call.toggle_cam()
                />
                {shown(move || { call.camera_count.get() > 1 && call.cam_on.get() }, move || view! {
                    <button
                        class="button round"
                        aria-label=t.switch_camera
                        on:click=move |_| call.switch_camera()
                    >
                        {t.switch_camera}
                    </button>
                })}
                {shown(move || can_pip.get(), move || view! {
                    <button
                        class="button round"
                        aria-label=t.picture_in_picture
                        on:click=move |_| call.picture_in_picture()
                    >
                        {t.picture_in_picture_short}
                    </button>
                })}
                <button
                    class="button danger round"
                    aria-label=t.hang_up
                    on:click=move |_| call.hang_up()
                >
                    {t.hang_up}
                </button>
            </div>
        </section>
    }
}

/// A microphone or camera on/off button: its text says the state (`labels`: on, off),
/// its ARIA label that text, then the action (`actions`: turn off, turn on). The name
/// changes with the state, so no `aria-pressed` (it would say the state twice).
#[component]
fn DeviceToggle(
    on: RwSignal<bool>,
    available: RwSignal<bool>,
    labels: (&'static str, &'static str),
    actions: (&'static str, &'static str),
    toggle: impl Fn() + 'static,
) -> impl IntoView {
    let pick = move |(when_on, when_off): (&'static str, &'static str)| {
        if on.get() { when_on } else { when_off }
    };
    view! {
        <button
            class="button round"
            class:off=move || !on.get()
            aria-label=move || pick(actions)
            disabled=move || !available.get()
            on:click=move |_| toggle()
        >
            {move || pick(labels)}
        </button>
    }
}

/// The heading and explanation of an ended call.
fn end_texts(t: &Texts, reason: EndReason) -> (&'static str, &'static str) {
    match reason {
        EndReason::HungUp => (t.ended, ""),
        EndReason::PeerHungUp => (t.ended, t.peer_hung_up),
        EndReason::Refused(ErrorCode::SessionFull) => (t.call_taken, t.session_full_hint),
        EndReason::Refused(ErrorCode::SessionEnded) => (t.call_over, t.session_ended_hint),
        EndReason::Refused(_) | EndReason::BadLink => (t.bad_link, t.bad_link_hint),
        EndReason::OwnLink => (t.own_link, t.own_link_hint),
    }
}

#[component]
fn End(call: Call) -> impl IntoView {
    let t = call.texts();
    let ended = move || match call.phase.get() {
        Phase::Ended { reason, role } => (reason, role),
        _ => (EndReason::HungUp, Role::Host),
    };
    let texts = move || end_texts(t, ended().0);
    let lasted = call_length(call);
    // «Звонок завершён · 12:34» after a call that ran.
    let heading = move || {
        let (reason, _) = ended();
        let ran = matches!(reason, EndReason::HungUp | EndReason::PeerHungUp);
        match lasted.get() {
            Some(seconds) if ran => format!("{} · {}", texts().0, format_duration(seconds)),
            _ => texts().0.to_owned(),
        }
    };
    // A guest cannot use a new call of its own: it closes the page instead. The host's
    // own link in another tab offers the link to send.
    let way_out = move || match ended() {
        (EndReason::OwnLink, _) => EitherOf3::A(view! { <LinkBox call/> }),
        (_, Role::Host) => EitherOf3::B(view! {
            <button class="button primary big" on:click=move |_| call.press_call()>
                {t.call_again}
            </button>
        }),
        (_, Role::Guest) => EitherOf3::C(view! {
            <button class="button primary big" on:click=move |_| call.close_page()>
                {t.close_page}
            </button>
        }),
    };
    view! {
        <section class="end">
            <h1 tabindex="-1">{heading}</h1>
            <p>{move || texts().1}</p>
            {way_out}
        </section>
    }
}

/// How long the call that just ended ran, in seconds (in the browser, once it had
/// connected).
fn call_length(call: Call) -> RwSignal<Option<u64>> {
    let lasted = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        if let Some(since) = call.in_call_since.get_untracked() {
            lasted.set(Some(
                ((js_sys::Date::now() - since) / 1000.0).max(0.0) as u64
            ));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = call;
    lasted
}

/// A message over the view: read out when it appears (the alert is its text alone), closed
/// by its button (keyboard) or a tap anywhere on it.
#[component]
fn Notice(call: Call) -> impl IntoView {
    let t = call.texts();
    view! {
        {shown(move || call.notice.with(Option::is_some), move || view! {
            <div class="notice" on:click=move |_| call.notice.set(None)>
                <p role="alert">{move || call.notice.get().unwrap_or_default()}</p>
                <button class="button quiet" on:click=move |_| call.notice.set(None)>
                    {t.dismiss}
                </button>
            </div>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{EN, RU};

    #[test]
    fn every_refusal_says_what_happened() {
        assert_eq!(
            end_texts(&RU, EndReason::Refused(ErrorCode::SessionFull)).0,
            "Этот звонок уже занят"
        );
        assert_eq!(
            end_texts(&RU, EndReason::Refused(ErrorCode::SessionEnded)).0,
            "Этот звонок уже завершён"
        );
        assert_eq!(
            end_texts(&RU, EndReason::BadLink).0,
            "Неверная ссылка на звонок"
        );
        assert_eq!(end_texts(&RU, EndReason::PeerHungUp).0, "Звонок завершён");
        assert_eq!(end_texts(&EN, EndReason::BadLink).0, "Invalid call link");
        assert_eq!(end_texts(&EN, EndReason::HungUp).0, "Call ended");
    }
}
