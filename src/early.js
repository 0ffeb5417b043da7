// The page's first steps, taken while the wasm client loads (issue #14). Inlined into the
// <head> of every page (server-rendered, with the page's script nonce).
//
// 1. No tap is lost: a server-rendered button has no behaviour until the client has
// hydrated, so a tap on one before then is held (the button shows it is pending) and the
// client replays it, once, as soon as it has taken over (env::replay_early_taps).
//
// 2. Time to video: on a call link that this tab will join (a guest, or a host whose call
// has started), the signal socket opens at once and is left on `window.__homecallEarly`;
// the client adopts it (env::take_early_socket) instead of opening its own. Frames that
// arrive before then wait in `messages`, in order: the hub removes a frame from its queue
// once written, so the socket that reads them must be the one the client keeps. The rules
// copied here from Env (the link's form, the tab's memory of a call under
// `homecall:<session>`, the browser's mark of the links it hosts under
// `homecall-host:<session>`, the peer id's form, the socket's URL) must stay as Env has them;
// Env adopts the socket only if its URL is the one it would open. The camera is not
// asked for here: measured, starting it this early slowed the wasm's start on a busy
// machine and did not make the camera ready sooner (BENCHMARKS.md, time to video).
(function () {
  var taps = (window.__homecallTaps = []);
  document.addEventListener("click", function (event) {
    if (document.documentElement.hasAttribute("data-hydrated")) return;
    var button = event.target && event.target.closest ? event.target.closest("button") : null;
    if (!button || button.disabled) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (taps.indexOf(button) >= 0) return;
    taps.push(button);
    button.classList.add("pending");
    button.setAttribute("aria-busy", "true");
  }, true);
})();
(function () {
  try {
    var session = new URLSearchParams(location.search).get("session");
    if (!session || !/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(session)) return;
    var key = "homecall:" + session;
    var memory = JSON.parse(sessionStorage.getItem(key) || "null");
    if (memory && memory.host && !memory.started) return;
    if (memory && !/^[A-Za-z0-9_-]{8,64}$/.test(memory.peer)) return;
    // The host's own link opened in another tab of this browser: never the guest's seat.
    var hosted = Number(localStorage.getItem("homecall-host:" + session));
    if (!memory && hosted && Date.now() - hosted <= 12 * 3600 * 1000) return;
    if (!memory) {
      var bytes = crypto.getRandomValues(new Uint8Array(16));
      var peer = "";
      for (var i = 0; i < bytes.length; i++) peer += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
      memory = { host: false, peer: peer, started: true };
      sessionStorage.setItem(key, JSON.stringify(memory));
    }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/signal?session=" + session + "&peer=" + memory.peer;
    var early = { url: url, open: false, messages: [], closed: null };
    var socket = new WebSocket(url);
    socket.onopen = function () { early.open = true; };
    socket.onmessage = function (event) { early.messages.push(event.data); };
    socket.onclose = function (event) { early.closed = event.code; };
    early.socket = socket;
    window.__homecallEarly = early;
  } catch (error) {
    // Anything unexpected: the client starts everything itself, as without this script.
  }
})();
