//! The installed-app side of the page: registers the service worker, hears its
//! CacheCleaner's "updated" message, and offers installation (`beforeinstallprompt`, or
//! a how-to on iPhone). Owns those browser hooks and their signals; must not decide when
//! a call may be interrupted (the page does that from the call's phase).

use leptos::prelude::*;

/// What the page shows about installing and updating.
#[derive(Clone, Copy)]
pub struct Pwa {
    /// The browser offered installation (`beforeinstallprompt`).
    pub can_install: RwSignal<bool>,
    /// iPhone/iPad Safari, not installed: show how to add to the home screen.
    pub show_ios_hint: RwSignal<bool>,
    /// A new version is active; the page reloads into it when no call runs.
    pub update_ready: RwSignal<bool>,
    #[cfg(feature = "hydrate")]
    prompt: StoredValue<Option<wasm_bindgen::JsValue>, LocalStorage>,
}

impl Pwa {
    pub fn new() -> Pwa {
        Pwa {
            can_install: RwSignal::new(false),
            show_ios_hint: RwSignal::new(false),
            update_ready: RwSignal::new(false),
            #[cfg(feature = "hydrate")]
            prompt: StoredValue::new_local(None),
        }
    }

    /// In the browser, once: register the service worker and listen for installs and updates.
    pub fn start(&self) {
        #[cfg(feature = "hydrate")]
        browser::start(*self);
    }

    /// «Установить приложение»: the browser's install dialog.
    pub fn install(&self) {
        #[cfg(feature = "hydrate")]
        browser::install(*self);
    }

    /// Loads the new version, a moment from now (so a hang-up's close frame goes out first).
    pub fn reload(&self) {
        #[cfg(feature = "hydrate")]
        gloo_timers::callback::Timeout::new(300, || {
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        })
        .forget();
    }
}

impl Default for Pwa {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue};

    use super::Pwa;
    use crate::contours::env;

    fn installed() -> bool {
        let window = web_sys::window().expect("window");
        let standalone = window
            .match_media("(display-mode: standalone)")
            .ok()
            .flatten()
            .is_some_and(|m| m.matches());
        let ios_standalone = js_sys::Reflect::get(&window.navigator(), &"standalone".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        standalone || ios_standalone
    }

    fn is_ios() -> bool {
        let agent = web_sys::window()
            .and_then(|w| w.navigator().user_agent().ok())
            .unwrap_or_default();
        agent.contains("iPhone") || agent.contains("iPad")
    }

    pub fn start(pwa: Pwa) {
        let window = web_sys::window().expect("window");
        let navigator = window.navigator();
        if let Ok(container) = js_sys::Reflect::get(&navigator, &"serviceWorker".into())
            && !container.is_undefined()
        {
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"scope".into(), &"/".into());
            env::call_method(&container, "register", &["/sw.js".into(), options.into()]);
            let on_message = env::listen(container.unchecked_ref(), "message", move |event| {
                let data = js_sys::Reflect::get(&event, &"data".into()).unwrap_or(JsValue::NULL);
                let kind = js_sys::Reflect::get(&data, &"type".into())
                    .ok()
                    .and_then(|t| t.as_string());
                if kind.as_deref() == Some("homecall-updated") {
                    crate::logger::event("-", format_args!("a new version is active"));
                    pwa.update_ready.set(true);
                }
            });
            std::mem::forget(on_message);
            // A page that had a controller and gets another one runs an old version.
            let had_controller = js_sys::Reflect::get(&container, &"controller".into())
                .is_ok_and(|c| !c.is_null() && !c.is_undefined());
            if had_controller {
                let on_change =
                    env::listen(container.unchecked_ref(), "controllerchange", move |_| {
                        crate::logger::event("-", format_args!("a new service worker took over"));
                        pwa.update_ready.set(true);
                    });
                std::mem::forget(on_change);
            }
            env::call_method(&container, "startMessages", &[]);
        }
        if installed() {
            return;
        }
        pwa.show_ios_hint.set(is_ios());
        let on_prompt = env::listen(
            &window.clone().into(),
            "beforeinstallprompt",
            move |event| {
                event.prevent_default();
                pwa.prompt.set_value(Some(event.into()));
                pwa.can_install.set(true);
            },
        );
        std::mem::forget(on_prompt);
        let on_installed = env::listen(&window.into(), "appinstalled", move |_| {
            pwa.can_install.set(false);
            pwa.show_ios_hint.set(false);
        });
        std::mem::forget(on_installed);
    }

    pub fn install(pwa: Pwa) {
        if let Some(prompt) = pwa.prompt.get_value() {
            env::call_method(&prompt, "prompt", &[]);
            pwa.prompt.set_value(None);
            pwa.can_install.set(false);
        }
    }
}
