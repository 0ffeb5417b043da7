//! Media: the camera and microphone. Owns asking for them (with an audio-only or
//! video-only fallback when one is missing), the stream the self-view shows, and stopping
//! every track when the call ends or its page goes away. Must not touch the peer
//! connection or the network: Rtc takes the stream from here.

use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};

use crate::contours::core::DeviceKind;

/// The page's camera and microphone, in the shape of leptos-use's `use_user_media`: made
/// by [`use_local_media`], with the stream as a signal and the actions on it. The tracks
/// stop on [`UseLocalMedia::stop`] and when the owner that made it is cleaned up.
#[derive(Clone, Copy)]
pub struct UseLocalMedia {
    /// The stream while the devices are open (the self-view shows it).
    pub stream: Signal<Option<MediaStream>, LocalStorage>,
    set_stream: WriteSignal<Option<MediaStream>, LocalStorage>,
    open: StoredValue<Option<Rc<LocalMedia>>, LocalStorage>,
}

/// The camera and microphone for the current owner (the page's call); nothing is asked
/// for until [`UseLocalMedia::start`].
pub fn use_local_media() -> UseLocalMedia {
    let (stream, set_stream) = signal_local(None);
    let media = UseLocalMedia {
        stream: stream.into(),
        set_stream,
        open: StoredValue::new_local(None),
    };
    on_cleanup(move || media.stop());
    media
}

impl UseLocalMedia {
    /// Opens camera and microphone (see [`LocalMedia::prepare`]): the media, if any, and
    /// what is missing and why.
    /// Asked again (after the person allowed a device), what it gets replaces what was
    /// open, and what was open stops; when it gets nothing, what was open stays.
    pub async fn start(&self) -> Prepared<Rc<LocalMedia>> {
        let prepared = LocalMedia::prepare().await;
        let media = match prepared.media.map(Rc::new) {
            Some(media) => {
                self.stop();
                self.open.set_value(Some(Rc::clone(&media)));
                Some(media)
            }
            None => self.current(),
        };
        self.show();
        Prepared {
            media,
            problem: prepared.problem,
        }
    }

    /// The open media, if any.
    pub fn current(&self) -> Option<Rc<LocalMedia>> {
        self.open.try_get_value().flatten()
    }

    /// Shows the stream as it is now (after a camera switch).
    pub fn show(&self) {
        let stream = self.current().map(|media| media.stream().clone());
        self.set_stream.try_set(stream);
    }

    /// Stops every track: the camera light goes off.
    pub fn stop(&self) {
        if let Some(media) = self.open.try_update_value(Option::take).flatten() {
            media.stop();
        }
        self.set_stream.try_set(None);
    }
}

/// Why no camera or microphone could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("camera and microphone access was denied")]
    Denied,
    #[error("no camera or microphone was found")]
    NotFound,
    #[error("this browser cannot use a camera here (no mediaDevices)")]
    Unsupported,
    #[error("the camera or microphone failed: {0}")]
    Failed(String),
}

pub use crate::contours::core::Missing;

/// What [`LocalMedia::prepare`] got: media with whatever devices there are, and what is
/// missing and why.
pub struct Prepared<M = LocalMedia> {
    pub media: Option<M>,
    pub problem: Option<(Missing, MediaError)>,
}

/// The local camera and microphone of this call.
pub struct LocalMedia {
    stream: MediaStream,
}

impl LocalMedia {
    /// Asks for camera and microphone; where that fails, for the microphone alone (an
    /// audio-only call), then for the camera alone.
    pub async fn prepare() -> Prepared {
        let first = match get_user_media(true, true).await {
            Ok(stream) => {
                return Prepared {
                    media: Some(LocalMedia { stream }),
                    problem: None,
                };
            }
            Err(MediaError::Unsupported) => {
                return Prepared {
                    media: None,
                    problem: Some((Missing::Both, MediaError::Unsupported)),
                };
            }
            Err(error) => error,
        };
        for (video, audio, missing) in [
            (false, true, Missing::Camera),
            (true, false, Missing::Microphone),
        ] {
            if let Ok(stream) = get_user_media(video, audio).await {
                return Prepared {
                    media: Some(LocalMedia { stream }),
                    problem: Some((missing, first)),
                };
            }
        }
        Prepared {
            media: None,
            problem: Some((Missing::Both, first)),
        }
    }

    pub fn stream(&self) -> &MediaStream {
        &self.stream
    }

    pub fn tracks(&self) -> Vec<MediaStreamTrack> {
        self.stream
            .get_tracks()
            .iter()
            .filter_map(|t| t.dyn_into::<MediaStreamTrack>().ok())
            .collect()
    }

    fn tracks_of(&self, kind: &str) -> Vec<MediaStreamTrack> {
        self.tracks()
            .into_iter()
            .filter(|t| t.kind() == kind)
            .collect()
    }

    pub fn has_video(&self) -> bool {
        !self.tracks_of("video").is_empty()
    }

    pub fn has_audio(&self) -> bool {
        !self.tracks_of("audio").is_empty()
    }

    /// Sends silence instead of the microphone (the track stays, so no renegotiation).
    pub fn set_audio_enabled(&self, enabled: bool) {
        for track in self.tracks_of("audio") {
            track.set_enabled(enabled);
        }
    }

