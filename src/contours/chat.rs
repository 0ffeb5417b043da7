//! Chat: text lines and photos sent straight to the other side over a data channel of
//! the call's peer connection, never through the server, and shown while the call's view
//! lasts. Owns the chat channel's wire format ([`Wire`]: a text line; a photo's header,
//! then its bytes in binary chunks), counting a photo's bytes ([`Progress`]), sending with
//! progress, receiving, and the list of this call's messages in the page. Must not touch
//! the signal socket or the call's phase: Rtc makes the channel and the conductor hands it
//! here ([`attach`]).

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
pub use imp::{attach, take_shared_photo};
pub use imp::{forget, is_open, send_line, send_picked_photo, toggle};

/// The longest text line, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// The largest photo, in bytes: a phone camera's full-size picture fits.
pub const MAX_PHOTO_BYTES: u32 = 25 * 1024 * 1024;
/// A photo travels in chunks of this many bytes (16 KiB: every browser's data channel
/// takes a message this big).
pub const CHUNK_BYTES: u32 = 16 * 1024;

/// A text message of the chat channel (its binary messages are a photo's bytes).
#[derive(Debug, PartialEq, Eq)]
pub enum Wire<'a> {
    /// This side's channel is open: `h`, which the other side answers once with `H`
    /// (`back`). A negotiated channel may open on one side before the other has made
    /// its own, and what it sends then is lost; so a photo that goes by itself (one
    /// shared to the app) waits for either word from the other side.
    Hello { back: bool },
    /// A line of text: `t<text>`.
    Text(&'a str),
    /// A photo of `size` bytes of type `mime` (an image) follows: `p<size> <mime>`.
    Photo { size: u32, mime: &'a str },
}

impl<'a> Wire<'a> {
    pub fn to_wire(&self) -> String {
        match self {
            Wire::Hello { back: false } => "h".to_owned(),
            Wire::Hello { back: true } => "H".to_owned(),
            Wire::Text(text) => format!("t{text}"),
            Wire::Photo { size, mime } => format!("p{size} {mime}"),
        }
    }

    /// The message `text` is, if it is a well-formed one within the limits (anything
    /// else is ignored: a bad message never ends a call).
    pub fn from_wire(text: &'a str) -> Option<Wire<'a>> {
        match text {
            "h" => return Some(Wire::Hello { back: false }),
            "H" => return Some(Wire::Hello { back: true }),
            _ => {}
        }
        if let Some(line) = text.strip_prefix('t') {
            let fits = !line.trim().is_empty() && line.chars().count() <= MAX_TEXT_CHARS;
            return fits.then_some(Wire::Text(line));
        }
        let (size, mime) = text.strip_prefix('p')?.split_once(' ')?;
        let size: u32 = size.parse().ok()?;
        (is_image_type(mime) && (1..=MAX_PHOTO_BYTES).contains(&size))
            .then_some(Wire::Photo { size, mime })
    }
}

/// `image/<subtype>`, the subtype plain (letters, digits, `+ - .`).
pub fn is_image_type(mime: &str) -> bool {
    mime.strip_prefix("image/").is_some_and(|subtype| {
        (1..=64).contains(&subtype.len())
            && subtype
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    })
}

/// What the address says about a photo shared to the installed app (the service worker
/// answers the share and opens `/?shared=photo`, or `/?shared=lost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// The photo waits on the device to go once a call connects.
    Photo,
    /// The share did not reach the service worker (or carried no photo).
    Lost,
}

impl Shared {
    /// Reads `shared=` from a query string (with or without its `?`).
    pub fn from_query(query: &str) -> Option<Shared> {
        query
            .trim_start_matches('?')
            .split('&')
            .find_map(|pair| match pair {
                "shared=photo" => Some(Shared::Photo),
                "shared=lost" => Some(Shared::Lost),
                _ => None,
            })
    }
}

/// How much of a photo of `size` bytes has gone or come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u32,
    pub size: u32,
}

impl Progress {
    pub fn new(size: u32) -> Progress {
        Progress { done: 0, size }
    }

    /// Counts `len` more bytes; false, counting nothing, if the photo would grow past
    /// its size.
    pub fn add(&mut self, len: u32) -> bool {
        match self.done.checked_add(len) {
            Some(done) if done <= self.size => {
                self.done = done;
                true
            }
            _ => false,
        }
    }

