//! Net: the `/signal` client. Owns the WebSocket: `start_signal` connects (or takes over
//! the socket the page opened while the client loaded, `early.js`), `send` delivers
//! typed [`Signal`]s (held in an outbox while the socket is not open), drops reconnect with
//! backoff, and `stop_signal` hangs up with an explicit close 1000. Must not touch the
//! peer connection or call phases: it reports [`NetEvent`]s to the conductor.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::protocol::{Signal, close};

/// What the signal socket reports.
pub enum NetEvent {
    /// The socket is open (first time or after a reconnect).
    Open,
    /// A message from the hub or the other participant.
    Message(Signal<'static>),
    /// The socket dropped; `retrying` tells whether Net is reconnecting by itself.
    Dropped { code: u16, retrying: bool },
    /// The hub closed the socket with 1000: the session is over.
    Ended,
}

/// Backoff before reconnect attempt `n` (0-based): 250 ms doubling, at most 4 s.
pub fn backoff_ms(attempt: u32) -> u32 {
    250u32.saturating_mul(1 << attempt.min(4)).min(4000)
}

/// The signal client of one call.
#[derive(Clone)]
pub struct Net {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    url: String,
    socket: Option<Socket>,
    outbox: VecDeque<String>,
    stopped: bool,
    attempt: u32,
    emit: Rc<dyn Fn(NetEvent)>,
}

/// One WebSocket and the callbacks that keep it alive.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    fn detach(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }
}

impl Net {
    /// `Net.startSignal`: connects to `url` and reports to `emit`.
    pub fn start_signal(url: String, emit: impl Fn(NetEvent) + 'static) -> Net {
        let net = Net {
            inner: Rc::new(RefCell::new(Inner {
                url,
                socket: None,
                outbox: VecDeque::new(),
                stopped: false,
                attempt: 0,
                emit: Rc::new(emit),
            })),
        };
        let early = crate::contours::env::take_early_socket(&net.inner.borrow().url);
        match early {
            Some(early) => adopt(&net.inner, early),
            None => connect(&net.inner),
        }
        net
    }

    /// Sends `signal` now, or as soon as the socket is open.
    pub fn send(&self, signal: &Signal<'_>) {
        let text = signal.to_json();
        let mut inner = self.inner.borrow_mut();
        let open = inner
            .socket
            .as_ref()
            .filter(|s| s.ws.ready_state() == WebSocket::OPEN);
        match open {
            Some(socket) if inner.outbox.is_empty() => {
                if socket.ws.send_with_str(&text).is_err() {
                    inner.outbox.push_back(text);
                }
            }
            _ => inner.outbox.push_back(text),
        }
    }

    /// Reconnects at once if the socket is down (the network came back, the tab is visible).
    pub fn reconnect_now(&self) {
        let down = {
            let inner = self.inner.borrow();
            !inner.stopped
                && inner
                    .socket
                    .as_ref()
                    .is_none_or(|s| s.ws.ready_state() == WebSocket::CLOSED)
        };
        if down {
            connect(&self.inner);
        }
    }

    /// `Net.stopSignal`: the hang-up. Closes with 1000 and never reconnects.
    pub fn stop_signal(&self) {
        self.close_for_good(close::NORMAL);
    }

    /// Leaves without hanging up (this page cannot take part): closes with 1001, a drop
    /// that keeps the participant's place, and never reconnects.
    pub fn leave(&self) {
        self.close_for_good(close::GOING_AWAY);
    }

    fn close_for_good(&self, code: u16) {
        let mut inner = self.inner.borrow_mut();
        inner.stopped = true;
        inner.outbox.clear();
        if let Some(socket) = inner.socket.take() {
            socket.detach();
            let _ = socket.ws.close_with_code(code);
        }
    }
}