    /// Sends black frames instead of the camera.
    pub fn set_video_enabled(&self, enabled: bool) {
        for track in self.tracks_of("video") {
            track.set_enabled(enabled);
        }
    }

    /// How many cameras the device has (front and back on a phone).
    pub async fn camera_count() -> usize {
        inputs(DeviceKind::Camera).await.len()
    }

    /// Opens the next camera: returns the current video track and the new one, which the
    /// caller sends before [`LocalMedia::use_track`] swaps them in this stream.
    pub async fn open_next_camera(
        &self,
    ) -> Result<(MediaStreamTrack, MediaStreamTrack), MediaError> {
        let current = self.device_in_use(DeviceKind::Camera).unwrap_or_default();
        let cameras: Vec<String> = inputs(DeviceKind::Camera)
            .await
            .into_iter()
            .map(|device| device.device_id())
            .collect();
        let position = cameras.iter().position(|id| *id == current).unwrap_or(0);
        let next = cameras
            .get((position + 1) % cameras.len().max(1))
            .ok_or(MediaError::NotFound)?;
        self.open_device(DeviceKind::Camera, next).await
    }

    /// The id of the device of `kind` this stream takes its track from.
    pub fn device_in_use(&self, kind: DeviceKind) -> Option<String> {
        let track = self.tracks_of(kind.track_kind()).into_iter().next()?;
        js_sys::Reflect::get(&track.get_settings(), &"deviceId".into())
            .ok()?
            .as_string()
    }

    /// Opens device `id` of `kind`: returns this stream's track of that kind and the new
    /// one (on or off as the old one was), which the caller sends before
    /// [`LocalMedia::use_track`] swaps them.
    pub async fn open_device(
        &self,
        kind: DeviceKind,
        id: &str,
    ) -> Result<(MediaStreamTrack, MediaStreamTrack), MediaError> {
        let old = self
            .tracks_of(kind.track_kind())
            .into_iter()
            .next()
            .ok_or(MediaError::NotFound)?;
        let exact = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&exact, &"exact".into(), &id.into());
        let wanted = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&wanted, &"deviceId".into(), &exact);
        let constraints = MediaStreamConstraints::new();
        match kind {
            DeviceKind::Camera => constraints.set_video(&wanted),
            DeviceKind::Microphone => constraints.set_audio(&wanted),
        }
        let stream = request(&constraints).await?;
        let track = stream
            .get_tracks()
            .get(0)
            .dyn_into::<MediaStreamTrack>()
            .map_err(|_| MediaError::NotFound)?;
        track.set_enabled(old.enabled());
        Ok((old, track))
    }

    /// Puts `new` in this stream in place of `old`, and stops `old` (its device goes off).
    pub fn use_track(&self, old: &MediaStreamTrack, new: &MediaStreamTrack) {
        self.stream.remove_track(old);
        old.stop();
        self.stream.add_track(new);
    }

    /// Stops every track: the camera light goes off.
    pub fn stop(&self) {
        for track in self.tracks() {
            track.stop();
        }
    }
}

/// The devices of `kind` the browser lists, in its order.
pub async fn inputs(kind: DeviceKind) -> Vec<web_sys::MediaDeviceInfo> {
    let wanted = match kind {
        DeviceKind::Camera => web_sys::MediaDeviceKind::Videoinput,
        DeviceKind::Microphone => web_sys::MediaDeviceKind::Audioinput,
    };
    listed(wanted).await
}

/// The devices of `kind` the browser lists (speakers included), in its order.
pub async fn listed(kind: web_sys::MediaDeviceKind) -> Vec<web_sys::MediaDeviceInfo> {
    let Some(devices) = media_devices() else {
        return Vec::new();
    };
    let Ok(promise) = devices.enumerate_devices() else {
        return Vec::new();
    };
    let Ok(list) = JsFuture::from(promise).await else {
        return Vec::new();
    };
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|d| d.dyn_into::<web_sys::MediaDeviceInfo>().ok())
        .filter(|d| d.kind() == kind)
        .collect()
}

fn media_devices() -> Option<web_sys::MediaDevices> {
    web_sys::window().and_then(|w| w.navigator().media_devices().ok())
}

async fn get_user_media(video: bool, audio: bool) -> Result<MediaStream, MediaError> {
    let constraints = MediaStreamConstraints::new();
    constraints.set_video_bool(video);
    constraints.set_audio_bool(audio);
    request(&constraints).await
}

async fn request(constraints: &MediaStreamConstraints) -> Result<MediaStream, MediaError> {
    let devices = media_devices().ok_or(MediaError::Unsupported)?;
    let promise = devices
        .get_user_media_with_constraints(constraints)
        .map_err(|e| MediaError::Failed(error_name(&e)))?;
    let stream = JsFuture::from(promise).await.map_err(classify)?;
    stream
        .dyn_into::<MediaStream>()
        .map_err(|_| MediaError::Failed("not a MediaStream".into()))
}

fn error_name(error: &wasm_bindgen::JsValue) -> String {
    js_sys::Reflect::get(error, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "unknown".into())
}

fn classify(error: wasm_bindgen::JsValue) -> MediaError {
    match error_name(&error).as_str() {
        "NotAllowedError" | "SecurityError" => MediaError::Denied,
        "NotFoundError" | "OverconstrainedError" => MediaError::NotFound,
        other => MediaError::Failed(other.to_owned()),
    }
}
