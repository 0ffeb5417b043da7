use futures_channel::mpsc::{UnboundedReceiver, unbounded};
use futures_util::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, MessageEvent, RtcDataChannel, RtcDataChannelState};

use super::{
    Broken, Contact, Digest, Exchange, MAX_HINTS, RESEND_COMMIT_MS, Side, Standing, Wire,
    clean_name, code_input, code_words, commit_input, hint_input, secret_input, successor_input,
};
use crate::contours::call::Call;
use crate::contours::env;
use crate::contours::keystore;
use crate::contours::rtc::Descriptions;
use crate::logger;

/// How long the exchange waits for the kept contacts before it shows the code without.
const CONTACTS_WAIT_MS: u32 = 3_000;

/// The browser-only parts of the call's verification.
#[derive(Clone, Copy)]
pub struct Browser {
    link: StoredValue<Option<Link>, LocalStorage>,
    known: StoredValue<Known, LocalStorage>,
    /// The open sheet's listeners (none while it is closed).
    parts: StoredValue<Vec<env::Listener>, LocalStorage>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            link: StoredValue::new_local(None),
            known: StoredValue::new_local(Known::default()),
            parts: StoredValue::new_local(Vec::new()),
        }
    }
}

/// The verification channel of the current peer connection; its messages go to the
/// exchange's task (dropped with the link, which ends the task).
struct Link {
    _resend: gloo_timers::callback::Interval,
    _listeners: [env::Listener; 2],
}

/// What this call's exchange found, for the chip and the sheet.
#[derive(Default)]
struct Known {
    standing: Standing,
    /// The code's four words, by their number in the list.
    code: Option<[u8; 4]>,
    /// The other device's fingerprint and the secret the two would keep.
    other: Option<(String, Digest)>,
    /// «Совпадает» was pressed: the sheet asks for a name.
    naming: bool,
    /// The name typed is another verified device's: a second press replaces it.
    replacing: bool,
    /// This side's hints, with the name of the contact each is for, and the other's.
    my_hints: Vec<(Digest, String)>,
    their_hints: Vec<Digest>,
    /// The fingerprint the other device said it will use next (hashed), if it did.
    their_next: Option<Digest>,
}

/// Takes the verification channel of a new peer connection: a new exchange starts.
/// `successor` is the fingerprint this device will use next, if its certificate is near
/// its end (announced to the other side).
pub fn attach(
    call: Call,
    channel: RtcDataChannel,
    descriptions: Descriptions,
    successor: Option<String>,
) {
    let (tx, rx) = unbounded::<Option<String>>();
    let on_message = env::listen(channel.as_ref(), "message", {
        let tx = tx.clone();
        move |event| {
            let text = event
                .dyn_ref::<MessageEvent>()
                .and_then(|m| m.data().as_string());
            if let Some(text) = text {
                let _ = tx.unbounded_send(Some(text));
            }
        }
    });
    let resend = gloo_timers::callback::Interval::new(RESEND_COMMIT_MS, {
        let tx = tx.clone();
        move || {
            let _ = tx.unbounded_send(None);
        }
    });
    let on_open = env::listen(channel.as_ref(), "open", move |_| {
        let _ = tx.unbounded_send(None);
    });
    // The last connection's link goes (its listeners with it, which ends its task).
    call.verify.browser.link.try_set_value(Some(Link {
        _resend: resend,
        _listeners: [on_message, on_open],
    }));
    call.verify.browser.known.set_value(Known::default());
    show(call);
    spawn_local(run(call, channel, descriptions, successor, rx));
}

/// The call's view goes: the channel is let go and its task ends.
pub fn forget(call: Call) {
    call.verify.browser.parts.try_set_value(Vec::new());
    call.verify.browser.link.try_set_value(None);
}

pub fn is_open(call: Call) -> bool {
    env::sheet_open(call.verify.panel.get_untracked())
}

/// Opens the sheet, or closes it.
pub fn toggle(call: Call) {
    let Some(panel) = call.verify.panel.get_untracked() else {
        return;
    };
    let opening = panel.hidden();
    env::show_sheet(&panel, call.verify.chip.get_untracked(), opening);
    if opening {
        fill(call);
    } else {
        call.verify.browser.parts.set_value(Vec::new());
    }
}

