//! The page: the HTML shell, `<App/>` with its one route, and the views of each phase
//! (home, share-link, call, end). Owns markup and wiring buttons to the call's commands;
//! must not hold call logic (that is `contours`).

use leptos::either::{Either, EitherOf3, EitherOf4};
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};

use crate::contours::call::Call;
use crate::contours::chat;
use crate::contours::core::{EndReason, MediaTrouble, Missing, MissingBecause, Phase, Role};
use crate::contours::core::{Quality, format_duration};
use crate::contours::devices;
use crate::contours::env::{BrowserFamily, Link, Page};
use crate::contours::verify;
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
                <LinkPreview lang/>
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

/// The origin this page is served from (`https://call.example`), for absolute links;
/// provided by the server with each page.
#[derive(Clone, Debug)]
pub struct PageOrigin(pub String);

/// The `og:` tags a messenger reads to preview a link: a call link is an invitation, the
/// home page is the app; in the page's language, with the app's icon.
#[component]
fn LinkPreview(lang: Lang) -> impl IntoView {
    let t = lang.texts();
    let (title, description) = match page_at_address() {
        Page::Call(Link::Call(_)) => (t.preview_title, t.preview_description),
        _ => ("HomeCall", t.tagline),
    };
    let image = use_context::<PageOrigin>()
        .map(|PageOrigin(origin)| format!("{origin}/icons/icon-512.png"));
    let locale = match lang {
        Lang::Ru => "ru_RU",
        Lang::En => "en_US",
    };
    // `property` is no attribute the view macro knows: each tag is built by hand.
    let tag = |property: &'static str, content: String| {
        use leptos::tachys::html::attribute::custom::CustomAttribute;
        leptos::html::meta()
            .attr("property", property)
            .attr("content", content)
    };
    let image_tags = image.map(|image| {
        (
            tag("og:image", image),
            tag("og:image:width", "512".into()),
            tag("og:image:height", "512".into()),
        )
    });
    (
        tag("og:type", "website".into()),
        tag("og:site_name", "HomeCall".into()),
        tag("og:locale", locale.into()),
        tag("og:title", title.into()),
        tag("og:description", description.into()),
        image_tags,
    )
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
        crate::contours::chat::take_shared_photo(call);
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
            {shown(move || screen.get() != Screen::Call, move || view! { <Notice call/> })}
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

/// Whether this is a touch device with a share sheet: the link goes out through it (one big
/// «Отправить ссылку»); elsewhere it is copied or scanned off the screen.
fn shares_by_sheet() -> RwSignal<bool> {
    let by_sheet = RwSignal::new(false);
    Effect::new(move || {
        #[cfg(feature = "hydrate")]
        by_sheet.set(crate::contours::env::can_share() && crate::contours::env::touch_first());
    });
    by_sheet
}

/// The link to send: on a phone one big «Отправить ссылку» (the share sheet, with an
/// invitation); the whole link, wrapped, with «Копировать» under it (which confirms in
/// itself); and for a desktop, the QR code for a phone to scan (hidden on touch screens).
#[component]
fn LinkBox(call: Call, by_sheet: RwSignal<bool>) -> impl IntoView {
    let t = call.texts();
    let qr = call
        .phase
        .with_untracked(Phase::session)
        .map(|session| format!("/qr.svg?session={session}"));
    view! {
        <div class="link-box">
            {shown(move || by_sheet.get(), move || view! {
                <button class="button primary big" on:click=move |_| call.share_link_natively()>
                    {t.send_link}
                </button>
            })}
            <textarea
                class="link"
                readonly
                rows="2"
                aria-label=t.link_label
                prop:value=move || call.share_link.get()
                on:focus=move |ev| {
                    let input: leptos::web_sys::HtmlTextAreaElement = event_target(&ev);
                    input.select();
                }
            ></textarea>
            <button class="button copy" class:done=move || call.copied.get() on:click=move |_| call.copy_link()>
                <span aria-live="polite">{move || if call.copied.get() { t.copied_short } else { t.copy }}</span>
            </button>
            // The link as a QR code (drawn by the server), for a phone to scan off a screen.
            <img class="qr" src=qr alt=t.qr_label width="180" height="180"/>
        </div>
    }
}