    pub fn complete(&self) -> bool {
        self.done == self.size
    }

    /// The next chunk to send: its start and end.
    pub fn next_chunk(&self) -> (u32, u32) {
        (self.done, self.size.min(self.done + CHUNK_BYTES))
    }

    /// Whole percent done.
    pub fn percent(&self) -> u32 {
        (u64::from(self.done) * 100 / u64::from(self.size.max(1))) as u32
    }
}

/// The chat of the page's call: its panel, and its control with the count of what came
/// while the panel was closed. The views render these once, empty and with no reactive
/// part (each costs the wasm); the browser's half builds the panel's insides when it
/// first opens, and opens, counts and fills it directly.
#[derive(Clone, Copy)]
pub struct Chat {
    pub panel: NodeRef<leptos::html::Aside>,
    pub control: NodeRef<leptos::html::Button>,
    pub unread: NodeRef<leptos::html::Span>,
    #[cfg_attr(not(feature = "hydrate"), expect(dead_code))]
    browser: imp::Browser,
}

impl Chat {
    pub fn new() -> Chat {
        Chat {
            panel: NodeRef::new(),
            control: NodeRef::new(),
            unread: NodeRef::new(),
            browser: imp::Browser::new(),
        }
    }
}

impl Default for Chat {
    fn default() -> Self {
        Chat::new()
    }
}

/// The server's half: a page rendered on the server sends nothing.
#[cfg(not(feature = "hydrate"))]
mod imp {
    use crate::contours::call::Call;

    pub use crate::contours::ServerHalf as Browser;

    pub fn send_line(_: Call) {}
    pub fn send_picked_photo(_: Call) {}
    pub fn forget(_: Call) {}
    pub fn toggle(_: Call) {}
    pub fn is_open(_: Call) -> bool {
        false
    }
}

