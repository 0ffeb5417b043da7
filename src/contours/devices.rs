//! Devices: the panel where a person picks the microphone, the camera and (where the
//! browser can route sound, `setSinkId`) the speaker, and sees the microphone's level,
//! before the call (while the host waits, over the self-view) and during it. Owns listing
//! the devices, the panel's insides and the level meter. Must not open a device or touch
//! the peer connection: a pick goes to the running call ([`Call::use_device`]), which
//! opens it through Media and sends it in place of the old one.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::contours::call::Call;

pub use imp::{forget, is_open, toggle};

/// The devices panel of the page's call and its control; the views render both once,
/// empty, with no reactive part, and the browser's half fills the panel each time it
/// opens (the devices may have changed).
#[derive(Clone, Copy)]
pub struct DevicePanel {
    pub panel: NodeRef<leptos::html::Aside>,
    pub control: NodeRef<leptos::html::Button>,
    #[cfg_attr(not(feature = "hydrate"), expect(dead_code))]
    browser: imp::Browser,
}

impl DevicePanel {
    pub fn new() -> DevicePanel {
        DevicePanel {
            panel: NodeRef::new(),
            control: NodeRef::new(),
            browser: imp::Browser::new(),
        }
    }
}

impl Default for DevicePanel {
    fn default() -> Self {
        DevicePanel::new()
    }
}

/// The level a meter shows for the loudest of `samples` (bytes of a waveform around
/// 128, as `AnalyserNode.getByteTimeDomainData` gives them): 0 to 100.
pub fn level_percent(samples: &[u8]) -> u32 {
    let peak = samples
        .iter()
        .map(|&s| u32::from(s.abs_diff(128)))
        .max()
        .unwrap_or(0);
    (peak * 100 / 128).min(100)
}

/// The server's half: a page rendered on the server opens nothing.
#[cfg(not(feature = "hydrate"))]
mod imp {
    use crate::contours::call::Call;

    pub use crate::contours::ServerHalf as Browser;

    pub fn toggle(_: Call) {}
    pub fn forget(_: Call) {}
    pub fn is_open(_: Call) -> bool {
        false
    }
}

/// The browser's half: the panel's insides, their listeners and the meter.
#[cfg(feature = "hydrate")]
mod imp {
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use web_sys::{HtmlSelectElement, MediaDeviceKind};

    use super::{Call, level_percent};
    use crate::contours::core::DeviceKind;
    use crate::contours::env;
    use crate::contours::media::{LocalMedia, inputs, listed};

    /// How often the meter reads the microphone, in milliseconds.
    const METER_EVERY_MS: u32 = 100;

    /// Samples the meter reads each time: 8,192 are 170–186 ms at 48 or 44.1 kHz, more
    /// than [`METER_EVERY_MS`], so a sound shorter than one reading (a click, the fake
    /// microphone's 20 ms beep) is always seen. A 512-sample window (11 ms) saw only a
    /// tenth of the time, and missed a beep every time its period lined up with the reads.
    const METER_WINDOW: u32 = 8192;

    /// The browser-only parts of the panel.
    #[derive(Clone, Copy)]
    pub struct Browser {
        open: StoredValue<Option<Open>, LocalStorage>,
    }

    impl Browser {
        pub fn new() -> Browser {
            Browser {
                open: StoredValue::new_local(None),
            }
        }
    }

    /// What an open panel keeps alive: its pickers' listeners and its meter.
    struct Open {
        _listeners: Vec<env::Listener>,
        _meter: Option<Meter>,
    }

    /// The microphone's level, read from the stream's audio track every
    /// [`METER_EVERY_MS`]; it follows the track when the microphone changes.
    struct Meter {
        _timer: gloo_timers::callback::Interval,
    }

    /// The audio graph the meter reads, for one track.
    struct Tap {
        context: web_sys::AudioContext,
        analyser: web_sys::AnalyserNode,
        track_id: String,
    }

    impl Drop for Tap {
        fn drop(&mut self) {
            let _ = self.context.close();
        }
    }

