//! The UI's words in Russian (the default) and English (when the browser prefers it).
//! Owns choosing the language (from `Accept-Language` on the server, from `<html lang>` in
//! the browser, so hydration sees the same) and every user-facing text, including the
//! messages for the hub's error codes. Must not hold logic: views and the conductor ask it.

use crate::contours::env::BrowserFamily;
use crate::protocol::ErrorCode;

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    /// The language for an `Accept-Language` header: the first of Russian or English in
    /// the browser's order of preference; Russian when it names neither.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut ranked: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.trim().split(';');
                let tag = parts.next()?.trim();
                let quality = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((quality, position, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked
            .iter()
            .find_map(|(_, _, tag)| Lang::from_code(tag))
            .unwrap_or_default()
    }

    /// The language of a tag like `en-US` or `ru`, if it is one of ours.
    pub fn from_code(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }
}

/// Every text of the UI.
#[derive(Debug)]
pub struct Texts {
    pub tagline: &'static str,
    pub call: &'static str,
    pub share_title: &'static str,
    pub share_hint: &'static str,
    pub link_label: &'static str,
    pub copy: &'static str,
    pub copy_failed: &'static str,
    pub qr_label: &'static str,
    pub start_call: &'static str,
    pub cancel: &'static str,
    pub waiting: &'static str,
    pub connecting: &'static str,
    pub reconnecting: &'static str,
    /// Still reconnecting after a long while: the other side may have gone.
    pub peer_may_have_left: &'static str,
    /// The first Esc in a call: a second one hangs up.
    pub esc_again: &'static str,
    pub remote_label: &'static str,
    pub local_label: &'static str,
    pub mic: &'static str,
    pub mic_off: &'static str,
    /// The toggles' accessible names: each starts with the text the button shows (WCAG
    /// 2.5.3, label in name), then says what pressing it does and its key.
    pub mic_turn_off: &'static str,
    pub mic_turn_on: &'static str,
    pub cam: &'static str,
    pub cam_off: &'static str,
    pub cam_turn_off: &'static str,
    pub cam_turn_on: &'static str,
    pub switch_camera: &'static str,
    /// The picture-in-picture button's text, and its accessible name (which starts with it).
    pub picture_in_picture_short: &'static str,
    pub picture_in_picture: &'static str,
    /// What the call timer is, for screen readers.
    pub call_duration: &'static str,
    pub hang_up: &'static str,
    pub enable_sound: &'static str,
    pub quality_good: &'static str,
    pub quality_fair: &'static str,
    pub quality_poor: &'static str,
    pub ended: &'static str,
    pub peer_hung_up: &'static str,
    pub session_full_hint: &'static str,
    pub session_ended_hint: &'static str,
    pub bad_link: &'static str,
    pub bad_link_hint: &'static str,
    pub call_again: &'static str,
    pub not_found: &'static str,
    pub to_home: &'static str,
    pub camera_unavailable: &'static str,
    pub mic_unavailable: &'static str,
    pub media_unavailable: &'static str,
    pub media_missing_hint: &'static str,
    pub in_app_browser_hint: &'static str,
    pub no_webrtc: &'static str,
    pub hub_unreachable: &'static str,
    /// The call has not connected for 20 s (the connection doctor then says why).
    pub cannot_connect: &'static str,
    pub other_tab: &'static str,
    pub update_available: &'static str,
    pub install: &'static str,
    pub install_ios_hint: &'static str,
    pub offline: &'static str,
    /// The button that closes a notice.
    pub dismiss: &'static str,
    /// A guest's way out of the end view.
    pub close_page: &'static str,
    /// End titles for a link that is busy or over: the call, not "the session".
    pub call_taken: &'static str,
    pub call_over: &'static str,
    /// The other side has turned its camera / microphone off.
    pub peer_camera_off: &'static str,
    pub peer_mic_off: &'static str,
    /// The host's own link opened in another tab.
    pub own_link: &'static str,
    pub own_link_hint: &'static str,
    /// The share sheet's one big button on a phone, and the invitation it sends.
    pub send_link: &'static str,
    pub invitation: &'static str,
    /// The copy button after copying: the confirmation is in the button, not a toast.
    pub copied_short: &'static str,
    /// A guest who came before the host started the call.
    pub waiting_for_host: &'static str,
    /// Link previews (`og:`) in messengers.
    pub preview_title: &'static str,
    pub preview_description: &'static str,
    /// The camera switch's caption, short, under its round button.
    pub switch_camera_caption: &'static str,
    /// A control whose device is missing or not allowed: its caption, and its name (which
    /// starts with the caption and says a tap tells why).
    pub no_mic: &'static str,
    pub no_mic_why: &'static str,
    pub no_cam: &'static str,
    pub no_cam_why: &'static str,
    /// The card that says why the camera or microphone is missing, and what to do.
    pub try_again: &'static str,
    pub allow_chrome_android: &'static str,
    pub allow_safari_ios: &'static str,
    pub allow_firefox: &'static str,
    pub allow_chrome: &'static str,
    /// Tap the video to fill the screen with it, or to see all of it.
    pub video_fill: &'static str,
    /// The self-view moves to another corner (drag it, or tap it).
    pub self_view_move: &'static str,
    /// The chat: its control, panel, line, buttons, the photos' names, and what it says.
    pub chat: &'static str,
    pub chat_close: &'static str,
    pub chat_hint: &'static str,
    pub chat_line: &'static str,
    pub chat_send: &'static str,
    pub chat_photo: &'static str,
    pub chat_photo_mine: &'static str,
    pub chat_photo_theirs: &'static str,
    pub chat_new: &'static str,
    pub chat_not_sent: &'static str,
    pub chat_not_received: &'static str,
    pub chat_too_big: &'static str,
    pub chat_photo_only: &'static str,
    /// Verification: the chip, the sheet, the code, what is known of the other device.
    pub verify: &'static str,
    pub verify_check: &'static str,
    pub verify_close: &'static str,
    pub verify_hint: &'static str,
    pub verify_code: &'static str,
    pub verify_waiting: &'static str,
    pub verify_unverified: &'static str,
    pub verify_verified_as: &'static str,
    pub verified: &'static str,
    pub verify_other_device: &'static str,
    pub verify_other_device_why: &'static str,
    pub verify_differ_said: &'static str,
    pub verify_broken: &'static str,
    pub verify_same: &'static str,
    pub verify_differ: &'static str,
    pub verify_name: &'static str,
    pub verify_save: &'static str,
    pub verify_replace: &'static str,
    pub verify_name_taken: &'static str,
    pub verify_not_kept: &'static str,
    pub verify_warn: &'static str,
    /// The devices panel: its control, «×», hint, the meter's name and the speaker's picker.
    pub devices: &'static str,
    pub devices_close: &'static str,
    pub devices_hint: &'static str,
    pub devices_level: &'static str,
    pub devices_speaker: &'static str,
    /// A photo shared to the installed app: it waits for the call, went, or did not come.
    pub shared_photo_ready: &'static str,
    pub shared_photo_sent: &'static str,
    pub shared_photo_lost: &'static str,
    /// The connection doctor: its button, while it runs, each server's outcome, and what
    /// the operator must do.
    pub check_connection: &'static str,
    pub doctor_running: &'static str,
    pub doctor_works: &'static str,
    pub doctor_no_answer: &'static str,
    pub doctor_refused: &'static str,
    pub doctor_no_servers: &'static str,
    pub doctor_turn_refused: &'static str,
    pub doctor_unreachable: &'static str,
    pub doctor_no_turn: &'static str,
    pub doctor_no_turn_tls: &'static str,
    pub doctor_all_good: &'static str,
}

