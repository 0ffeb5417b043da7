// HomeCall service worker. CacheCleaner: when a new version activates, it deletes the
// caches of every older version. It never touches /signal (WebSockets bypass it anyway).
const VERSION = "homecall-v1";

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((name) => name !== VERSION).map((name) => caches.delete(name))),
      )
      .then(() => self.clients.claim()),
  );
});
