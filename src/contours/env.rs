//! Env: what the page learns from where it runs, and the browser glue. Owns reading the
//! page's address (`/` and its `?session=`), building the share link and the `/signal`
//! URL, making random ids, the tab's memory of its calls (`sessionStorage`, so a reload
//! resumes the same call), the page configuration, what `early.js` left (held taps, an
//! early socket), and the small browser calls the commands need (clipboard, share sheet,
//! picture-in-picture, playback, wake lock, event listeners). Must not hold call state or
//! speak the signal protocol: Core, the conductor and Net do that.

use serde::{Deserialize, Serialize};

use crate::protocol::SessionId;

/// The configuration the server hands the page at the start of each call
/// (`GET /api/config`): where to find STUN/TURN, with fresh TURN credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageConfig {
    pub ice_servers: Vec<IceServer>,
    /// Relay through TURN only (`iceTransportPolicy: "relay"`), for tests and strict networks.
    #[serde(default)]
    pub relay_only: bool,
    /// The TURN credentials expire: fetch a fresh configuration this many seconds after
    /// this one (asking again with the call's live signal socket as proof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_after_seconds: Option<u64>,
}

/// One `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What the page's URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// No `session` parameter: the home view.
    Home,
    /// A well-formed call link.
    Call(SessionId),
    /// A `session` parameter that is not a call link.
    Bad,
}

impl Link {
    /// Reads the `session` query parameter's value.
    pub fn from_query(session: Option<&str>) -> Link {
        match session {
            None => Link::Home,
            Some(value) => SessionId::parse(value).map_or(Link::Bad, Link::Call),
        }
    }
}

/// What a page's address shows: the one page of the app (`/`, whose `?session=` is read by
/// [`Link`]) or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Call(Link),
    NotFound,
}

impl Page {
    /// The page for a path and its query (without the `?`).
    pub fn from_address(path: &str, query: &str) -> Page {
        if path == "/" {
            Page::Call(Link::from_query(query_param(query, "session")))
        } else {
            Page::NotFound
        }
    }
}

/// The first value of `name` in a query string, as written (a call link's values are
/// never percent-encoded; one that is is not a call link).
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// The browser families whose steps to allow the camera differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserFamily {
    ChromeAndroid,
    /// Every iPhone browser is Safari underneath, with Safari's settings.
    SafariIos,
    Firefox,
    /// Desktop Chrome, Edge and the like (the default).
    Chrome,
}

impl BrowserFamily {
    /// The family of a `User-Agent` string.
    pub fn from_user_agent(agent: &str) -> BrowserFamily {
        let ios = ["iPhone", "iPad", "iPod"].iter().any(|d| agent.contains(d));
        if ios {
            BrowserFamily::SafariIos
        } else if agent.contains("Firefox/") {
            BrowserFamily::Firefox
        } else if agent.contains("Android") {
            BrowserFamily::ChromeAndroid
        } else {
            BrowserFamily::Chrome
        }
    }
}

/// A corner of the call's stage, where the self-view sits: its name (`data-corner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    TopRight,
    BottomRight,
    BottomLeft,
    TopLeft,
}

impl Corner {
    pub fn name(self) -> &'static str {
        match self {
            Corner::TopRight => "tr",
            Corner::BottomRight => "br",
            Corner::BottomLeft => "bl",
            Corner::TopLeft => "tl",
        }
    }

    pub fn from_name(name: &str) -> Corner {
        match name {
            "br" => Corner::BottomRight,
            "bl" => Corner::BottomLeft,
            "tl" => Corner::TopLeft,
            _ => Corner::TopRight,
        }
    }

    /// The next corner clockwise (a tap on the self-view).
    pub fn next(self) -> Corner {
        match self {
            Corner::TopRight => Corner::BottomRight,
            Corner::BottomRight => Corner::BottomLeft,
            Corner::BottomLeft => Corner::TopLeft,
            Corner::TopLeft => Corner::TopRight,
        }
    }

    /// The corner nearest to a point, given as its offset from the stage's centre.
    pub fn nearest(dx: f64, dy: f64) -> Corner {
        match (dx >= 0.0, dy >= 0.0) {
            (true, false) => Corner::TopRight,
            (true, true) => Corner::BottomRight,
            (false, true) => Corner::BottomLeft,
            (false, false) => Corner::TopLeft,
        }
    }
}