impl Texts {
    /// How to allow the camera and microphone in this browser.
    pub fn allow_steps(&self, family: BrowserFamily) -> &'static str {
        match family {
            BrowserFamily::ChromeAndroid => self.allow_chrome_android,
            BrowserFamily::SafariIos => self.allow_safari_ios,
            BrowserFamily::Firefox => self.allow_firefox,
            BrowserFamily::Chrome => self.allow_chrome,
        }
    }

    /// The message for a hub error code (PROTOCOL.md §5), in this language.
    pub fn error(&self, code: ErrorCode) -> &'static str {
        let ru = std::ptr::eq(self, &RU);
        match (code, ru) {
            // The wire's words say «сеанс»; the UI says «звонок» everywhere.
            (ErrorCode::SessionEnded, true) => "Этот звонок уже завершён",
            (ErrorCode::SessionFull, true) => "Этот звонок уже занят",
            (code, true) => code.message_ru(),
            (ErrorCode::SessionEnded, false) => "The call has ended",
            (ErrorCode::SignalNotFound, false) => "Signal not found",
            (ErrorCode::SessionFull, false) => "This call is already taken",
            (ErrorCode::BadRequest, false) => "Invalid call link",
            (ErrorCode::BadMessage, false) => "Invalid message",
            (ErrorCode::QueueFull, false) => "Too many signals waiting",
            (ErrorCode::RateLimited, false) => "Too many messages",
        }
    }
}

