// Caches the app shell only: these files and nothing else. API answers, candidate photos,
// probes and tokens never pass through a cache: requests for anything not listed here are
// left to the network untouched. Network first, so a deployment's update shows at once; the
// cached copy is used only when the network is down.

const CACHE = "mobileid-shell-v2";
const SHELL = [
  "./",
  "index.html",
  "app.css",
  "manifest.webmanifest",
  "icon.svg",
  "icon-192.png",
  "icon-512.png",
  "js/api.js",
  "js/camera.js",
  "js/capture.js",
  "js/dom.js",
  "js/main.js",
  "js/query.js",
  "js/records.js",
  "js/results.js",
  "js/shift.js",
  "js/state.js",
];
const SHELL_URLS = new Set(SHELL.map((p) => new URL(p, self.registration.scope).href));

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  url.search = "";
  if (request.method !== "GET" || !SHELL_URLS.has(url.href)) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(url.href, copy));
        }
        return response;
      })
      .catch(() => caches.match(url.href)),
  );
});
