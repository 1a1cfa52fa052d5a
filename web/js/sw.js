// The consumer app's service worker, served at /sw.js (scope: the whole site) with its build id
// and the app shell's files filled in by the node (jitrace-api's assets.rs).
//
// Invariant: it never answers a verdict, a code's page or any API request from its cache. Those
// always go to the network; offline, a code's page gets the offline page, which says that a
// verdict needs the network. Only files under /assets/{build}/ (immutable: their URL changes with
// their content), the manifest and the app's start page are cached.
const BUILD = '__BUILD__';
const SHELL = '__SHELL__';
const CACHE = `jitrace-${BUILD}`;
const START = '/app';
const OFFLINE = '/offline';

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SHELL, START, OFFLINE, '/manifest.webmanifest']))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('jitrace-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith(`/assets/${BUILD}/`)) {
    // Immutable files: the cache first.
    event.respondWith(caches.match(request).then((hit) => hit ?? fetchAndKeep(request)));
  } else if (url.pathname === START || url.pathname === '/manifest.webmanifest') {
    // The start page and manifest: the network first, the cache when offline.
    event.respondWith(fetchAndKeep(request).catch(() => caches.match(request, { ignoreSearch: true })));
  } else if (request.mode === 'navigate') {
    // A code's page (a verdict) and everything else: the network only; offline, say so.
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
  }
  // API requests (/v1, verdict JSON): not touched, so never cached.
});

async function fetchAndKeep(request) {
  const response = await fetch(request);
  if (response.ok) {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(request, copy));
  }
  return response;
}