pub static RU: Texts = Texts {
    tagline: "Видеозвонок по ссылке. Без регистрации и установки.",
    call: "Позвонить",
    share_title: "Ссылка на звонок",
    share_hint: "Отправьте её собеседнику: звонок начнётся, когда он откроет ссылку.",
    link_label: "Ссылка на звонок",
    copy: "Копировать",
    copy_failed: "Не удалось скопировать: выделите ссылку и скопируйте её",
    qr_label: "QR-код ссылки: наведите камеру телефона",
    start_call: "Начать звонок",
    cancel: "Отмена",
    waiting: "Ждём собеседника…",
    connecting: "Соединение…",
    reconnecting: "Связь прервалась… Переподключение",
    peer_may_have_left: "Связи нет уже долго: возможно, собеседник ушёл. Переподключение…",
    esc_again: "Нажмите Esc ещё раз, чтобы завершить звонок",
    remote_label: "Собеседник",
    local_label: "Ваша камера",
    mic: "Микрофон",
    mic_off: "Микрофон выкл.",
    mic_turn_off: "Микрофон — выключить (M)",
    mic_turn_on: "Микрофон выкл. — включить (M)",
    cam: "Камера",
    cam_off: "Камера выкл.",
    cam_turn_off: "Камера — выключить (V)",
    cam_turn_on: "Камера выкл. — включить (V)",
    switch_camera: "Сменить камеру",
    picture_in_picture_short: "Мини-окно",
    picture_in_picture: "Мини-окно — видео собеседника поверх других окон",
    call_duration: "Длительность звонка",
    hang_up: "Завершить",
    enable_sound: "Включить звук",
    quality_good: "Хорошая связь",
    quality_fair: "Средняя связь",
    quality_poor: "Плохая связь",
    ended: "Звонок завершён",
    peer_hung_up: "Собеседник завершил звонок.",
    session_full_hint: "В этом звонке уже двое. Попросите собеседника прислать новую ссылку.",
    session_ended_hint: "Этот звонок уже закончился. Попросите собеседника позвонить снова: он пришлёт новую ссылку.",
    bad_link: "Неверная ссылка на звонок",
    bad_link_hint: "Ссылка повреждена или неполная. Попросите собеседника прислать её ещё раз.",
    call_again: "Позвонить снова",
    not_found: "Страница не найдена",
    to_home: "На главную",
    camera_unavailable: "Камера недоступна — звонок только со звуком.",
    mic_unavailable: "Микрофон недоступен — собеседник вас не услышит.",
    media_unavailable: "Камера и микрофон недоступны — вы только смотрите и слушаете.",
    media_missing_hint: "Устройство не найдено или занято другим приложением.",
    in_app_browser_hint: "Этот браузер внутри приложения не даёт камеру. Откройте ссылку в Safari или Chrome: меню «⋯» → «Открыть в браузере».",
    no_webrtc: "Этот браузер не поддерживает видеозвонки. Откройте ссылку в Chrome, Safari или Firefox.",
    hub_unreachable: "Нет связи с сервером звонков. Проверяем снова…",
    cannot_connect: "Не удаётся соединиться. Продолжаем пытаться и проверяем серверы связи.",
    other_tab: "Звонок открыт в другой вкладке или окне",
    update_available: "Доступно обновление — оно установится после звонка",
    install: "Установить приложение",
    install_ios_hint: "Чтобы установить на iPhone: «Поделиться» → «На экран „Домой“».",
    offline: "Нет соединения с интернетом",
    dismiss: "Закрыть",
    close_page: "Закрыть",
    call_taken: "Этот звонок уже занят",
    call_over: "Этот звонок уже завершён",
    peer_camera_off: "Камера собеседника выключена",
    peer_mic_off: "Микрофон собеседника выключен",
    own_link: "Это ваша ссылка — отправьте её собеседнику",
    own_link_hint: "Звонок идёт во вкладке, где вы нажали «Позвонить»: собеседник откроет эту ссылку у себя.",
    send_link: "Отправить ссылку",
    invitation: "Позвони мне по видео в HomeCall — просто открой ссылку:",
    copied_short: "Скопировано ✓",
    waiting_for_host: "Ждём, когда собеседник начнёт звонок",
    preview_title: "Вас зовут на видеозвонок — HomeCall",
    preview_description: "Откройте ссылку, чтобы ответить. Без регистрации и установки.",
    switch_camera_caption: "Сменить",
    no_mic: "Нет микрофона",
    no_mic_why: "Нет микрофона — почему?",
    no_cam: "Нет камеры",
    no_cam_why: "Нет камеры — почему?",
    try_again: "Попробовать снова",
    allow_chrome_android: "Нажмите значок слева от адреса → «Разрешения» → включите камеру и микрофон. Затем «Попробовать снова».",
    allow_safari_ios: "Нажмите «аА» в адресной строке → «Настройки веб-сайта» → Камера и Микрофон → «Разрешить». Затем «Попробовать снова».",
    allow_firefox: "Нажмите перечёркнутый значок камеры в адресной строке → снимите блокировку камеры и микрофона. Затем «Попробовать снова».",
    allow_chrome: "Нажмите значок настроек слева от адреса → включите камеру и микрофон. Затем «Попробовать снова».",
    video_fill: "Нажмите, чтобы видео заняло весь экран или было видно целиком",
    self_view_move: "Перетащите или нажмите, чтобы переместить в другой угол",
    chat: "Чат",
    chat_close: "Закрыть чат",
    chat_hint: "Сообщения и фото идут прямо собеседнику, не через сервер, и исчезнут после звонка.",
    chat_line: "Сообщение",
    chat_send: "Отправить",
    chat_photo: "Фото",
    chat_photo_mine: "Ваше фото",
    chat_photo_theirs: "Фото собеседника",
    chat_new: "Новое сообщение в чате",
    chat_not_sent: "Не отправлено: нет связи",
    chat_not_received: "Фото не дошло",
    chat_too_big: "Фото больше 25 МБ не отправить",
    chat_photo_only: "В чат можно отправить только фото",
    verify: "Кто на связи",
    verify_check: "Проверить собеседника",
    verify_close: "Закрыть проверку",
    verify_hint: "Прочитайте эти слова собеседнику и послушайте его. Совпали — вы говорите именно с его устройством, и никто не встал посередине.",
    verify_code: "Код проверки",
    verify_waiting: "Ждём ответа другой стороны…",
    verify_unverified: "Это устройство вы ещё не проверяли.",
    verify_verified_as: "Проверено: это",
    verified: "проверено",
    verify_other_device: "Внимание: собеседник знает ваш проверенный контакт, но устройство не то, что вы проверили как",
    verify_other_device_why: "Если у человека не новый телефон, кто-то может быть посередине. Сверьте слова голосом.",
    verify_differ_said: "Слова не совпали: кто-то может быть посередине. Не говорите ничего важного; положите трубку и позвоните снова по новой ссылке.",
    verify_broken: "Проверка не удалась: другая сторона нарушила обмен. Кто-то может быть посередине; не говорите ничего важного.",
    verify_same: "Совпадает",
    verify_differ: "Не совпадает",
    verify_name: "Кто это? Имя останется только на этом устройстве",
    verify_save: "Сохранить",
    verify_replace: "Заменить",
    verify_name_taken: "Под этим именем уже проверено другое устройство. «Заменить» — если у человека новый телефон.",
    verify_not_kept: "Браузер не дал сохранить имя",
    verify_warn: "⚠ Проверьте",
    devices: "Устройства",
    devices_close: "Закрыть устройства",
    devices_hint: "Выберите микрофон, камеру и динамик. Скажите что-нибудь: полоска под микрофоном должна двигаться.",
    devices_level: "Уровень микрофона",
    devices_speaker: "Динамик",
    shared_photo_ready: "Фото уйдёт в чат, как только собеседник подключится. Отправьте ему ссылку.",
    shared_photo_sent: "Фото отправлено в чат",
    shared_photo_lost: "Фото не дошло до HomeCall: поделитесь им ещё раз",
    check_connection: "Проверить связь",
    doctor_running: "Проверяем STUN и TURN…",
    doctor_works: "отвечает",
    doctor_no_answer: "не отвечает",
    doctor_refused: "отклоняет пароль",
    doctor_no_servers: "Нет ни STUN, ни TURN. Администратору: задайте --ice-servers и --turn-secret.",
    doctor_turn_refused: "Администратору: --turn-secret должен совпадать с static-auth-secret coturn.",
    doctor_unreachable: "Администратору: запустите сервер и откройте его порты (UDP 3478, TCP 443, порты ретрансляции).",
    doctor_no_turn: "Нет TURN-сервера: за строгим NAT звонок не соединится. Администратору: добавьте turn:… в --ice-servers и --turn-secret.",
    doctor_no_turn_tls: "Нет TURN по TLS: из сетей, где открыт только веб, звонок не пройдёт. Администратору: добавьте turns:хост:443?transport=tcp.",
    doctor_all_good: "Всё в порядке.",
};

