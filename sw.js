// HomeCall service worker.
// - Precaches the app shell and the build's assets in a cache named after the build, so
//   each release has its own.
// - CacheCleaner: when a new version activates, it deletes every older version's cache
//   and tells open pages, which reload into the new version (or, in a call, after it).
// - Pages are network-first (with an offline page), build assets cache-first.
// - Share target: a photo shared to the installed app (POST /share) is kept on the device,
//   in the cache "shared-photo" (which the cleaner leaves alone), and the app opens at
//   /?shared=photo to start a call and send it; the photo never goes to the server.
// - It never touches /signal, /metrics, /healthz, /qr.svg or /api/ calls.
// The server fills in BUILD and PRECACHE when it serves this file.
const BUILD = "__HOMECALL_BUILD__";
const CACHE = `homecall-${BUILD}`;
const PRECACHE = __HOMECALL_PRECACHE__;
const OFFLINE = "/offline";
const NEVER = ["/signal", "/metrics", "/healthz", "/qr.svg", "/api/", "/sw.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      const old = names.filter((name) => name.startsWith("homecall-") && name !== CACHE);
      await Promise.all(old.map((name) => caches.delete(name)));
      await self.clients.claim();
      if (old.length > 0) {
        const pages = await self.clients.matchAll({ type: "window" });
        for (const page of pages) page.postMessage({ type: "homecall-updated", build: BUILD });
      }
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "homecall-build?") {
    event.source.postMessage({ type: "homecall-build", build: BUILD });
  }
});

function untouchable(url) {
  return url.origin !== self.location.origin || NEVER.some((path) => url.pathname.startsWith(path));
}

async function networkFirstPage(request) {
  try {
    return await fetch(request);
  } catch {
    const cache = await caches.open(CACHE);
    return (await cache.match(OFFLINE)) || Response.error();
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

const SHARED = "shared-photo";

async function keepSharedPhoto(request) {
  const form = await request.formData();
  const photo = [...form.getAll("photo")].find((file) => file instanceof File && file.type.startsWith("image/"));
  if (!photo) return Response.redirect("/?shared=lost", 303);
  const cache = await caches.open(SHARED);
  await cache.put("/shared-photo", new Response(photo, { headers: { "content-type": photo.type } }));
  return Response.redirect("/?shared=photo", 303);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method === "POST" && new URL(request.url).pathname === "/share") {
    event.respondWith(keepSharedPhoto(request).catch(() => Response.redirect("/?shared=lost", 303)));
    return;
  }
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (untouchable(url)) return;
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(request));
  } else if (PRECACHE.includes(url.pathname) || url.pathname.startsWith("/pkg/") || url.pathname.startsWith("/icons/")) {
    event.respondWith(cacheFirst(request));
  }
});