/// What this tab remembers of one call, so a reload rejoins it with the same ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub host: bool,
    pub peer: String,
    pub started: bool,
}

impl Remembered {
    pub fn role(&self) -> crate::contours::core::Role {
        use crate::contours::core::Role;
        if self.host { Role::Host } else { Role::Guest }
    }

    /// As stored: `{"host":true,"peer":"…","started":false}`. Written and read by hand
    /// (a peer id is letters and digits only): serde's code for this one small record
    /// would add half a kilobyte to the wasm (brotli).
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"host":{},"peer":"{}","started":{}}}"#,
            self.host, self.peer, self.started
        )
    }

    /// What [`Remembered::to_json`] wrote; `None` for anything else.
    pub fn from_json(text: &str) -> Option<Remembered> {
        let flag = |name: &str| {
            if text.contains(&format!(r#""{name}":true"#)) {
                Some(true)
            } else if text.contains(&format!(r#""{name}":false"#)) {
                Some(false)
            } else {
                None
            }
        };
        let (_, rest) = text.split_once(r#""peer":""#)?;
        let (peer, _) = rest.split_once('"')?;
        let plain = !peer.is_empty() && peer.bytes().all(|b| b.is_ascii_alphanumeric());
        Some(Remembered {
            host: flag("host")?,
            peer: plain.then(|| peer.to_owned())?,
            started: flag("started")?,
        })
    }
}

/// The link the host shares: `<origin>/?session=<uuid>`.
pub fn share_link(origin: &str, session: &SessionId) -> String {
    format!("{origin}/?session={session}")
}

/// The `/signal` URL for a page served from `origin` (`http(s)://host[:port]`).
pub fn signal_url(origin: &str, session: &SessionId, peer: &str) -> String {
    let socket_origin = if let Some(rest) = origin.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = origin.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        origin.to_owned()
    };
    format!("{socket_origin}/signal?session={session}&peer={peer}")
}

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;
    use std::rc::Rc;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    use super::PageConfig;
    use crate::protocol::{PeerId, SessionId};

    /// Fetches the page configuration for a call. The call's ids prove that this page holds
    /// a live signal socket (open it first), which TURN credentials need; if the server
    /// refuses them, the configuration without TURN; the default (no STUN/TURN, direct
    /// connections only) when the server cannot be asked.
    pub async fn fetch_page_config(session: &SessionId, peer: &str) -> PageConfig {
        let with_proof = format!("/api/config?session={session}&peer={peer}");
        if let Some(config) = fetch_config_from(&with_proof).await {
            return config;
        }
        fetch_config_from("/api/config").await.unwrap_or_default()
    }

    async fn fetch_config_from(url: &str) -> Option<PageConfig> {
        let response = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(url))
            .await
            .ok()?
            .dyn_into::<web_sys::Response>()
            .ok()?;
        if !response.ok() {
            return None;
        }
        let text = wasm_bindgen_futures::JsFuture::from(response.text().ok()?)
            .await
            .ok()?
            .as_string()?;
        serde_json::from_str(&text).ok()
    }

    /// Calls `target.method(...args)` if the browser has that method; returns its result.
    pub fn call_method(
        target: &wasm_bindgen::JsValue,
        method: &str,
        args: &[wasm_bindgen::JsValue],
    ) -> Option<wasm_bindgen::JsValue> {
        let function = js_sys::Reflect::get(target, &method.into())
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()?;
        let args: js_sys::Array = args.iter().collect();
        function.apply(target, &args).ok()
    }

    /// Whether `target.name` exists (feature detection).
    pub fn has(target: &wasm_bindgen::JsValue, name: &str) -> bool {
        js_sys::Reflect::has(target, &name.into()).unwrap_or(false)
    }

    /// Whether this browser offers a share sheet and picture-in-picture.
    pub fn can_share() -> bool {
        has(&window().navigator(), "share")
    }

    pub fn can_picture_in_picture() -> bool {
        window().document().is_some_and(|d| {
            js_sys::Reflect::get(&d, &"pictureInPictureEnabled".into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        })
    }

    /// Asks for a screen wake lock (`navigator.wakeLock.request("screen")`).
    pub async fn request_wake_lock() -> Option<wasm_bindgen::JsValue> {
        let wake_lock = js_sys::Reflect::get(&window().navigator(), &"wakeLock".into()).ok()?;
        if wake_lock.is_undefined() {
            return None;
        }
        let promise = call_method(&wake_lock, "request", &["screen".into()])?;
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise))
            .await
            .ok()
    }

    pub fn release_wake_lock(sentinel: &wasm_bindgen::JsValue) {
        call_method(sentinel, "release", &[]);
    }

    /// The page's path and query (without the `?`).
    pub fn page_address() -> (String, String) {
        let location = window().location();
        let path = location.pathname().unwrap_or_default();
        let search = location.search().unwrap_or_default();
        (path, search.trim_start_matches('?').to_owned())
    }

    /// The page's language, as the server set it on `<html lang>`.
    pub fn page_lang() -> Option<String> {
        window()
            .document()?
            .document_element()?
            .get_attribute("lang")
    }

    /// An event listener that is removed when dropped.
    pub struct Listener {
        target: web_sys::EventTarget,
        event: &'static str,
        callback: Closure<dyn FnMut(web_sys::Event)>,
    }

    impl Drop for Listener {
        fn drop(&mut self) {
            let _ = self.target.remove_event_listener_with_callback(
                self.event,
                self.callback.as_ref().unchecked_ref(),
            );
        }
    }

    /// Calls `f` on every `event` at `target` until the returned listener is dropped.
    pub fn listen(
        target: &web_sys::EventTarget,
        event: &'static str,
        f: impl FnMut(web_sys::Event) + 'static,
    ) -> Listener {
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        let _ = target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref());
        Listener {
            target: target.clone(),
            event,
            callback,
        }
    }

    /// A new `tag` element of `class`, not yet in the page.
    pub fn element(tag: &str, class: &str) -> Option<web_sys::Element> {
        let element = window().document()?.create_element(tag).ok()?;
        element.set_class_name(class);
        Some(element)
    }

    /// A new `tag` element of `class` saying `words`, not yet in the page.
    pub fn text_element(tag: &str, class: &str, words: &str) -> Option<web_sys::Element> {
        let element = element(tag, class)?;
        element.set_text_content(Some(words));
        Some(element)
    }

    /// Whether a sheet (the chat, verification, the devices) is open.
    pub fn sheet_open(panel: Option<web_sys::HtmlElement>) -> bool {
        panel.is_some_and(|panel| !panel.hidden())
    }

    /// A `<progress>` from 0 to 100, at 0, named `label`.
    pub fn progress_bar(class: &str, label: &str) -> Option<web_sys::Element> {
        let bar = element("progress", class)?;
        let _ = bar.set_attribute("max", "100");
        let _ = bar.set_attribute("value", "0");
        let _ = bar.set_attribute("aria-label", label);
        Some(bar)
    }

    /// Shows `percent` on a bar made by [`progress_bar`].
    pub fn set_progress(bar: &web_sys::Element, percent: u32) {
        let _ = bar.set_attribute("value", &percent.to_string());
    }

    /// The head of a sheet (the chat, verification, the devices): its `hint` and a «×» named
    /// `close_label`, which the caller listens to.
    pub fn sheet_head(
        hint: &str,
        close_label: &str,
    ) -> Option<(web_sys::Element, web_sys::Element)> {
        let head = element("div", "sheet-head")?;
        let text = text_element("p", "hint", hint)?;
        let close = text_element("button", "close", "×")?;
        let _ = close.set_attribute("aria-label", close_label);
        head.append_with_node_2(&text, &close).ok()?;
        Some((head, close))
    }

    /// Shows or hides a sheet, and says which on the control that opens it.
    pub fn show_sheet(
        panel: &web_sys::HtmlElement,
        control: Option<web_sys::HtmlButtonElement>,
        open: bool,
    ) {
        panel.set_hidden(!open);
        if let Some(control) = control {
            let _ = control.set_attribute("aria-expanded", if open { "true" } else { "false" });
        }
    }

    /// The window, as an event target (for `online`).
    pub fn window_target() -> web_sys::EventTarget {
        window().into()
    }

    /// The document, as an event target (for `visibilitychange`).
    pub fn document_target() -> Option<web_sys::EventTarget> {
        window().document().map(Into::into)
    }

    /// Whether the page is visible.
    pub fn page_visible() -> bool {
        window()
            .document()
            .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
    }

    /// A signal socket opened before the client ran (see [`take_early_socket`]).
    pub struct EarlySocket {
        pub socket: web_sys::WebSocket,
        pub open: bool,
        pub messages: Vec<String>,
        pub closed: Option<u16>,
    }

    pub use super::Remembered;

    fn window() -> web_sys::Window {
        web_sys::window().expect("the page has a window")
    }

    /// Marks the page as taken over by the client (`<html data-hydrated>`), for tests.
    pub fn mark_hydrated() {
        if let Some(root) = window().document().and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-hydrated", "");
        }
    }

    /// Clicks, once and in order, each button tapped before the client took over the page:
    /// `early.js` held those taps back (the server-rendered button had no behaviour yet).
    pub fn replay_early_taps() {
        let Ok(taps) = js_sys::Reflect::get(&window(), &"__homecallTaps".into()) else {
            return;
        };
        if !js_sys::Array::is_array(&taps) {
            return;
        }
        let taps = js_sys::Array::from(&taps);
        let held: Vec<_> = taps.iter().collect();
        taps.set_length(0);
        for button in held.iter().filter_map(|b| b.dyn_ref::<web_sys::Element>()) {
            let _ = button.class_list().remove_1("pending");
            let _ = button.remove_attribute("aria-busy");
            if button.is_connected() {
                call_method(button, "click", &[]);
            }
        }
    }

    /// The signal socket `early.js` opened while the wasm loaded, if it is for `url`:
    /// the socket, whether it has opened, the frames it received meanwhile (in order) and
    /// its close code if it has closed. Taken once: a reconnect opens its own.
    pub fn take_early_socket(url: &str) -> Option<EarlySocket> {
        let early = early_start()?;
        let get = |name: &str| js_sys::Reflect::get(&early, &name.into()).ok();
        if get("url")?.as_string().as_deref() != Some(url) {
            return None;
        }
        let socket = get("socket")?.dyn_into::<web_sys::WebSocket>().ok()?;
        let _ = js_sys::Reflect::delete_property(&early, &"socket".into());
        let messages = get("messages")
            .map(|list| js_sys::Array::from(&list))
            .map(|list| list.iter().filter_map(|m| m.as_string()).collect())
            .unwrap_or_default();
        let closed = get("closed")
            .and_then(|code| code.as_f64())
            .map(|code| code as u16);
        Some(EarlySocket {
            socket,
            open: get("open").and_then(|o| o.as_bool()).unwrap_or(false),
            messages,
            closed,
        })
    }

    fn early_start() -> Option<js_sys::Object> {
        js_sys::Reflect::get(&window(), &"__homecallEarly".into())
            .ok()?
            .dyn_into::<js_sys::Object>()
            .ok()
    }

    /// `http(s)://host[:port]` of this page.
    pub fn origin() -> String {
        window().location().origin().unwrap_or_default()
    }

    /// `N` random bytes from the browser's cryptographic generator.
    pub fn random_bytes<const N: usize>() -> [u8; N] {
        let mut bytes = [0u8; N];
        window()
            .crypto()
            .and_then(|crypto| crypto.get_random_values_with_u8_array(&mut bytes))
            .expect("the browser has crypto.getRandomValues");
        bytes
    }

    pub fn new_session_id() -> SessionId {
        SessionId::from_random_bytes(random_bytes())
    }

    pub fn new_peer_id() -> PeerId {
        PeerId::from_random_bytes(random_bytes())
    }

    /// Puts the call's link in the address bar without reloading, so a reload rejoins it.
    pub fn show_in_address_bar(session: Option<&SessionId>) {
        let url = session.map_or_else(|| "/".to_owned(), |s| format!("/?session={s}"));
        if let Ok(history) = window().history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    }

    fn storage() -> Option<web_sys::Storage> {
        window().session_storage().ok().flatten()
    }

    fn key(session: &SessionId) -> String {
        format!("homecall:{session}")
    }

    /// What this tab remembers of `session`, if anything.
    pub fn recall(session: &SessionId) -> Option<Remembered> {
        let text = storage()?.get_item(&key(session)).ok()??;
        Remembered::from_json(&text)
    }

    /// Remembers `session` for reloads of this tab.
    pub fn remember(session: &SessionId, memory: &Remembered) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(&key(session), &memory.to_json());
        }
    }

    /// Forgets an ended call, so its link can never reopen it from this tab.
    pub fn forget(session: &SessionId) {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(&key(session));
        }
        if let Some(shared) = shared_storage() {
            let _ = shared.remove_item(&hosting_key(session));
        }
    }

    /// How long this browser's other tabs know a link as its own: a session's longest life.
    const HOSTING_FOR_MS: u64 = 12 * 3600 * 1000;

    /// Milliseconds since the epoch, whole (stored as an integer: parsing a float would
    /// weigh on the wasm).
    fn now_ms() -> u64 {
        js_sys::Date::now() as u64
    }

    /// Storage every tab of this browser shares (`localStorage`).
    fn shared_storage() -> Option<web_sys::Storage> {
        window().local_storage().ok().flatten()
    }

    fn hosting_key(session: &SessionId) -> String {
        format!("homecall-host:{session}")
    }

    /// Marks `session` as hosted by this browser, so its link opened in another tab says
    /// so instead of joining as the guest; marks older than a session's life go.
    pub fn mark_hosting(session: &SessionId) {
        let Some(shared) = shared_storage() else {
            return;
        };
        remove_keys(&shared, |k| {
            k.starts_with("homecall-host:") && !fresh_mark(shared.get_item(k).ok().flatten())
        });
        let _ = shared.set_item(&hosting_key(session), &now_ms().to_string());
    }

    /// Whether a tab of this browser hosts `session` (pressed «Позвонить» for it).
    pub fn hosted_here(session: &SessionId) -> bool {
        fresh_mark(shared_storage().and_then(|shared| shared.get_item(&hosting_key(session)).ok()?))
    }

    /// Whether a hosting mark (its time) is younger than a session's life.
    fn fresh_mark(at: Option<String>) -> bool {
        at.and_then(|at| at.parse::<u64>().ok())
            .is_some_and(|at| now_ms().saturating_sub(at) <= HOSTING_FOR_MS)
    }

    /// Removes every key of `storage` that `stale` picks (all are read first: removing
    /// one shifts the others' indices).
    fn remove_keys(storage: &web_sys::Storage, stale: impl Fn(&str) -> bool) {
        let count = storage.length().unwrap_or(0);
        let picked: Vec<String> = (0..count)
            .filter_map(|i| storage.key(i).ok().flatten())
            .filter(|k| stale(k))
            .collect();
        for k in picked {
            let _ = storage.remove_item(&k);
        }
    }

    /// Forgets every call this tab remembers but `keep`: ended sessions leave no ids behind.
    pub fn forget_other_calls(keep: Option<&SessionId>) {
        let Some(storage) = storage() else { return };
        let keep = keep.map(key);
        remove_keys(&storage, |k| {
            k.starts_with("homecall:") && Some(k) != keep.as_deref()
        });
    }

    /// Copies `text` to the clipboard; false where the browser refuses.
    pub async fn copy_to_clipboard(text: &str) -> bool {
        let Ok(clipboard) = js_sys::Reflect::get(&window().navigator(), &"clipboard".into()) else {
            return false;
        };
        match call_method(&clipboard, "writeText", &[text.into()]) {
            Some(promise) => wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise))
                .await
                .is_ok(),
            None => false,
        }
    }

    /// Opens the system's share sheet with `text` and `url`, where the browser has one;
    /// whether it was shared (not cancelled).
    pub async fn share(title: &str, text: &str, url: &str) -> bool {
        let data = js_sys::Object::new();
        for (key, value) in [("title", title), ("text", text), ("url", url)] {
            let _ = js_sys::Reflect::set(&data, &key.into(), &value.into());
        }
        let Some(promise) = call_method(&window().navigator(), "share", &[data.into()]) else {
            return false;
        };
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise))
            .await
            .is_ok()
    }

    /// Whether the main pointer is a finger (a phone or tablet), not a mouse.
    pub fn touch_first() -> bool {
        window()
            .match_media("(pointer: coarse)")
            .ok()
            .flatten()
            .is_some_and(|query| query.matches())
    }

    /// Draws `video`'s current frame into all of `canvas` (a tiny copy, for a backdrop).
    pub fn draw_small_copy(canvas: &web_sys::HtmlCanvasElement, video: &web_sys::HtmlVideoElement) {
        if video.video_width() == 0 {
            return;
        }
        let Some(context) = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
        else {
            return;
        };
        let (w, h) = (f64::from(canvas.width()), f64::from(canvas.height()));
        let _ = context.draw_image_with_html_video_element_and_dw_and_dh(video, 0.0, 0.0, w, h);
    }

    /// How far a pointer must move for a drag rather than a tap, in CSS pixels.
    const DRAG_FROM_PX: f64 = 8.0;

    /// Makes `wrapper` (the self-view's box, around `video`) take the camera's shape, follow
    /// a dragging finger and land in the nearest corner of its stage, or move to the next
    /// corner when tapped. Works until the listeners are dropped.
    pub fn self_view(
        wrapper: &web_sys::HtmlElement,
        video: &web_sys::HtmlVideoElement,
    ) -> Vec<Listener> {
        // Where the pointer went down, while a drag runs.
        let start = Rc::new(Cell::new(None::<(f64, f64)>));
        let on_pointer = {
            let wrapper = wrapper.clone();
            move |event: web_sys::Event| {
                let Some(pointer) = event.dyn_ref::<web_sys::PointerEvent>() else {
                    return;
                };
                let at = (f64::from(pointer.client_x()), f64::from(pointer.client_y()));
                let moved = start.get().map(|(x, y)| (at.0 - x, at.1 - y));
                let style = wrapper.style();
                match (event.type_().as_str(), moved) {
                    ("pointerdown", _) => {
                        let _ = wrapper.set_pointer_capture(pointer.pointer_id());
                        start.set(Some(at));
                        let _ = wrapper.class_list().add_1("dragging");
                    }
                    ("pointermove", Some((dx, dy))) => {
                        // Whole pixels: formatting a float would add its code to the wasm.
                        let to = format!("{}px {}px", dx as i32, dy as i32);
                        let _ = style.set_property("translate", &to);
                    }
                    (kind, Some((dx, dy))) => {
                        start.set(None);
                        // Where it was dropped decides the corner: measured before it
                        // lets go of the finger's offset.
                        if kind == "pointerup" {
                            let corner = corner_after(&wrapper, dx, dy);
                            let _ = wrapper.set_attribute("data-corner", corner.name());
                        }
                        let _ = style.remove_property("translate");
                        let _ = wrapper.class_list().remove_1("dragging");
                    }
                    _ => {}
                }
            }
        };
        let target: &web_sys::EventTarget = wrapper.as_ref();
        let mut listeners: Vec<Listener> =
            ["pointerdown", "pointermove", "pointerup", "pointercancel"]
                .into_iter()
                .map(|event| listen(target, event, on_pointer.clone()))
                .collect();
        let on_shape = {
            let (wrapper, video) = (wrapper.clone(), video.clone());
            move |_| {
                let (w, h) = (video.video_width(), video.video_height());
                if w > 0 && h > 0 {
                    let _ = wrapper
                        .style()
                        .set_property("aspect-ratio", &format!("{w} / {h}"));
                    let _ = wrapper.class_list().toggle_with_force("wide", w > h);
                }
            }
        };
        for event in ["resize", "loadedmetadata"] {
            listeners.push(listen(video.as_ref(), event, on_shape.clone()));
        }
        listeners
    }

    /// Where the self-view lands after a pointer went up having moved by `(dx, dy)`: the
    /// next corner after a tap, else the corner of the stage nearest to its centre.
    fn corner_after(wrapper: &web_sys::HtmlElement, dx: f64, dy: f64) -> super::Corner {
        let now =
            super::Corner::from_name(&wrapper.get_attribute("data-corner").unwrap_or_default());
        if dx.hypot(dy) < DRAG_FROM_PX {
            return now.next();
        }
        let Some(stage) = wrapper.parent_element() else {
            return now;
        };
        let centre = |r: web_sys::DomRect| (r.x() + r.width() / 2.0, r.y() + r.height() / 2.0);
        let ((x, y), (cx, cy)) = (
            centre(wrapper.get_bounding_client_rect()),
            centre(stage.get_bounding_client_rect()),
        );
        super::Corner::nearest(x - cx, y - cy)
    }

    /// Which browser this is, for the steps to allow the camera.
    pub fn browser_family() -> super::BrowserFamily {
        let agent = window().navigator().user_agent().unwrap_or_default();
        super::BrowserFamily::from_user_agent(&agent)
    }

    /// Closes the page where a script may (a window a script opened, some installed apps);
    /// a tab the person opened stays open, so after a moment it goes to the home page.
    pub fn close_or_go_home() {
        let _ = window().close();
        gloo_timers::callback::Timeout::new(200, || {
            let window = window();
            if !window.closed().unwrap_or(true) {
                let _ = window.location().set_href("/");
            }
        })
        .forget();
    }

    /// Moves the keyboard focus to the first element that matches `selector`, if any.
    pub fn focus_first(selector: &str) {
        let found = window()
            .document()
            .and_then(|document| document.query_selector(selector).ok().flatten());
        if let Some(element) = found {
            call_method(&element, "focus", &[]);
        }
    }

    /// Shows `video` in picture-in-picture, where the browser can.
    pub fn request_picture_in_picture(video: &web_sys::HtmlVideoElement) {
        call_method(video, "requestPictureInPicture", &[]);
    }

    /// Starts playing `video`. Where autoplay with sound is refused, plays it muted and
    /// returns false: the page must ask for a tap to turn the sound on.
    pub async fn play_or_play_muted(video: &web_sys::HtmlMediaElement) -> bool {
        use wasm_bindgen_futures::JsFuture;
        let Ok(promise) = video.play() else {
            return true;
        };
        if JsFuture::from(promise).await.is_ok() || video.muted() {
            return true;
        }
        video.set_muted(true);
        if let Ok(promise) = video.play() {
            let _ = JsFuture::from(promise).await;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "123e4567-e89b-42d3-a456-426614174000";

    #[test]
    fn a_remembered_call_reads_back_as_written_and_as_the_last_version_wrote_it() {
        let memory = Remembered {
            host: true,
            peer: "3f2a9c".into(),
            started: false,
        };
        assert_eq!(
            memory.to_json(),
            r#"{"host":true,"peer":"3f2a9c","started":false}"#
        );
        assert_eq!(Remembered::from_json(&memory.to_json()), Some(memory));
        // serde_json's form, as the version before wrote it, with its keys in any order.
        assert_eq!(
            Remembered::from_json(r#"{"started":true,"peer":"ab12","host":false}"#),
            Some(Remembered {
                host: false,
                peer: "ab12".into(),
                started: true
            })
        );
        for bad in [
            "",
            "{}",
            r#"{"host":true,"peer":"a\"b","started":true}"#,
            r#"{"host":1,"peer":"ab","started":true}"#,
        ] {
            assert_eq!(Remembered::from_json(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_self_view_lands_in_the_nearest_corner_and_a_tap_moves_it_on() {
        assert_eq!(Corner::nearest(40.0, -10.0), Corner::TopRight);
        assert_eq!(Corner::nearest(40.0, 10.0), Corner::BottomRight);
        assert_eq!(Corner::nearest(-40.0, 10.0), Corner::BottomLeft);
        assert_eq!(Corner::nearest(-40.0, -10.0), Corner::TopLeft);
        let mut corner = Corner::TopRight;
        for _ in 0..4 {
            assert_eq!(Corner::from_name(corner.name()), corner);
            corner = corner.next();
        }
        assert_eq!(corner, Corner::TopRight);
        assert_eq!(Corner::from_name("nonsense"), Corner::TopRight);
    }

    #[test]
    fn each_browser_gets_its_own_steps_to_allow_the_camera() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
                BrowserFamily::ChromeAndroid,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                BrowserFamily::SafariIos,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1",
                BrowserFamily::SafariIos,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                BrowserFamily::Firefox,
            ),
            (
                "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0",
                BrowserFamily::Firefox,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
                BrowserFamily::Chrome,
            ),
        ];
        for (agent, family) in cases {
            assert_eq!(BrowserFamily::from_user_agent(agent), family, "{agent}");
        }
    }

    #[test]
    fn the_query_decides_the_view() {
        assert_eq!(Link::from_query(None), Link::Home);
        assert_eq!(
            Link::from_query(Some(S)),
            Link::Call(SessionId::parse(S).unwrap())
        );
        assert_eq!(Link::from_query(Some("nonsense")), Link::Bad);
        assert_eq!(Link::from_query(Some("")), Link::Bad);
    }

    #[test]
    fn only_the_root_is_a_page_and_its_session_parameter_is_the_link() {
        let call = Link::Call(SessionId::parse(S).unwrap());
        assert_eq!(Page::from_address("/", ""), Page::Call(Link::Home));
        assert_eq!(
            Page::from_address("/", &format!("session={S}")),
            Page::Call(call.clone())
        );
        assert_eq!(
            Page::from_address("/", &format!("utm=x&session={S}&session=other")),
            Page::Call(call)
        );
        assert_eq!(Page::from_address("/", "session="), Page::Call(Link::Bad));
        assert_eq!(Page::from_address("/", "session"), Page::Call(Link::Bad));
        assert_eq!(
            Page::from_address("/", "sessions=1"),
            Page::Call(Link::Home)
        );
        assert_eq!(Page::from_address("/nope", ""), Page::NotFound);
        assert_eq!(
            Page::from_address("/index.html", "session=x"),
            Page::NotFound
        );
    }

    #[test]
    fn links_and_socket_urls_follow_the_page_origin() {
        let s = SessionId::parse(S).unwrap();
        assert_eq!(
            share_link("https://call.example", &s),
            format!("https://call.example/?session={S}")
        );
        assert_eq!(
            signal_url("https://call.example", &s, "abcdefgh"),
            format!("wss://call.example/signal?session={S}&peer=abcdefgh")
        );
        assert_eq!(
            signal_url("http://127.0.0.1:3000", &s, "abcdefgh"),
            format!("ws://127.0.0.1:3000/signal?session={S}&peer=abcdefgh")
        );
    }
}