fn connect(inner_rc: &Rc<RefCell<Inner>>) {
    let url = {
        let mut inner = inner_rc.borrow_mut();
        if inner.stopped {
            return;
        }
        if let Some(old) = inner.socket.take() {
            old.detach();
            let _ = old.ws.close();
        }
        inner.url.clone()
    };
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => {
            schedule_reconnect(inner_rc, 0);
            return;
        }
    };
    attach(inner_rc, ws);
}

/// Takes over the socket `early.js` opened while the wasm loaded, and reports what it saw
/// meanwhile, in order: its opening, the frames it received, its close.
fn adopt(inner_rc: &Rc<RefCell<Inner>>, early: crate::contours::env::EarlySocket) {
    attach(inner_rc, early.socket);
    let weak = Rc::downgrade(inner_rc);
    if early.open {
        on_open(&weak);
    }
    for text in &early.messages {
        on_text(&weak, text);
    }
    if let Some(code) = early.closed {
        on_close(&weak, code);
    }
}

/// Makes `ws` this client's socket: its events go to the handlers below.
fn attach(inner_rc: &Rc<RefCell<Inner>>, ws: WebSocket) {
    let weak = Rc::downgrade(inner_rc);

    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new({
        let weak = weak.clone();
        move |_| on_open(&weak)
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let weak = weak.clone();
        move |event: MessageEvent| on_message(&weak, event)
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new({
        let weak = weak.clone();
        move |event: CloseEvent| on_close(&weak, event.code())
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    inner_rc.borrow_mut().socket = Some(Socket {
        ws,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    });
}

fn on_open(weak: &Weak<RefCell<Inner>>) {
    let Some(inner_rc) = weak.upgrade() else {
        return;
    };
    let emit = {
        let mut inner = inner_rc.borrow_mut();
        inner.attempt = 0;
        let Inner { socket, outbox, .. } = &mut *inner;
        if let Some(socket) = socket {
            while let Some(text) = outbox.front() {
                if socket.ws.send_with_str(text).is_err() {
                    break;
                }
                outbox.pop_front();
            }
        }
        inner.emit.clone()
    };
    emit(NetEvent::Open);
}

fn on_message(weak: &Weak<RefCell<Inner>>, event: MessageEvent) {
    if let Some(text) = event.data().as_string() {
        on_text(weak, &text);
    }
}

fn on_text(weak: &Weak<RefCell<Inner>>, text: &str) {
    let Some(inner_rc) = weak.upgrade() else {
        return;
    };
    let emit = inner_rc.borrow().emit.clone();
    match Signal::from_json(text) {
        Ok(signal) => emit(NetEvent::Message(signal.into_owned())),
        Err(error) => crate::logger::warn("-", format_args!("unreadable signal: {error}")),
    }
}

fn on_close(weak: &Weak<RefCell<Inner>>, code: u16) {
    let Some(inner_rc) = weak.upgrade() else {
        return;
    };
    let (emit, attempt) = {
        let mut inner = inner_rc.borrow_mut();
        if inner.stopped {
            return;
        }
        if let Some(socket) = inner.socket.take() {
            socket.detach();
        }
        (inner.emit.clone(), inner.attempt)
    };
    if code == close::NORMAL {
        inner_rc.borrow_mut().stopped = true;
        emit(NetEvent::Ended);
        return;
    }
    // 1008: the hub refused this call (its error came first); 4001: another tab took over.
    let retrying = code != close::POLICY && code != close::REPLACED;
    emit(NetEvent::Dropped { code, retrying });
    if retrying {
        schedule_reconnect(&inner_rc, attempt);
    } else {
        inner_rc.borrow_mut().stopped = true;
    }
}

fn schedule_reconnect(inner_rc: &Rc<RefCell<Inner>>, attempt: u32) {
    inner_rc.borrow_mut().attempt = attempt + 1;
    let weak = Rc::downgrade(inner_rc);
    gloo_timers::callback::Timeout::new(backoff_ms(attempt), move || {
        if let Some(inner_rc) = weak.upgrade() {
            let idle = inner_rc.borrow().socket.is_none();
            if idle {
                connect(&inner_rc);
            }
        }
    })
    .forget();
}
