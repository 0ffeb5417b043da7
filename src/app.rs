//! The page: the HTML shell, `<App/>` with its one route, and the views of each phase
//! (home, share-link, call, end). Owns markup and wiring buttons to the call's commands;
//! must not hold call logic (that is `contours`).

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_query_map;
use leptos_router::path;

use crate::contours::call::Call;
use crate::contours::core::{EndReason, Phase, Role};
use crate::contours::env::Link;
use crate::protocol::ErrorCode;

/// The HTML document around `<App/>`, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="ru">
            <head>
                <meta charset="utf-8"/>
                <meta
                    name="viewport"
                    content="width=device-width, initial-scale=1, viewport-fit=cover"
                />
                <meta name="theme-color" content="#0f172a"/>
                <meta name="description" content="Видеозвонок по ссылке: без регистрации и установки."/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" href="/icons/icon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The whole app: one route, `/`, whose `?session=` decides the view.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/homecall.css"/>
        <Title text="HomeCall"/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=CallPage/>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <main class="screen">
            <h1>"Страница не найдена"</h1>
            <a class="button primary" href="/" rel="external">"На главную"</a>
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
fn CallPage() -> impl IntoView {
    let query = use_query_map();
    let link = Link::from_query(query.with_untracked(|q| q.get("session")).as_deref());
    let call = Call::new(&link);
    Effect::new(move || {
        call.resume();
        #[cfg(feature = "hydrate")]
        crate::contours::env::mark_hydrated();
    });
    let screen = Memo::new(move |_| call.phase.with(screen_of));
    view! {
        <main class="screen" data-screen=move || match screen.get() {
            Screen::Home => "home",
            Screen::Share => "share",
            Screen::Call => "call",
            Screen::End => "end",
        }>
            {move || match screen.get() {
                Screen::Home => view! { <Home call/> }.into_any(),
                Screen::Share => view! { <ShareLink call/> }.into_any(),
                Screen::Call => view! { <CallView call/> }.into_any(),
                Screen::End => view! { <End call/> }.into_any(),
            }}
            <Notice call/>
        </main>
    }
}

#[component]
fn Home(call: Call) -> impl IntoView {
    view! {
        <section class="home">
            <h1 class="brand">"HomeCall"</h1>
            <p class="tagline">"Видеозвонок по ссылке. Без регистрации и установки."</p>
            <button class="button primary big" on:click=move |_| call.press_call()>
                "Позвонить"
            </button>
        </section>
    }
}

#[component]
fn LinkBox(call: Call) -> impl IntoView {
    view! {
        <div class="link-box">
            <input
                class="link"
                readonly
                aria-label="Ссылка на звонок"
                prop:value=move || call.share_link.get()
                on:focus=move |ev| {
                    let input: leptos::web_sys::HtmlInputElement = event_target(&ev);
                    input.select();
                }
            />
            <button class="button" on:click=move |_| call.copy_link()>"Копировать"</button>
        </div>
    }
}

#[component]
fn ShareLink(call: Call) -> impl IntoView {
    view! {
        <section class="share">
            <h1>"Ссылка на звонок"</h1>
            <p>"Отправьте её собеседнику, затем начните звонок."</p>
            <LinkBox call/>
            <button class="button primary big" on:click=move |_| call.press_start()>
                "Начать звонок"
            </button>
            <button class="button quiet" on:click=move |_| call.hang_up()>"Отмена"</button>
        </section>
    }
}