/// One exchange, its messages handled in arrival order.
async fn run(
    call: Call,
    channel: RtcDataChannel,
    descriptions: Descriptions,
    successor: Option<String>,
    mut rx: UnboundedReceiver<Option<String>>,
) {
    let mine = env::random_bytes::<32>();
    let Some(my_commit) = sha256(&commit_input(&mine)).await else {
        return;
    };
    let mut exchange = Exchange::new(mine, my_commit);
    while let Some(message) = rx.next().await {
        let Some(text) = message else {
            for wire in exchange.on_tick() {
                say(&channel, wire);
            }
            continue;
        };
        // Anything but a well-formed message is ignored: a bad message never ends a call.
        let outcome = match Wire::from_wire(&text) {
            Some(Wire::Commit(commit)) => exchange.on_commit(commit).map(|out| {
                if !out.is_empty() {
                    logger::event("-", format_args!("verification: commitment received"));
                }
                out.into_iter().for_each(|wire| say(&channel, wire));
            }),
            Some(Wire::Reveal(value)) => {
                let Some(hashed) = sha256(&commit_input(&value)).await else {
                    continue;
                };
                let revealed = exchange.on_reveal(value, hashed);
                if revealed.is_ok() {
                    say(&channel, Wire::Done);
                }
                match revealed {
                    Ok(Some(theirs)) => {
                        derive(call, &channel, &descriptions, exchange.mine(), &theirs).await;
                        announce(&channel, successor.as_deref()).await;
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(broken) => Err(broken),
                }
            }
            Some(Wire::Hint(hint)) => {
                take_hint(call, hint);
                Ok(())
            }
            Some(Wire::Done) => {
                exchange.on_done();
                Ok(())
            }
            Some(Wire::Next(next)) => {
                call.verify
                    .browser
                    .known
                    .update_value(|k| k.their_next = Some(next));
                keep_successor(call).await;
                Ok(())
            }
            None => Ok(()),
        };
        if let Err(broken) = outcome {
            give_up(call, broken);
            return;
        }
    }
}

/// The exchange broke its rules: the call goes on, and the sheet says it is not safe.
fn give_up(call: Call, broken: Broken) {
    logger::warn("-", format_args!("verification failed: {broken}"));
    call.verify.browser.known.update_value(|k| {
        k.standing = Standing::Broken;
        k.naming = false;
    });
    show(call);
}

/// Both values are in: the code, the secret, this side's hints, and what the contacts
/// say about the other device.
async fn derive(
    call: Call,
    channel: &RtcDataChannel,
    descriptions: &Descriptions,
    mine: &Digest,
    theirs: &Digest,
) {
    let Some((my_fingerprint, their_fingerprint)) = descriptions.fingerprints() else {
        logger::warn("-", format_args!("verification: no fingerprints"));
        return;
    };
    let me = Side {
        fingerprint: &my_fingerprint,
        value: mine,
    };
    let them = Side {
        fingerprint: &their_fingerprint,
        value: theirs,
    };
    let (Some(code), Some(secret)) = (
        sha256(&code_input(me, them)).await,
        sha256(&secret_input(me, them)).await,
    ) else {
        return;
    };
    let mut contacts = contacts_in_time().await;
    let verified = match contacts.by_fingerprint(&their_fingerprint) {
        Some(contact) => Some(contact.name.clone()),
        None => renewed(&mut contacts, &their_fingerprint).await,
    };
    let mut my_hints = Vec::new();
    for contact in contacts.0.iter().take(MAX_HINTS) {
        if let Some(hint) = sha256(&hint_input(&contact.secret, mine, theirs)).await {
            say(channel, Wire::Hint(hint));
            my_hints.push((hint, contact.name.clone()));
        }
    }
    logger::event("-", format_args!("verification code ready"));
    call.verify.browser.known.update_value(|k| {
        k.code = Some(code_words(&code));
        k.other = Some((their_fingerprint, secret));
        k.my_hints = my_hints;
        if k.standing == Standing::Pending {
            k.standing = verified.map_or(Standing::Unverified, Standing::Verified);
        }
        recognise(k);
    });
    show(call);
    keep_successor(call).await;
}

/// The contacts kept on this device, or none if they cannot be read within
/// [`CONTACTS_WAIT_MS`] (the code shows all the same).
async fn contacts_in_time() -> super::Contacts {
    use futures_util::future::{Either, select};
    let read = std::pin::pin!(keystore::contacts());
    let late = gloo_timers::future::TimeoutFuture::new(CONTACTS_WAIT_MS);
    match select(read, late).await {
        Either::Left((contacts, _)) => contacts,
        Either::Right(_) => {
            logger::warn("-", format_args!("verification: contacts not read in time"));
            super::Contacts::default()
        }
    }
}

/// The name of a verified device that announced `fingerprint` as its next one (its
/// certificate renewed since), now kept under that fingerprint.
async fn renewed(contacts: &mut super::Contacts, fingerprint: &str) -> Option<String> {
    let hashed = sha256(&successor_input(fingerprint)).await?;
    let name = contacts.take_successor(fingerprint, &hashed)?.name.clone();
    if keystore::keep_contacts(contacts).await.is_err() {
        logger::warn("-", format_args!("verification: renewal not kept"));
    }
    Some(name)
}

/// Tells the other side the fingerprint this device will use next, if it knows it.
async fn announce(channel: &RtcDataChannel, successor: Option<&str>) {
    if let Some(successor) = successor
        && let Some(hashed) = sha256(&successor_input(successor)).await
    {
        say(channel, Wire::Next(hashed));
    }
}

/// A verified device said which fingerprint it will use next: kept with it. (From a
/// device not verified it waits in [`Known`] until «Совпадает».)
async fn keep_successor(call: Call) {
    let Some((fingerprint, next)) = call.verify.browser.known.with_value(|k| {
        let verified = matches!(k.standing, Standing::Verified(_));
        let fingerprint = k.other.as_ref().map(|(f, _)| f.clone());
        fingerprint.zip(k.their_next).filter(|_| verified)
    }) else {
        return;
    };
    let mut contacts = keystore::contacts().await;
    if contacts.note_successor(&fingerprint, next)
        && keystore::keep_contacts(&contacts).await.is_err()
    {
        logger::warn("-", format_args!("verification: successor not kept"));
    }
}

/// A hint from the other side: it may prove it knows a contact verified here.
fn take_hint(call: Call, hint: Digest) {
    call.verify.browser.known.update_value(|k| {
        if k.their_hints.len() < MAX_HINTS {
            k.their_hints.push(hint);
        }
        recognise(k);
    });
    show(call);
}

/// An unverified device whose side knows a verified contact's secret is that contact's
/// person on another device, or someone in the middle of a call with them: it warns.
fn recognise(known: &mut Known) {
    if known.standing != Standing::Unverified {
        return;
    }
    let name = known
        .my_hints
        .iter()
        .find(|(hint, _)| known.their_hints.contains(hint))
        .map(|(_, name)| name.clone());
    if let Some(name) = name {
        known.standing = Standing::OtherDevice(name);
    }
}

fn say(channel: &RtcDataChannel, wire: Wire) {
    if channel.ready_state() == RtcDataChannelState::Open {
        let _ = channel.send_with_str(&wire.to_wire());
    }
}

/// SHA-256 by the browser's SubtleCrypto.
async fn sha256(data: &[u8]) -> Option<Digest> {
    let subtle = window().crypto().ok()?.subtle();
    let promise = subtle.digest_with_str_and_u8_array("SHA-256", data).ok()?;
    let buffer = JsFuture::from(promise).await.ok()?;
    js_sys::Uint8Array::new(&buffer).to_vec().try_into().ok()
}

/// Shows the standing on the chip, and in the sheet if it is open.
fn show(call: Call) {
    if let Some(chip) = call.verify.chip.get_untracked() {
        let t = call.texts();
        let (kind, text) = call.verify.browser.known.with_value(|k| match &k.standing {
            Standing::Pending => ("pending", String::new()),
            Standing::Unverified => ("unverified", t.verify_check.to_owned()),
            Standing::Verified(name) => ("verified", format!("{name} · {}", t.verified)),
            _ => ("warn", t.verify_warn.to_owned()),
        });
        chip.set_hidden(kind == "pending");
        let _ = chip.set_attribute("data-standing", kind);
        chip.set_text_content(Some(&text));
    }
    if is_open(call) {
        fill(call);
    }
}

/// Builds the sheet's insides: the hint and «×», the code, what is known, and the
/// buttons the standing allows.
fn fill(call: Call) {
    let Some(panel) = call.verify.panel.get_untracked() else {
        return;
    };
    let t = call.texts();
    panel.set_text_content(None);
    let mut listeners = Vec::new();
    if let Some((head, close)) = env::sheet_head(t.verify_hint, t.verify_close) {
        listeners.push(env::listen(&close, "click", move |_| toggle(call)));
        let _ = panel.append_child(&head);
    }
    let known = call.verify.browser.known;
    let (code, standing, naming, replacing) =
        known.with_value(|k| (k.code, k.standing.clone(), k.naming, k.replacing));
    match code {
        Some(code) => append(&panel, code_list(call, &code)),
        None => append(&panel, env::text_element("p", "hint", t.verify_waiting)),
    }
    let line = match &standing {
        Standing::Pending => None,
        Standing::Unverified => Some(t.verify_unverified.to_owned()),
        Standing::Verified(name) => Some(format!("{} {name}.", t.verify_verified_as)),
        Standing::OtherDevice(name) => Some(format!(
            "{} {name}. {}",
            t.verify_other_device, t.verify_other_device_why
        )),
        Standing::Differ => Some(t.verify_differ_said.to_owned()),
        Standing::Broken => Some(t.verify_broken.to_owned()),
    };
    if let Some(line) = line
        && let Some(p) = env::text_element("p", "standing", &line)
    {
        let _ = p.set_attribute("role", "status");
        let _ = p.set_attribute("data-warn", if standing.warns() { "true" } else { "false" });
        let _ = panel.append_child(&p);
    }
    let can_answer =
        code.is_some() && matches!(standing, Standing::Unverified | Standing::OtherDevice(_));
    if can_answer && naming {
        listeners.extend(name_form(call, &panel, &standing, replacing));
    } else if can_answer && let Some(row) = env::element("div", "answers") {
        for (label, same) in [(t.verify_same, true), (t.verify_differ, false)] {
            let Some(button) = env::text_element(
                "button",
                if same { "button" } else { "button quiet" },
                label,
            ) else {
                continue;
            };
            listeners.push(env::listen(&button, "click", move |_| answer(call, same)));
            let _ = row.append_child(&button);
        }
        let _ = panel.append_child(&row);
    }
    call.verify.browser.parts.set_value(listeners);
}

/// The code: four words, each with its picture.
fn code_list(call: Call, code: &[u8; 4]) -> Option<Element> {
    let list = env::element("ol", "code")?;
    let _ = list.set_attribute("aria-label", call.texts().verify_code);
    for &index in code {
        let (picture, name) = super::words::word(index, call.lang);
        let item = env::element("li", "")?;
        let picture = env::text_element("span", "emoji", picture)?;
        let _ = picture.set_attribute("aria-hidden", "true");
        let name = env::text_element("span", "word", name)?;
        item.append_with_node_2(&picture, &name).ok()?;
        list.append_child(&item).ok()?;
    }
    Some(list)
}

/// The name field and «Сохранить» (or «Заменить» once the name is found taken).
fn name_form(
    call: Call,
    panel: &web_sys::HtmlElement,
    standing: &Standing,
    replacing: bool,
) -> Vec<env::Listener> {
    let t = call.texts();
    let (Some(form), Some(label), Some(input)) = (
        env::element("form", "compose name"),
        env::text_element("label", "", t.verify_name),
        env::element("input", "line"),
    ) else {
        return Vec::new();
    };
    let input: web_sys::HtmlInputElement = input.unchecked_into();
    input.set_max_length(super::MAX_NAME_CHARS as i32);
    let _ = input.set_attribute("autocomplete", "off");
    if let Standing::OtherDevice(name) = standing {
        input.set_value(name);
    }
    let _ = label.append_child(&input);
    let button = env::text_element(
        "button",
        "button",
        if replacing {
            t.verify_replace
        } else {
            t.verify_save
        },
    );
    let _ = form.append_child(&label);
    if replacing && let Some(note) = env::text_element("p", "standing", t.verify_name_taken) {
        let _ = note.set_attribute("data-warn", "true");
        let _ = form.append_child(&note);
    }
    if let Some(button) = &button {
        let _ = form.append_child(button);
    }
    let _ = panel.append_child(&form);
    let _ = input.focus();
    vec![env::listen(&form, "submit", move |event| {
        event.prevent_default();
        spawn_local(save(call, input.value()));
    })]
}

/// «Совпадает» asks for a name; «Не совпадает» marks the call as not safe.
fn answer(call: Call, same: bool) {
    call.verify.browser.known.update_value(|k| {
        if same {
            k.naming = true;
        } else {
            k.standing = Standing::Differ;
        }
    });
    show(call);
}

/// Keeps the other device under `typed`; a name already another device's is kept only
/// on the second press («Заменить»).
async fn save(call: Call, typed: String) {
    let Some(name) = clean_name(&typed) else {
        return;
    };
    let Some((fingerprint, secret)) = call.verify.browser.known.with_value(|k| k.other.clone())
    else {
        return;
    };
    let mut contacts = keystore::contacts().await;
    let replacing = call.verify.browser.known.with_value(|k| k.replacing);
    if !replacing && contacts.name_taken(&name, &fingerprint) {
        call.verify
            .browser
            .known
            .update_value(|k| k.replacing = true);
        show(call);
        return;
    }
    let successor = call.verify.browser.known.with_value(|k| k.their_next);
    contacts.keep(Contact {
        fingerprint,
        secret,
        name: name.clone(),
        successor,
    });
    if keystore::keep_contacts(&contacts).await.is_err() {
        call.flash(call.texts().verify_not_kept);
        return;
    }
    call.verify.browser.known.update_value(|k| {
        k.standing = Standing::Verified(name);
        k.naming = false;
        k.replacing = false;
    });
    show(call);
}

fn append(panel: &web_sys::HtmlElement, element: Option<Element>) {
    if let Some(element) = element {
        let _ = panel.append_child(&element);
    }
}
