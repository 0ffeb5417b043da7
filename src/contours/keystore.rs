//! Keystore: what this device keeps for verified contacts, in IndexedDB (the one store
//! that can hold an `RTCCertificate`): the WebRTC certificate it uses for every call, so
//! its DTLS fingerprint stays the same across calls, reloads and reconnects; the one that
//! will replace it, made two months before its end so that calls can announce it to
//! verified contacts first; and the devices it verified ([`Contacts`]). Nothing of it
//! leaves the device. Must not touch a call's peer connection or the page: Rtc takes the
//! certificate, Verify the successor's fingerprint and the contacts.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbOpenDbRequest, IdbRequest, IdbTransactionMode, RtcCertificate};

use crate::contours::verify::Contacts;

const DATABASE: &str = "homecall";
const STORE: &str = "device";
const CERTIFICATE_KEY: &str = "certificate";
const NEXT_KEY: &str = "next-certificate";
const CONTACTS_KEY: &str = "contacts";
const DAY_MS: f64 = 86_400_000.0;
/// How long a new certificate is valid (Chromium allows at most a year).
const CERTIFICATE_DAYS: f64 = 365.0;
/// A certificate this close to its end is replaced (by its successor) before a call.
const RENEW_DAYS_BEFORE: f64 = 30.0;
/// A certificate this close to its end gets a successor, which calls announce.
const PREPARE_DAYS_BEFORE: f64 = 60.0;

/// The request's result, once it succeeds.
async fn finished(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise).await?;
    request.result()
}

/// The database, open (closed when dropped).
struct Database(IdbDatabase);

impl Drop for Database {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Database {
    /// Opens it, making it on first use.
    async fn open() -> Result<Database, JsValue> {
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
        Ok(Database(database?.unchecked_into()))
    }

    async fn get(&self, key: &str) -> Result<JsValue, JsValue> {
        let store = self.0.transaction_with_str(STORE)?.object_store(STORE)?;
        finished(&store.get(&key.into())?).await
    }

    async fn put(&self, key: &str, value: &JsValue) -> Result<(), JsValue> {
        let store = self
            .0
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?
            .object_store(STORE)?;
        finished(&store.put_with_key(value, &key.into())?)
            .await
            .map(drop)
    }

    /// The certificate kept as `key`, unless it ends within [`RENEW_DAYS_BEFORE`].
    async fn certificate(&self, key: &str) -> Option<RtcCertificate> {
        self.get(key)
            .await
            .ok()
            .and_then(|value| value.dyn_into::<RtcCertificate>().ok())
            .filter(|c| days_left(c) > RENEW_DAYS_BEFORE)
    }
}

fn days_left(certificate: &RtcCertificate) -> f64 {
    (certificate.expires() - js_sys::Date::now()) / DAY_MS
}

/// This device's certificate for calls, and the fingerprint of the one that will
/// replace it (once it is near its end).
pub struct Identity {
    pub certificate: RtcCertificate,
    pub successor: Option<String>,
}

/// This device's identity: the kept certificate; its successor in its place once it ends
/// within [`RENEW_DAYS_BEFORE`]; a new one where none is kept. `None` where the browser
/// keeps nothing (then the call goes on with a certificate of its own, and the code still
/// works, but a verified contact is not recognised next time).
pub async fn identity() -> Option<Identity> {
    // One database for every step (a call waits on this).
    let database = Database::open().await.ok();
    let database = database.as_ref();
    let mut next = match database {
        Some(database) => database.certificate(NEXT_KEY).await,
        None => None,
    };
    let kept = match database {
        Some(database) => database.certificate(CERTIFICATE_KEY).await,
        None => None,
    };
    let certificate = match kept {
        Some(certificate) => certificate,
        None => {
            let renewed = match next.take() {
                Some(next) => next,
                None => generate().await.ok()?,
            };
            keep(database, CERTIFICATE_KEY, &renewed).await;
            keep(database, NEXT_KEY, &JsValue::UNDEFINED).await;
            renewed
        }
    };
    if next.is_none() && days_left(&certificate) <= PREPARE_DAYS_BEFORE {
        next = generate().await.ok();
        if let Some(next) = &next {
            keep(database, NEXT_KEY, next).await;
        }
    }
    let successor = match &next {
        Some(next) => crate::contours::rtc::fingerprint_of(next).await,
        None => None,
    };
    Some(Identity {
        certificate,
        successor,
    })
}

/// Keeps `value` as `key`, or says it could not.
async fn keep(database: Option<&Database>, key: &str, value: &JsValue) {
    let kept = match database {
        Some(database) => database.put(key, value).await.is_ok(),
        None => false,
    };
    if !kept {
        crate::logger::warn("-", format_args!("keystore: {key} not kept"));
    }
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
    let text = match Database::open().await {
        Ok(database) => database
            .get(CONTACTS_KEY)
            .await
            .ok()
            .and_then(|v| v.as_string()),
        Err(_) => None,
    };
    Contacts::from_text(text.as_deref().unwrap_or(""))
}

/// Keeps `contacts` in place of the ones kept.
pub async fn keep_contacts(contacts: &Contacts) -> Result<(), JsValue> {
    Database::open()
        .await?
        .put(CONTACTS_KEY, &contacts.to_text().into())
        .await
}