pub static EN: Texts = Texts {
    tagline: "Video calls by link. No sign-up, nothing to install.",
    call: "Call",
    share_title: "Call link",
    share_hint: "Send it to the person you are calling: the call starts when they open it.",
    link_label: "Call link",
    copy: "Copy",
    copy_failed: "Could not copy: select the link and copy it",
    qr_label: "QR code of the link: point a phone camera at it",
    start_call: "Start call",
    cancel: "Cancel",
    waiting: "Waiting for the other person…",
    connecting: "Connecting…",
    reconnecting: "Connection lost… Reconnecting",
    peer_may_have_left: "No connection for a while: the other person may have left. Reconnecting…",
    esc_again: "Press Esc again to end the call",
    remote_label: "The other person",
    local_label: "Your camera",
    mic: "Microphone",
    mic_off: "Mic off",
    mic_turn_off: "Microphone — turn off (M)",
    mic_turn_on: "Mic off — turn on (M)",
    cam: "Camera",
    cam_off: "Camera off",
    cam_turn_off: "Camera — turn off (V)",
    cam_turn_on: "Camera off — turn on (V)",
    switch_camera: "Switch camera",
    picture_in_picture_short: "Mini window",
    picture_in_picture: "Mini window — the other person's video over other windows",
    call_duration: "Call duration",
    hang_up: "Hang up",
    enable_sound: "Turn sound on",
    quality_good: "Good connection",
    quality_fair: "Fair connection",
    quality_poor: "Poor connection",
    ended: "Call ended",
    peer_hung_up: "The other person hung up.",
    session_full_hint: "Two people are already in this call. Ask the person who called you for a new link.",
    session_ended_hint: "This call is over. Ask the person who called you to call again: they will send a new link.",
    bad_link: "Invalid call link",
    bad_link_hint: "The link is damaged or incomplete. Ask the person who sent it to send it again.",
    call_again: "Call again",
    not_found: "Page not found",
    to_home: "Home",
    camera_unavailable: "Camera unavailable — this call is sound only.",
    mic_unavailable: "Microphone unavailable — the other person will not hear you.",
    media_unavailable: "Camera and microphone unavailable — you can only watch and listen.",
    media_missing_hint: "No device found, or another app is using it.",
    in_app_browser_hint: "This in-app browser gives no camera. Open the link in Safari or Chrome: menu “⋯” → “Open in browser”.",
    no_webrtc: "This browser cannot make video calls. Open the link in Chrome, Safari or Firefox.",
    hub_unreachable: "Cannot reach the call server. Trying again…",
    cannot_connect: "Cannot connect. Still trying, and checking the connection servers.",
    other_tab: "This call is open in another tab or window",
    update_available: "An update is ready — it installs after the call",
    install: "Install the app",
    install_ios_hint: "To install on iPhone: Share → Add to Home Screen.",
    offline: "No internet connection",
    dismiss: "Close",
    close_page: "Close",
    call_taken: "This call is already taken",
    call_over: "This call has ended",
    peer_camera_off: "The other person's camera is off",
    peer_mic_off: "The other person's microphone is off",
    own_link: "This is your link: send it to the person you are calling",
    own_link_hint: "The call runs in the tab where you pressed “Call”; the other person opens this link on their side.",
    send_link: "Send the link",
    invitation: "Video call me on HomeCall — just open the link:",
    copied_short: "Copied ✓",
    waiting_for_host: "Waiting for the other person to start the call",
    preview_title: "You are invited to a video call — HomeCall",
    preview_description: "Open the link to answer. No sign-up, nothing to install.",
    switch_camera_caption: "Switch",
    no_mic: "No microphone",
    no_mic_why: "No microphone — why?",
    no_cam: "No camera",
    no_cam_why: "No camera — why?",
    try_again: "Try again",
    allow_chrome_android: "Tap the icon left of the address → Permissions → turn on Camera and Microphone. Then “Try again”.",
    allow_safari_ios: "Tap “aA” in the address bar → Website Settings → Camera and Microphone → Allow. Then “Try again”.",
    allow_firefox: "Click the crossed-out camera icon in the address bar → unblock the camera and microphone. Then “Try again”.",
    allow_chrome: "Click the settings icon left of the address → turn on Camera and Microphone. Then “Try again”.",
    video_fill: "Tap to make the video fill the screen, or to see all of it",
    self_view_move: "Drag or tap to move it to another corner",
    chat: "Chat",
    chat_close: "Close the chat",
    chat_hint: "Messages and photos go straight to the other person, not through the server, and vanish after the call.",
    chat_line: "Message",
    chat_send: "Send",
    chat_photo: "Photo",
    chat_photo_mine: "Your photo",
    chat_photo_theirs: "The other person’s photo",
    chat_new: "New chat message",
    chat_not_sent: "Not sent: no connection",
    chat_not_received: "The photo did not arrive",
    chat_too_big: "A photo over 25 MB cannot be sent",
    chat_photo_only: "Only photos can be sent in the chat",
    verify: "Who is on the call",
    verify_check: "Verify the other person",
    verify_close: "Close verification",
    verify_hint: "Read these words to the other person and listen to theirs. If they match, you are talking to their device, and no one is in between.",
    verify_code: "Verification code",
    verify_waiting: "Waiting for the other side…",
    verify_unverified: "You have not verified this device yet.",
    verify_verified_as: "Verified: this is",
    verified: "verified",
    verify_other_device: "Warning: the other side knows your verified contact, but this is not the device you verified as",
    verify_other_device_why: "Unless they have a new phone, someone may be in between. Compare the words aloud.",
    verify_differ_said: "The words differ: someone may be in between. Say nothing important; hang up and call again with a new link.",
    verify_broken: "Verification failed: the other side broke the exchange. Someone may be in between; say nothing important.",
    verify_same: "They match",
    verify_differ: "They differ",
    verify_name: "Who is it? The name stays on this device only",
    verify_save: "Save",
    verify_replace: "Replace",
    verify_name_taken: "Another device is verified under this name. Choose “Replace” if they have a new phone.",
    verify_not_kept: "The browser did not let the name be saved",
    verify_warn: "⚠ Check who it is",
    devices: "Devices",
    devices_close: "Close devices",
    devices_hint: "Pick the microphone, camera and speaker. Say something: the bar under the microphone should move.",
    devices_level: "Microphone level",
    devices_speaker: "Speaker",
    shared_photo_ready: "The photo goes to the chat as soon as the other person joins. Send them the link.",
    shared_photo_sent: "Photo sent to the chat",
    shared_photo_lost: "The photo did not reach HomeCall: share it again",
    check_connection: "Check the connection",
    doctor_running: "Checking STUN and TURN…",
    doctor_works: "answers",
    doctor_no_answer: "no answer",
    doctor_refused: "refuses the password",
    doctor_no_servers: "No STUN or TURN. Operator: set --ice-servers and --turn-secret.",
    doctor_turn_refused: "Operator: --turn-secret must match coturn's static-auth-secret.",
    doctor_unreachable: "Operator: start the server and open its ports (UDP 3478, TCP 443, the relay ports).",
    doctor_no_turn: "No TURN server: behind a strict NAT calls cannot connect. Operator: add turn:… to --ice-servers and --turn-secret.",
    doctor_no_turn_tls: "No TURN over TLS: from networks that let only the web out calls cannot connect. Operator: add turns:host:443?transport=tcp.",
    doctor_all_good: "All good.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_first_known_language_wins() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(
            Lang::from_accept_language("ru-RU,ru;q=0.9,en;q=0.8"),
            Lang::Ru
        );
        assert_eq!(
            Lang::from_accept_language("de-DE,en;q=0.7,ru;q=0.5"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("ru;q=0.4,en;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr-FR"), Lang::Ru);
        assert_eq!(Lang::from_accept_language(""), Lang::Ru);
    }

    #[test]
    fn every_accessible_name_starts_with_the_buttons_text() {
        for t in [&RU, &EN] {
            for (shown, name) in [
                (t.mic, t.mic_turn_off),
                (t.mic_off, t.mic_turn_on),
                (t.cam, t.cam_turn_off),
                (t.cam_off, t.cam_turn_on),
                (t.picture_in_picture_short, t.picture_in_picture),
                (t.switch_camera_caption, t.switch_camera),
                (t.no_mic, t.no_mic_why),
                (t.no_cam, t.no_cam_why),
            ] {
                assert!(
                    name.starts_with(shown),
                    "{name:?} must start with {shown:?}"
                );
            }
        }
    }

    #[test]
    fn every_error_code_has_a_message_in_each_language() {
        for code in ErrorCode::ALL {
            assert!(!RU.error(code).contains("еанс") && !RU.error(code).contains("есси"));
            assert!(!EN.error(code).is_empty());
            assert_ne!(EN.error(code), code.message_ru());
        }
        assert_eq!(
            EN.error(ErrorCode::SessionFull),
            "This call is already taken"
        );
    }
}