#[component]
fn ShareLink(call: Call) -> impl IntoView {
    let t = call.texts();
    let by_sheet = shares_by_sheet();
    view! {
        <section class="share">
            <h1 tabindex="-1">{t.share_title}</h1>
            <p>{t.share_hint}</p>
            <LinkBox call by_sheet/>
            <button
                class="button big"
                class:primary=move || !by_sheet.get()
                on:click=move |_| call.press_start()
            >
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

/// Whether something of the call is so (a sheet is open), and a command on it.
type Check = fn(Call) -> bool;
type Command = fn(Call);

#[component]
fn CallView(call: Call) -> impl IntoView {
    let t = call.texts();
    let reconnecting = Memo::new(move |_| matches!(call.phase.get(), Phase::Reconnecting { .. }));
    let lost_long = lost_for_long(reconnecting);
    let status = move || match call.phase.get() {
        Phase::Connecting {
            role: Role::Host, ..
        } => t.waiting,
        Phase::Connecting { .. } if call.host_absent.get() => t.waiting_for_host,
        Phase::Connecting { .. } => t.connecting,
        Phase::Reconnecting { .. } if lost_long.get() => t.peer_may_have_left,
        Phase::Reconnecting { .. } => t.reconnecting,
        _ => "",
    };
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.repeat() || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        // Esc closes a sheet (the chat, verification, the devices) first; letters typed
        // into its fields are words, not commands.
        let sheets: [(Check, Command); 3] = [
            (chat::is_open, chat::toggle),
            (verify::is_open, verify::toggle),
            (devices::is_open, devices::toggle),
        ];
        if let Some((_, close)) = sheets.iter().find(|(open, _)| open(call)) {
            if ev.key() == "Escape" {
                close(call);
            }
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
    on_cleanup(move || {
        keys.remove();
        chat::forget(call);
        devices::forget(call);
        verify::forget(call);
    });
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
    let by_sheet = shares_by_sheet();
    // A tap on the other side's video fills the screen with it (cut to fit), or shows
    // all of it again (on a blurred copy of itself).
    let fill = RwSignal::new(false);
    let backdrop = blurred_backdrop(call);
    view! {
        <section class="call" class:fill=move || fill.get() data-phase=move || match call.phase.get() {
            Phase::InCall { .. } => "in-call",
            Phase::Reconnecting { .. } => "reconnecting",
            _ => "connecting",
        }>
            <div class="top-bar">
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
                {shown(move || !call.peer_devices.get().mic, move || view! {
                    <span class="peer-mic-off">{t.peer_mic_off}</span>
                })}
                // Shown and named by Verify once the code is ready (no reactive part).
                <button
                    class="verify"
                    hidden
                    aria-expanded="false"
                    node_ref=call.verify.chip
                    on:click=move |_| verify::toggle(call)
                ></button>
            </div>
            <div class="stage">
                <canvas class="backdrop" node_ref=backdrop width="32" height="18" aria-hidden="true"></canvas>
                <video
                    class="remote"
                    node_ref=call.remote_video
                    autoplay
                    playsinline
                    aria-label=t.remote_label
                    title=t.video_fill
                    on:click=move |_| fill.update(|fill| *fill = !*fill)
                ></video>
                {shown(move || !call.peer_devices.get().cam, move || view! {
                    <p class="peer-camera-off">{t.peer_camera_off}</p>
                })}
                <SelfView call/>
                <div class="middle">
                    <MediaCard call/>
                    <p class="status" role="status">{status}</p>
                    {shown(waiting_host, move || view! {
                        <div class="waiting">
                            <LinkBox call by_sheet/>
                            <button class="button quiet" on:click=move |_| call.examine()>
                                {t.check_connection}
                            </button>
                        </div>
                    })}
                    {shown(move || call.needs_tap_for_sound.get(), move || view! {
                        <button class="button sound" on:click=move |_| call.enable_sound()>
                            {t.enable_sound}
                        </button>
                    })}
                </div>
                <ChatPanel call/>
                <aside class="sheet verify" hidden node_ref=call.verify.panel aria-label=t.verify></aside>
                <aside class="sheet devices" hidden node_ref=call.device_panel.panel aria-label=t.devices></aside>
                <Notice call/>
            </div>
            <div class="controls">
                <DeviceToggle
                    call
                    icon="mic"
                    on=call.mic_on
                    available=call.has_mic
                    labels=(t.mic, t.mic_off, t.no_mic)
                    actions=(t.mic_turn_off, t.mic_turn_on, t.no_mic_why)
                    toggle=move || call.toggle_mic()
                />
                <DeviceToggle
                    call
                    icon="cam"
                    on=call.cam_on
                    available=call.has_camera
                    labels=(t.cam, t.cam_off, t.no_cam)
                    actions=(t.cam_turn_off, t.cam_turn_on, t.no_cam_why)
                    toggle=move || call.toggle_cam()
                />
                {shown(move || { call.camera_count.get() > 1 && call.cam_on.get() }, move || view! {
                    <button
                        class="ctl"
                        data-icon="switch"
                        aria-label=t.switch_camera
                        on:click=move |_| call.switch_camera()
                    >
                        <span class="disc" aria-hidden="true"></span>
                        <span class="caption">{t.switch_camera_caption}</span>
                    </button>
                })}
                {shown(move || can_pip.get() && call.phase.with(|p| !matches!(p, Phase::Connecting { .. })), move || view! {
                    <button
                        class="ctl"
                        data-icon="pip"
                        aria-label=t.picture_in_picture
                        on:click=move |_| call.picture_in_picture()
                    >
                        <span class="disc" aria-hidden="true"></span>
                        <span class="caption">{t.picture_in_picture_short}</span>
                    </button>
                })}
                <button
                    class="ctl"
                    data-icon="devices"
                    aria-expanded="false"
                    node_ref=call.device_panel.control
                    on:click=move |_| devices::toggle(call)
                >
                    <span class="disc" aria-hidden="true"></span>
                    <span class="caption">{t.devices}</span>
                </button>
                // Shown in a call only (by the stylesheet: no reactive part).
                <button
                    class="ctl chat-control"
                    data-icon="chat"
                    aria-expanded="false"
                    node_ref=call.chat.control
                    on:click=move |_| chat::toggle(call)
                >
                    <span class="disc" aria-hidden="true"></span>
                    <span class="caption">{t.chat}</span>
                    <span class="unread" hidden node_ref=call.chat.unread></span>
                </button>
                <button
                    class="ctl hang-up"
                    data-icon="hang-up"
                    aria-label=t.hang_up
                    on:click=move |_| call.hang_up()
                >
                    <span class="disc" aria-hidden="true"></span>
                    <span class="caption">{t.hang_up}</span>
                </button>
            </div>
        </section>
    }
}

/// The canvas behind the other side's video: a tiny copy of its picture, redrawn once a
/// second and stretched (and blurred by CSS), so a picture of another shape sits on its
/// own colours instead of black bars. Costs one 32×18 draw a second.
fn blurred_backdrop(call: Call) -> NodeRef<leptos::html::Canvas> {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        let Some(canvas) = canvas.get() else { return };
        let tick = gloo_timers::callback::Interval::new(1_000, move || {
            if let Some(video) = call.remote_video.get_untracked() {
                crate::contours::env::draw_small_copy(&canvas, &video);
            }
        });
        let tick = send_wrapper::SendWrapper::new(tick);
        on_cleanup(move || drop(tick));
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = call;
    canvas
}

/// This side's camera, small in a corner of the call (all of the stage while it waits):
/// its box takes the camera's shape; dragged, it follows the finger and lands in the
/// nearest corner; tapped, it moves to the next one (see `env::self_view`, which does it
/// on the element itself: reactive attributes would add their own code to the wasm).
#[component]
fn SelfView(call: Call) -> impl IntoView {
    let t = call.texts();
    let wrapper = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        if let (Some(wrapper), Some(video)) = (wrapper.get(), call.local_video.get()) {
            let listeners = crate::contours::env::self_view(&wrapper, &video);
            let listeners = send_wrapper::SendWrapper::new(listeners);
            on_cleanup(move || drop(listeners));
        }
    });
    view! {
        <div class="self" data-corner="tr" title=t.self_view_move node_ref=wrapper>
            <video
                class="local"
                class:off=move || !call.cam_on.get()
                node_ref=call.local_video
                autoplay
                playsinline
                muted
                aria-label=t.local_label
            ></video>
        </div>
    }
}

/// The chat's panel: empty until it first opens, when the chat builds its list and its
/// line (see `contours::chat`); it goes with the call's view, and what was said with it.
#[component]
fn ChatPanel(call: Call) -> impl IntoView {
    view! { <aside class="sheet chat" hidden node_ref=call.chat.panel aria-label=call.texts().chat></aside> }
}

/// Why this side has no camera or microphone, and what to do: this browser's steps to
/// allow them and «Попробовать снова»; closed, it opens again from the device's control.
#[component]
fn MediaCard(call: Call) -> impl IntoView {
    let t = call.texts();
    let trouble = move || {
        call.media_trouble
            .get()
            .filter(|_| call.trouble_card_open.get())
    };
    let title = move |trouble: MediaTrouble| match trouble.missing {
        Missing::Camera => t.camera_unavailable,
        Missing::Microphone => t.mic_unavailable,
        Missing::Both => t.media_unavailable,
    };
    let steps = move |trouble: MediaTrouble| match trouble.because {
        MissingBecause::Denied => t.allow_steps(browser_family()),
        MissingBecause::NotFound => t.media_missing_hint,
        MissingBecause::Unsupported => t.in_app_browser_hint,
    };
    move || {
        trouble().map(|trouble| {
            view! {
                <div class="media-card">
                    <p role="alert">
                        <strong>{title(trouble)}</strong>
                        " "
                        <span>{steps(trouble)}</span>
                    </p>
                    <div class="actions">
                        {trouble.can_retry().then(|| view! {
                            <button class="button primary" on:click=move |_| call.retry_media()>
                                {t.try_again}
                            </button>
                        })}
                        <button class="button" on:click=move |_| call.trouble_card_open.set(false)>
                            {t.dismiss}
                        </button>
                    </div>
                </div>
            }
        })
    }
}

/// This browser's family (in the browser; Chrome's steps on the server, which never
/// shows the card).
fn browser_family() -> BrowserFamily {
    #[cfg(feature = "hydrate")]
    {
        crate::contours::env::browser_family()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        BrowserFamily::Chrome
    }
}

/// A microphone or camera on/off button: a round icon (crossed, on a light disc, when off)
/// over a caption that says the state (`labels`: on, off, missing); its ARIA label starts
/// with that caption, then says what pressing it does (`actions`: turn off, turn on, why).
/// The name changes with the state, so no `aria-pressed` (it would say the state twice).
/// Without the device the control stays reachable and says why when pressed.
#[component]
fn DeviceToggle(
    call: Call,
    icon: &'static str,
    on: RwSignal<bool>,
    available: RwSignal<bool>,
    labels: (&'static str, &'static str, &'static str),
    actions: (&'static str, &'static str, &'static str),
    toggle: impl Fn() + 'static,
) -> impl IntoView {
    let pick = move |(when_on, when_off, missing): (&'static str, &'static str, &'static str)| {
        if !available.get() {
            missing
        } else if on.get() {
            when_on
        } else {
            when_off
        }
    };
    view! {
        <button
            class="ctl"
            data-icon=icon
            class:off=move || !on.get() || !available.get()
            class:missing=move || !available.get()
            aria-label=move || pick(actions)
            on:click=move |_| if available.get_untracked() { toggle() } else { call.show_media_trouble() }
        >
            <span class="disc" aria-hidden="true"></span>
            <span class="caption">{move || pick(labels)}</span>
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
    let by_sheet = shares_by_sheet();
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
        (EndReason::OwnLink, _) => EitherOf3::A(view! { <LinkBox call by_sheet/> }),
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