/// The browser's half: the channel, and the messages as elements of the list.
#[cfg(feature = "hydrate")]
mod imp {
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Element, MessageEvent, RtcDataChannel, RtcDataChannelState};

    use super::{MAX_PHOTO_BYTES, Progress, Wire, is_image_type};
    use crate::contours::call::Call;
    use crate::contours::env;

    /// A sender waits while more than this is queued in the channel.
    const HIGH_WATER_BYTES: u32 = 1024 * 1024;

    /// The browser-only parts of the chat.
    #[derive(Clone, Copy)]
    pub struct Browser {
        link: StoredValue<Option<Link>, LocalStorage>,
        /// The object URLs of the photos shown, revoked when the call's view goes.
        urls: StoredValue<Vec<String>, LocalStorage>,
        /// Messages that came while the panel was closed.
        unread: StoredValue<u32, LocalStorage>,
        /// The panel's insides, once built.
        parts: StoredValue<Option<Parts>, LocalStorage>,
        /// A photo shared to the app, to send once the channel opens.
        shared: StoredValue<Option<web_sys::Blob>, LocalStorage>,
    }

    impl Browser {
        pub fn new() -> Browser {
            Browser {
                link: StoredValue::new_local(None),
                urls: StoredValue::new_local(Vec::new()),
                unread: StoredValue::new_local(0),
                parts: StoredValue::new_local(None),
                shared: StoredValue::new_local(None),
            }
        }
    }

    /// The panel's insides: the list, the line, the photo picker, and their listeners.
    struct Parts {
        list: Element,
        line: web_sys::HtmlInputElement,
        photo: web_sys::HtmlInputElement,
        _listeners: [env::Listener; 3],
    }

    /// The chat channel of the current peer connection, and the photo coming on it.
    struct Link {
        channel: RtcDataChannel,
        incoming: Option<Incoming>,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_open: Closure<dyn FnMut(MessageEvent)>,
    }

    /// A photo being received: its type, its chunks so far, and its entry's progress bar.
    struct Incoming {
        progress: Progress,
        mime: String,
        parts: js_sys::Array,
        item: Element,
        bar: Element,
    }

    /// Takes the chat channel of a new peer connection; a photo that was coming on the
    /// previous one is marked as lost.
    pub fn attach(call: Call, channel: RtcDataChannel) {
        channel.set_binary_type(web_sys::RtcDataChannelType::Arraybuffer);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            on_message(call, event.data())
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_open = Closure::<dyn FnMut(MessageEvent)>::new(move |_| {
            say(call, Wire::Hello { back: false })
        });
        channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        let link = Link {
            channel,
            incoming: None,
            _on_message: on_message,
            _on_open: on_open,
        };
        if let Some(Some(old)) = call.chat.browser.link.try_update_value(|l| l.replace(link)) {
            old.channel.set_onmessage(None);
            old.channel.set_onopen(None);
            if let Some(lost) = old.incoming {
                mark_failed(&lost.item, &lost.bar, call.texts().chat_not_received);
            }
        }
    }

    /// The call's view goes: its photos' URLs are revoked, the channel let go, and
    /// nothing counts as unread for the next call.
    pub fn forget(call: Call) {
        call.chat.browser.parts.try_set_value(None);
        call.chat.browser.unread.try_set_value(0);
        if let Some(Some(link)) = call.chat.browser.link.try_update_value(Option::take) {
            link.channel.set_onmessage(None);
            link.channel.set_onopen(None);
        }
        if let Some(urls) = call.chat.browser.urls.try_update_value(std::mem::take) {
            for url in urls {
                let _ = web_sys::Url::revoke_object_url(&url);
            }
        }
    }

    /// The chat channel, if it is open.
    fn open_channel(call: Call) -> Option<RtcDataChannel> {
        call.chat
            .browser
            .link
            .with_value(|link| link.as_ref().map(|l| l.channel.clone()))
            .filter(|channel| channel.ready_state() == RtcDataChannelState::Open)
    }

    /// «Отправить»: the line typed goes to the other side and into the list.
    pub fn send_line(call: Call) {
        let Some(input) = part(call, |p| p.line.clone()) else {
            return;
        };
        let line = input.value();
        if line.trim().is_empty() {
            return;
        }
        let sent = open_channel(call)
            .is_some_and(|channel| channel.send_with_str(&Wire::Text(&line).to_wire()).is_ok());
        if !sent {
            note(call, call.texts().chat_not_sent);
            return;
        }
        input.set_value("");
        if let Some(item) = entry(call, "mine") {
            item.set_text_content(Some(&line));
        }
    }

    /// A photo was picked: it goes to the other side, with its progress in the list.
    pub fn send_picked_photo(call: Call) {
        let Some(input) = part(call, |p| p.photo.clone()) else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        // The same photo may be picked again.
        input.set_value("");
        send_blob(call, file.into());
    }

    /// Sends `photo` (checked: an image, within the size), with its entry in the list.
    fn send_blob(call: Call, photo: web_sys::Blob) {
        let t = call.texts();
        let mime = photo.type_();
        if !is_image_type(&mime) {
            note(call, t.chat_photo_only);
            return;
        }
        if photo.size() > f64::from(MAX_PHOTO_BYTES) {
            note(call, t.chat_too_big);
            return;
        }
        let Some(channel) = open_channel(call) else {
            note(call, t.chat_not_sent);
            return;
        };
        let Some((item, bar)) = photo_entry(call, "mine") else {
            return;
        };
        show_photo(call, &item, &photo, t.chat_photo_mine);
        spawn_local(async move {
            if send_photo(&channel, &photo, &mime, &bar).await {
                bar.remove();
            } else {
                mark_failed(&item, &bar, call.texts().chat_not_sent);
            }
        });
    }

    /// After hydration, on the home page: a photo shared to the installed app starts a
    /// call, and goes to the chat once the other side connects ([`send_shared_photo`]);
    /// a share that did not come is said.
    pub fn take_shared_photo(call: Call) {
        let query = window().location().search().unwrap_or_default();
        let Some(shared) = super::Shared::from_query(&query) else {
            return;
        };
        let t = call.texts();
        spawn_local(async move {
            let photo = match shared {
                super::Shared::Photo => shared_photo_from_cache().await,
                super::Shared::Lost => None,
            };
            let Some(photo) = photo else {
                env::show_in_address_bar(None);
                call.flash(t.shared_photo_lost);
                return;
            };
            call.chat.browser.shared.set_value(Some(photo));
            call.press_call();
            // After the new view's first effects, which start it with no notice.
            gloo_timers::callback::Timeout::new(0, move || {
                call.notice.try_set(Some(t.shared_photo_ready.to_owned()));
            })
            .forget();
        });
    }

    /// The photo the service worker kept from a share, taken out of its cache.
    async fn shared_photo_from_cache() -> Option<web_sys::Blob> {
        let caches = window().caches().ok()?;
        let found = JsFuture::from(caches.match_with_str("/shared-photo"))
            .await
            .ok()?;
        let response: web_sys::Response = found.dyn_into().ok()?;
        let blob = JsFuture::from(response.blob().ok()?).await.ok()?;
        let _ = caches.delete("shared-photo");
        blob.dyn_into().ok()
    }

    /// Sends `wire` if the channel is open.
    fn say(call: Call, wire: Wire) {
        if let Some(channel) = open_channel(call) {
            let _ = channel.send_with_str(&wire.to_wire());
        }
    }

    /// The other side's chat channel is there: a photo shared to the app goes now.
    fn send_shared_photo(call: Call) {
        if let Some(Some(photo)) = call.chat.browser.shared.try_update_value(Option::take) {
            send_blob(call, photo);
            call.flash(call.texts().shared_photo_sent);
        }
    }

    /// Sends the header and the bytes of `photo`, waiting whenever the channel holds more
    /// than [`HIGH_WATER_BYTES`]; false if the channel closed on the way.
    async fn send_photo(
        channel: &RtcDataChannel,
        photo: &web_sys::Blob,
        mime: &str,
        bar: &Element,
    ) -> bool {
        let Ok(buffer) = JsFuture::from(photo.array_buffer()).await else {
            return false;
        };
        let bytes = js_sys::Uint8Array::new(&buffer);
        let mut progress = Progress::new(bytes.length());
        let header = Wire::Photo {
            size: progress.size,
            mime,
        };
        if channel.send_with_str(&header.to_wire()).is_err() {
            return false;
        }
        while !progress.complete() {
            while channel.buffered_amount() > HIGH_WATER_BYTES {
                if channel.ready_state() != RtcDataChannelState::Open {
                    return false;
                }
                gloo_timers::future::TimeoutFuture::new(20).await;
            }
            let (start, end) = progress.next_chunk();
            if channel
                .send_with_array_buffer_view(&bytes.subarray(start, end))
                .is_err()
            {
                return false;
            }
            progress.add(end - start);
            env::set_progress(bar, progress.percent());
        }
        true
    }

    fn on_message(call: Call, data: wasm_bindgen::JsValue) {
        if let Some(text) = data.as_string() {
            match Wire::from_wire(&text) {
                Some(Wire::Text(line)) => {
                    if let Some(item) = entry(call, "theirs") {
                        item.set_text_content(Some(line));
                        arrived(call);
                    }
                }
                Some(Wire::Photo { size, mime }) => photo_coming(call, size, mime),
                Some(Wire::Hello { back }) => {
                    if !back {
                        say(call, Wire::Hello { back: true });
                    }
                    send_shared_photo(call);
                }
                None => {}
            }
        } else if let Ok(chunk) = data.dyn_into::<js_sys::ArrayBuffer>() {
            photo_chunk(call, chunk);
        }
    }

    /// A photo's header came: its entry shows, with a progress bar.
    fn photo_coming(call: Call, size: u32, mime: &str) {
        let Some((item, bar)) = photo_entry(call, "theirs") else {
            return;
        };
        let incoming = Incoming {
            progress: Progress::new(size),
            mime: mime.to_owned(),
            parts: js_sys::Array::new(),
            item,
            bar,
        };
        let earlier = call
            .chat
            .browser
            .link
            .try_update_value(|link| link.as_mut().and_then(|l| l.incoming.replace(incoming)));
        if let Some(Some(unfinished)) = earlier {
            mark_failed(
                &unfinished.item,
                &unfinished.bar,
                call.texts().chat_not_received,
            );
        }
    }

    /// A chunk of the photo coming; the last one shows it. A chunk with no photo coming,
    /// or past its size, drops it.
    fn photo_chunk(call: Call, chunk: js_sys::ArrayBuffer) {
        let taken = call.chat.browser.link.try_update_value(|link| {
            let link = link.as_mut()?;
            let incoming = link.incoming.as_mut()?;
            if !incoming.progress.add(chunk.byte_length()) {
                return link.incoming.take().map(Err);
            }
            incoming.parts.push(&chunk);
            env::set_progress(&incoming.bar, incoming.progress.percent());
            if incoming.progress.complete() {
                return link.incoming.take().map(Ok);
            }
            None
        });
        match taken.flatten() {
            Some(Ok(photo)) => {
                let bag = web_sys::BlobPropertyBag::new();
                bag.set_type(&photo.mime);
                if let Ok(blob) =
                    web_sys::Blob::new_with_buffer_source_sequence_and_options(&photo.parts, &bag)
                {
                    photo.bar.remove();
                    show_photo(call, &photo.item, &blob, call.texts().chat_photo_theirs);
                    arrived(call);
                }
            }
            Some(Err(broken)) => {
                mark_failed(&broken.item, &broken.bar, call.texts().chat_not_received)
            }
            None => {}
        }
    }

    /// Whether the chat's panel shows.
    pub fn is_open(call: Call) -> bool {
        env::sheet_open(call.chat.panel.get_untracked())
    }

    /// Opens the panel (what came is read then) or closes it.
    pub fn toggle(call: Call) {
        let open = !is_open(call);
        if let Some(panel) = call.chat.panel.get_untracked() {
            if open {
                built(call);
            }
            env::show_sheet(&panel, call.chat.control.get_untracked(), open);
        }
        // What said a message came is read now.
        let t = call.texts();
        if open && call.notice.get_untracked().as_deref() == Some(t.chat_new) {
            call.notice.set(None);
        }
        show_unread(call, 0);
    }

    /// A message came: counted on the chat's control, and said, while the panel is closed.
    fn arrived(call: Call) {
        if !is_open(call) {
            show_unread(call, call.chat.browser.unread.get_value() + 1);
            call.flash(call.texts().chat_new);
        }
    }

    fn show_unread(call: Call, count: u32) {
        call.chat.browser.unread.set_value(count);
        if let Some(badge) = call.chat.unread.get_untracked() {
            badge.set_text_content(Some(&count.to_string()));
            badge.set_hidden(count == 0);
        }
    }

    /// Builds the panel's insides, if they are not yet: when it first opens, or when the
    /// first message comes.
    fn built(call: Call) {
        if part(call, |_| ()).is_none()
            && let Some(panel) = call.chat.panel.get_untracked()
        {
            call.chat.browser.parts.set_value(build_panel(call, &panel));
        }
    }

    /// Reads one of the panel's parts, once built.
    fn part<T>(call: Call, read: impl FnOnce(&Parts) -> T) -> Option<T> {
        call.chat
            .browser
            .parts
            .try_with_value(|parts| parts.as_ref().map(read))
            .flatten()
    }

    /// Builds the panel's insides in `panel`: the hint and «×», the list, and the line to
    /// send with the photo picker.
    fn build_panel(call: Call, panel: &web_sys::HtmlElement) -> Option<Parts> {
        let t = call.texts();
        let make = env::element;
        let listen = |target: &Element, event: &'static str, act: fn(Call)| {
            env::listen(target, event, move |event| {
                event.prevent_default();
                act(call);
            })
        };
        let (head, close) = env::sheet_head(t.chat_hint, t.chat_close)?;
        let list = make("ol", "messages")?;
        let _ = list.set_attribute("aria-live", "polite");
        let compose = make("form", "compose")?;
        let attach = make("label", "button attach")?;
        let photo: web_sys::HtmlInputElement = make("input", "")?.unchecked_into();
        photo.set_type("file");
        photo.set_accept("image/*");
        attach.append_with_node_1(&photo).ok()?;
        attach.append_with_str_1(t.chat_photo).ok()?;
        let line: web_sys::HtmlInputElement = make("input", "line")?.unchecked_into();
        line.set_max_length(super::MAX_TEXT_CHARS as i32);
        line.set_autocomplete("off");
        line.set_placeholder(t.chat_line);
        let _ = line.set_attribute("aria-label", t.chat_line);
        let _ = line.set_attribute("enterkeyhint", "send");
        let send = make("button", "button primary")?;
        let _ = send.set_attribute("type", "submit");
        send.set_text_content(Some(t.chat_send));
        compose.append_with_node_3(&attach, &line, &send).ok()?;
        panel.append_with_node_3(&head, &list, &compose).ok()?;
        Some(Parts {
            _listeners: [
                listen(&close, "click", toggle),
                listen(&compose, "submit", send_line),
                listen(&photo, "change", send_picked_photo),
            ],
            list,
            line,
            photo,
        })
    }

    /// A new entry at the end of the list (`mine` or `theirs`), scrolled into view.
    fn entry(call: Call, class: &str) -> Option<Element> {
        built(call);
        let list = part(call, |p| p.list.clone())?;
        let item = env::element("li", class)?;
        list.append_child(&item).ok()?;
        list.set_scroll_top(list.scroll_height());
        Some(item)
    }

    /// Says `text` in the list itself (the panel covers the call's notices on a phone).
    fn note(call: Call, text: &str) {
        if let Some(item) = entry(call, "note") {
            item.set_text_content(Some(text));
        }
    }

    /// An entry for a photo, with its progress bar.
    fn photo_entry(call: Call, class: &str) -> Option<(Element, Element)> {
        let item = entry(call, class)?;
        let bar = env::progress_bar("", call.texts().chat_photo)?;
        item.append_child(&bar).ok()?;
        Some((item, bar))
    }

    /// Shows `blob` in `item` as an image named `alt`, which a tap saves.
    fn show_photo(call: Call, item: &Element, blob: &web_sys::Blob, alt: &str) {
        let Ok(url) = web_sys::Url::create_object_url_with_blob(blob) else {
            return;
        };
        let (Some(save), Some(image)) = (env::element("a", ""), env::element("img", "")) else {
            return;
        };
        let _ = save.set_attribute("href", &url);
        let _ = save.set_attribute("download", "");
        let _ = image.set_attribute("src", &url);
        let _ = image.set_attribute("alt", alt);
        let _ = save.append_child(&image);
        let _ = item.prepend_with_node_1(&save);
        call.chat.browser.urls.update_value(|urls| urls.push(url));
    }

    /// A photo that did not go (or come) whole: said in its entry.
    fn mark_failed(item: &Element, bar: &Element, why: &str) {
        bar.remove();
        let _ = item.class_list().add_1("failed");
        let _ = item.append_with_str_1(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_line_and_a_photo_header_go_and_come_back_the_same() {
        for wire in [
            Wire::Hello { back: false },
            Wire::Hello { back: true },
            Wire::Text("Привет, мама! 👋"),
            Wire::Text(" p12 image/png "),
            Wire::Photo {
                size: 5_000_000,
                mime: "image/jpeg",
            },
            Wire::Photo {
                size: 1,
                mime: "image/svg+xml",
            },
        ] {
            assert_eq!(Wire::from_wire(&wire.to_wire()), Some(wire));
        }
    }

    #[test]
    fn anything_else_is_ignored() {
        let too_long = format!("t{}", "я".repeat(MAX_TEXT_CHARS + 1));
        let too_big = format!("p{} image/png", MAX_PHOTO_BYTES + 1);
        for bad in [
            "",
            "t",
            "t   ",
            too_long.as_str(),
            "p",
            "p12",
            "p12 text/html",
            "p0 image/png",
            "p-1 image/png",
            too_big.as_str(),
            "p12 image/",
            "p12 image/png<script>",
            "x hello",
            "hh",
            "h ",
            "cam=0 mic=1",
        ] {
            assert_eq!(Wire::from_wire(bad), None, "{bad:?}");
        }
        assert!(Wire::from_wire(&format!("t{}", "я".repeat(MAX_TEXT_CHARS))).is_some());
    }

    #[test]
    fn a_shared_photo_is_read_from_the_address() {
        assert_eq!(Shared::from_query("?shared=photo"), Some(Shared::Photo));
        assert_eq!(Shared::from_query("a=1&shared=lost"), Some(Shared::Lost));
        for other in [
            "",
            "?",
            "?shared=",
            "?shared=photos",
            "?session=x",
            "?xshared=photo",
        ] {
            assert_eq!(Shared::from_query(other), None, "{other:?}");
        }
    }

    #[test]
    fn a_photo_is_counted_in_chunks_to_its_size_and_never_past_it() {
        let size = 2 * CHUNK_BYTES + 5;
        let mut progress = Progress::new(size);
        let mut chunks = 0;
        while !progress.complete() {
            let (start, end) = progress.next_chunk();
            assert_eq!(start, progress.done);
            assert!(end - start <= CHUNK_BYTES);
            assert!(progress.add(end - start));
            chunks += 1;
        }
        assert_eq!((chunks, progress.percent()), (3, 100));
        assert!(!progress.add(1), "a byte past the size");
        assert_eq!(progress.done, size);

        let mut half = Progress::new(200);
        assert!(half.add(100));
        assert_eq!(half.percent(), 50);
        assert!(!half.add(u32::MAX), "no overflow");
    }
}
