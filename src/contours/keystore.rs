//! Keystore: what this device keeps for verified contacts, in IndexedDB (the one store
//! that can hold an `RTCCertificate`): the WebRTC certificate it uses for every call, so
//! its DTLS fingerprint stays the same across calls, reloads and reconnects, and the
//! devices it verified ([`Contacts`]). Nothing of it leaves the device. Must not touch a
//! peer connection or the page: Rtc takes the certificate, Verify the contacts.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbOpenDbRequest, IdbRequest, IdbTransactionMode, RtcCertificate};

use crate::contours::verify::Contacts;

const DATABASE: &str = "homecall";
const STORE: &str = "device";
const CERTIFICATE_KEY: &str = "certificate";
const CONTACTS_KEY: &str = "contacts";
const DAY_MS: f64 = 86_400_000.0;
/// How long a new certificate is valid (Chromium allows at most a year).
const CERTIFICATE_DAYS: f64 = 365.0;
/// A certificate this close to its end is replaced before a call.
const RENEW_DAYS_BEFORE: f64 = 30.0;

/// The request's result, once it succeeds.
async fn finished(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise).await?;
    request.result()
}

/// The database, made on first use.
async fn open() -> Result<IdbDatabase, JsValue> {
    let factory = web_sys::window()
        .ok_or(JsValue::NULL)?
        .indexed_db()?
        .ok_or(JsValue::NULL)?;
    let request: IdbOpenDbRequest = factory.open_with_u32(DATABASE, 1)?;
    let on_upgrade = Closure::<dyn FnMut(web_sys::Event)>::new({
        let request = request.clone();
        move |_| {
            if let Ok(database) = request.result() {
                let _ = database
                    .unchecked_into::<IdbDatabase>()
                    .create_object_store(STORE);
            }
        }
    });
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let database = finished(&request).await;
    request.set_onupgradeneeded(None);
    Ok(database?.unchecked_into())
}

async fn get(key: &str) -> Result<JsValue, JsValue> {
    let database = open().await?;
    let store = database.transaction_with_str(STORE)?.object_store(STORE)?;
    let value = finished(&store.get(&key.into())?).await;
    database.close();
    value
}

async fn put(key: &str, value: &JsValue) -> Result<(), JsValue> {
    let database = open().await?;
    let store = database
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?
        .object_store(STORE)?;
    let done = finished(&store.put_with_key(value, &key.into())?).await;
    database.close();
    done.map(drop)
}

/// This device's certificate: the kept one, or a new one (kept) when there is none or it
/// ends within [`RENEW_DAYS_BEFORE`]. `None` where the browser keeps nothing (then the
/// call goes on with a certificate of its own, and the code still works, but the name
/// of a verified contact is not recognised next time).
pub async fn certificate() -> Option<RtcCertificate> {
    let kept = get(CERTIFICATE_KEY)
        .await
        .ok()
        .and_then(|value| value.dyn_into::<RtcCertificate>().ok())
        .filter(|c| c.expires() - js_sys::Date::now() > RENEW_DAYS_BEFORE * DAY_MS);
    if kept.is_some() {
        return kept;
    }
    let fresh = generate().await.ok()?;
    if let Err(error) = put(CERTIFICATE_KEY, &fresh).await {
        crate::logger::warn("-", format_args!("certificate not kept: {error:?}"));
    }
    Some(fresh)
}

/// A new ECDSA P-256 certificate, valid for [`CERTIFICATE_DAYS`].
async fn generate() -> Result<RtcCertificate, JsValue> {
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"ECDSA".into())?;
    Reflect::set(&algorithm, &"namedCurve".into(), &"P-256".into())?;
    Reflect::set(
        &algorithm,
        &"expires".into(),
        &(CERTIFICATE_DAYS * DAY_MS).into(),
    )?;
    let promise = web_sys::RtcPeerConnection::generate_certificate_with_object(&algorithm)?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// The devices verified on this one (none, if nothing is kept).
pub async fn contacts() -> Contacts {
    let text = get(CONTACTS_KEY).await.ok().and_then(|v| v.as_string());
    Contacts::from_text(text.as_deref().unwrap_or(""))
}

/// Keeps `contacts` in place of the ones kept.
pub async fn keep_contacts(contacts: &Contacts) -> Result<(), JsValue> {
    put(CONTACTS_KEY, &contacts.to_text().into()).await
}