    pub fn is_open(call: Call) -> bool {
        env::sheet_open(call.device_panel.panel.get_untracked())
    }

    /// Opens the panel, filled with this moment's devices, or closes it.
    pub fn toggle(call: Call) {
        let Some(panel) = call.device_panel.panel.get_untracked() else {
            return;
        };
        let control = call.device_panel.control.get_untracked();
        if panel.hidden() {
            spawn_local(async move {
                fill(call, &panel).await;
                env::show_sheet(&panel, control, true);
            });
        } else {
            env::show_sheet(&panel, control, false);
            forget(call);
        }
    }

    /// The panel closed or its view went: the meter stops (its audio graph closes).
    pub fn forget(call: Call) {
        call.device_panel.browser.open.try_set_value(None);
    }

    /// Builds the panel's insides: the hint and «×», a picker per kind of device, and
    /// the meter under the microphone's.
    async fn fill(call: Call, panel: &web_sys::HtmlElement) {
        let t = call.texts();
        panel.set_text_content(None);
        let mut listeners = Vec::new();
        let media = call.browser.media.current();
        if let Some((head, close)) = env::sheet_head(t.devices_hint, t.devices_close) {
            listeners.push(env::listen(&close, "click", move |_| toggle(call)));
            let _ = panel.append_child(&head);
        }
        for kind in [DeviceKind::Microphone, DeviceKind::Camera] {
            let devices = inputs(kind).await;
            let in_use = media.as_ref().and_then(|m| m.device_in_use(kind));
            let label = match kind {
                DeviceKind::Microphone => t.mic,
                DeviceKind::Camera => t.cam,
            };
            let Some(select) = picker(panel, label, &devices, in_use.as_deref()) else {
                continue;
            };
            listeners.push(env::listen(&select, "change", move |event| {
                if let Some(select) = target_select(&event) {
                    call.use_device(kind, select.value());
                }
            }));
            match kind {
                DeviceKind::Microphone => meter_bar(panel, t.devices_level),
                DeviceKind::Camera => preview(panel, media.as_deref(), t.local_label),
            }
        }
        if can_route_sound(call) {
            let speakers = listed(MediaDeviceKind::Audiooutput).await;
            let in_use = call
                .remote_video
                .get_untracked()
                .and_then(|video| js_sys::Reflect::get(&video, &"sinkId".into()).ok())
                .and_then(|id| id.as_string());
            if let Some(select) = picker(panel, t.devices_speaker, &speakers, in_use.as_deref()) {
                listeners.push(env::listen(&select, "change", move |event| {
                    if let Some(select) = target_select(&event) {
                        route_sound(call, &select.value());
                    }
                }));
            }
        }
        let meter = start_meter(call, panel);
        call.device_panel.browser.open.set_value(Some(Open {
            _listeners: listeners,
            _meter: meter,
        }));
    }

    fn target_select(event: &web_sys::Event) -> Option<HtmlSelectElement> {
        event.target()?.dyn_into().ok()
    }

    /// A labelled `<select>` of `devices` in `panel`, the one `in_use` chosen; none when
    /// there is no device of the kind. A device with no label (before permission) is
    /// called by its kind and number.
    fn picker(
        panel: &web_sys::HtmlElement,
        label: &str,
        devices: &[web_sys::MediaDeviceInfo],
        in_use: Option<&str>,
    ) -> Option<HtmlSelectElement> {
        if devices.is_empty() {
            return None;
        }
        let row = env::element("label", "device")?;
        row.append_with_str_1(label).ok()?;
        let select: HtmlSelectElement = env::element("select", "")?.unchecked_into();
        // Named by its kind alone (the label around it would add the chosen device).
        let _ = select.set_attribute("aria-label", label);
        for (n, device) in devices.iter().enumerate() {
            let option = env::element("option", "")?;
            let id = device.device_id();
            let _ = option.set_attribute("value", &id);
            let name = device.label();
            let name = if name.is_empty() {
                format!("{label} {}", n + 1)
            } else {
                name
            };
            option.set_text_content(Some(&name));
            if in_use == Some(id.as_str()) {
                let _ = option.set_attribute("selected", "");
            }
            select.append_child(&option).ok()?;
        }
        row.append_child(&select).ok()?;
        panel.append_child(&row).ok()?;
        Some(select)
    }