#[component]
fn CallView(call: Call) -> impl IntoView {
    let status = move || match call.phase.get() {
        Phase::Connecting {
            role: Role::Host, ..
        } => "Ждём собеседника…",
        Phase::Connecting { .. } => "Соединение…",
        Phase::Reconnecting { .. } => "Переподключение…",
        _ => "",
    };
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.repeat() || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        match ev.key().as_str() {
            "m" | "M" | "ь" | "Ь" => call.toggle_mic(),
            "v" | "V" | "м" | "М" => call.toggle_cam(),
            "Escape" => call.hang_up(),
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
                aria-label="Собеседник"
            ></video>
            <video
                class="local"
                node_ref=call.local_video
                autoplay
                playsinline
                muted
                aria-label="Ваша камера"
            ></video>
            <p class="status" role="status">{status}</p>
            <Show when=waiting_host>
                <div class="waiting"><LinkBox call/></div>
            </Show>
            <Show when=move || call.needs_tap_for_sound.get()>
                <button class="button sound" on:click=move |_| call.enable_sound()>
                    "Включить звук"
                </button>
            </Show>
            <div class="controls">
                <button
                    class="button round"
                    class:off=move || !call.mic_on.get()
                    aria-pressed=move || (!call.mic_on.get()).to_string()
                    aria-label=move || if call.mic_on.get() { "Выключить микрофон (M)" } else { "Включить микрофон (M)" }
                    disabled=move || !call.has_mic.get()
                    on:click=move |_| call.toggle_mic()
                >
                    {move || if call.mic_on.get() { "Микрофон" } else { "Микрофон выкл." }}
                </button>
                <button
                    class="button round"
                    class:off=move || !call.cam_on.get()
                    aria-pressed=move || (!call.cam_on.get()).to_string()
                    aria-label=move || if call.cam_on.get() { "Выключить камеру (V)" } else { "Включить камеру (V)" }
                    disabled=move || !call.has_camera.get()
                    on:click=move |_| call.toggle_cam()
                >
                    {move || if call.cam_on.get() { "Камера" } else { "Камера выкл." }}
                </button>
                <button
                    class="button danger round"
                    aria-label="Завершить"
                    on:click=move |_| call.hang_up()
                >
                    "Завершить"
                </button>
            </div>
        </section>
    }
}

/// The heading and explanation of an ended call.
fn end_texts(reason: EndReason) -> (&'static str, &'static str) {
    match reason {
        EndReason::HungUp => ("Звонок завершён", ""),
        EndReason::PeerHungUp => ("Звонок завершён", "Собеседник завершил звонок."),
        EndReason::Refused(ErrorCode::SessionFull) => (
            "Сеанс уже занят",
            "В этом звонке уже двое. Попросите новую ссылку.",
        ),
        EndReason::Refused(ErrorCode::SessionEnded) => (
            "Сессия завершена",
            "Этот звонок уже закончился. Начните новый.",
        ),
        EndReason::Refused(_) | EndReason::BadLink => (
            "Неверная ссылка на звонок",
            "Ссылка повреждена или неполная: проверьте её или начните новый звонок.",
        ),
    }
}

#[component]
fn End(call: Call) -> impl IntoView {
    let texts = move || match call.phase.get() {
        Phase::Ended { reason } => end_texts(reason),
        _ => ("Звонок завершён", ""),
    };
    view! {
        <section class="end">
            <h1>{move || texts().0}</h1>
            <p>{move || texts().1}</p>
            <button class="button primary big" on:click=move |_| call.press_call()>
                "Позвонить снова"
            </button>
        </section>
    }
}

#[component]
fn Notice(call: Call) -> impl IntoView {
    view! {
        <Show when=move || call.notice.with(Option::is_some)>
            <div class="notice" role="alert" on:click=move |_| call.notice.set(None)>
                {move || call.notice.get().unwrap_or_default()}
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_says_what_happened() {
        assert_eq!(
            end_texts(EndReason::Refused(ErrorCode::SessionFull)).0,
            "Сеанс уже занят"
        );
        assert_eq!(
            end_texts(EndReason::Refused(ErrorCode::SessionEnded)).0,
            "Сессия завершена"
        );
        assert_eq!(end_texts(EndReason::BadLink).0, "Неверная ссылка на звонок");
        assert_eq!(end_texts(EndReason::PeerHungUp).0, "Звонок завершён");
    }
}