    /// What the camera sends, small, under its picker (the same stream as the self-view,
    /// which the sheet covers on a phone; a new camera shows in both).
    fn preview(panel: &web_sys::HtmlElement, media: Option<&LocalMedia>, label: &str) {
        let (Some(media), Some(video)) = (media, env::element("video", "preview")) else {
            return;
        };
        let video: web_sys::HtmlVideoElement = video.unchecked_into();
        video.set_muted(true);
        video.set_autoplay(true);
        let _ = video.set_attribute("playsinline", "");
        let _ = video.set_attribute("aria-label", label);
        video.set_src_object(Some(media.stream()));
        let _ = panel.append_child(&video);
    }

    fn meter_bar(panel: &web_sys::HtmlElement, label: &str) {
        if let Some(bar) = env::progress_bar("level", label) {
            let _ = panel.append_child(&bar);
        }
    }

    /// Whether the browser can send the call's sound to a chosen speaker.
    fn can_route_sound(call: Call) -> bool {
        call.remote_video
            .get_untracked()
            .is_some_and(|video| js_sys::Reflect::has(&video, &"setSinkId".into()).unwrap_or(false))
    }

    /// Sends the other side's sound to speaker `id`.
    fn route_sound(call: Call, id: &str) {
        let Some(video) = call.remote_video.get_untracked() else {
            return;
        };
        let set = js_sys::Reflect::get(&video, &"setSinkId".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(set) = set {
            let _ = set.call1(&video, &id.into());
        }
    }

    /// Starts reading the microphone's level into the panel's bar.
    fn start_meter(call: Call, panel: &web_sys::HtmlElement) -> Option<Meter> {
        let bar = panel.query_selector("progress.level").ok()??;
        let mut tap: Option<Tap> = None;
        let mut samples = Vec::new();
        let timer = gloo_timers::callback::Interval::new(METER_EVERY_MS, move || {
            let Some(track) = call.browser.media.current().and_then(|media| {
                media
                    .stream()
                    .get_audio_tracks()
                    .get(0)
                    .dyn_into::<web_sys::MediaStreamTrack>()
                    .ok()
            }) else {
                return;
            };
            if tap.as_ref().is_none_or(|t| t.track_id != track.id()) {
                tap = tap_track(&track);
            }
            if let Some(tap) = &tap {
                samples.resize(tap.analyser.fft_size() as usize, 128u8);
                tap.analyser.get_byte_time_domain_data(&mut samples);
                let level = if track.enabled() {
                    level_percent(&samples)
                } else {
                    0
                };
                env::set_progress(&bar, level);
            }
        });
        Some(Meter { _timer: timer })
    }

    /// An audio graph from `track` to an analyser (nothing is played).
    fn tap_track(track: &web_sys::MediaStreamTrack) -> Option<Tap> {
        let context = web_sys::AudioContext::new().ok()?;
        let stream = web_sys::MediaStream::new().ok()?;
        stream.add_track(track);
        let source = context.create_media_stream_source(&stream).ok()?;
        let analyser = context.create_analyser().ok()?;
        analyser.set_fft_size(METER_WINDOW);
        source.connect_with_audio_node(&analyser).ok()?;
        let _ = context.resume();
        Some(Tap {
            context,
            analyser,
            track_id: track.id(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::level_percent;

    #[test]
    fn the_meter_shows_the_loudest_sample() {
        assert_eq!(level_percent(&[]), 0);
        assert_eq!(level_percent(&[128; 64]), 0, "silence");
        assert_eq!(level_percent(&[128, 160, 96, 128]), 25);
        assert_eq!(level_percent(&[0, 255]), 100, "full scale");
    }
}
