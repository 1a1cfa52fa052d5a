// The channel's phone screen: scan items one after another (camera or typed/pasted code URL),
// pick the step (receive, ship, store, sell, void), GPS from the browser; every event is
// queued in localStorage and sent in order when the phone is online.
//
// No event is lost or sent twice: an event's transaction body (with its nonce) is built once,
// when it is queued, and stored with its id (SHA-256 of the body, `transactionHash`). A retry
// sends the same body, which the node signs to the same bytes, so admission refuses a second
// copy (`duplicate` while pending, `nonce_replayed` once executed); the queue then asks
// `GET /v1/tx/{id}` whether it was executed before dropping the entry. An entry whose nonce was
// taken by another transaction is kept as `conflict`, visible, and can be requeued.

import { brandPayload, fromHex, parseCodeUrl, toHex, transactionBody, transactionHash } from '../tx.js';
import { cameraAvailable, startCamera } from '../camera.js';
import { t } from './i18n.js';
import { ApiError, api, h, session } from './ui.js';

/** The steps a channel records, with what each needs. */
export const STEPS = ['receive', 'ship', 'store', 'sell', 'void'];

const storageKey = () => `jitrace.console.queue.${session.current.chain_id}.${session.current.key}`;

/** The queue: `[{id, body, nonce, label, state, hash, error, at}]`, oldest first. */
export function loadQueue() {
  try {
    return JSON.parse(localStorage.getItem(storageKey()) ?? '[]');
  } catch {
    return [];
  }
}

function saveQueue(queue) {
  localStorage.setItem(storageKey(), JSON.stringify(queue));
}

/** The next nonce to build with: above both the node's and every queued one. */
async function nextNonce(queue) {
  const queued = queue.reduce((n, e) => (BigInt(e.nonce) >= n ? BigInt(e.nonce) + 1n : n), 0n);
  let known = BigInt(localStorage.getItem(`${storageKey()}.nonce`) ?? '0');
  if (navigator.onLine) {
    try {
      const { next_nonce: n } = await api('GET', `/v1/accounts/${session.current.key}/nonce`);
      if (BigInt(n) > known) known = BigInt(n);
    } catch {
      // Offline after all: the stored and queued nonces decide.
    }
  }
  return known > queued ? known : queued;
}

function action(step, data) {
  switch (step) {
    case 'ship':
      return { kind: 'ship', to: data.to };
    case 'sell':
      return { kind: 'sell' };
    case 'void':
      return { kind: 'decommission' };
    default:
      return { kind: step };
  }
}

let queueing = Promise.resolve();

/** Adds one event to the queue: its body and id fixed now, once. One at a time, so that two
 * quick scans never take the same nonce. */
export function enqueue(event) {
  const added = queueing.then(() => enqueueNow(event));
  queueing = added.catch(() => {});
  return added;
}

async function enqueueNow({ code, step, data, point }) {
  const s = session.current;
  const nonce = await nextNonce(loadQueue());
  // Read again after the wait: the sender may have changed the queue meanwhile.
  const queue = loadQueue();
  const payload = brandPayload.recordCodeEvent({
    code: { gtin: code.gtin, serial: code.serial },
    signature: code.signature,
    org: s.org,
    action: action(step, data),
    place: { point, region: data.region || null, city: data.city || null },
  });
  const body = transactionBody({ chainId: s.chain_id, signer: fromHex(s.key), nonce, payload });
  // Never build with this nonce again, even once the queue is empty and the phone offline.
  localStorage.setItem(`${storageKey()}.nonce`, String(nonce + 1n));
  const entry = {
    id: transactionHash(body),
    body: toHex(body),
    nonce: String(nonce),
    label: `${t(`step.${step}`)} · ${code.gtin}/${code.serial}`,
    state: 'queued',
    at: Date.now(),
  };
  queue.push(entry);
  saveQueue(queue);
  return entry;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let flushing = null;

/** Sends queued events in nonce order; resolves when the queue is empty or offline. */
export function flush(onChange = () => {}) {
  if (flushing) return flushing;
  // `.finally` runs after this assignment even when `send` finishes at once.
  flushing = send(onChange).finally(() => {
    flushing = null;
    onChange();
  });
  return flushing;
}

async function send(onChange) {
  while (navigator.onLine) {
    const queue = loadQueue();
    const entry = queue.filter((e) => e.state === 'queued' || e.state === 'sent').sort((a, b) => (BigInt(a.nonce) < BigInt(b.nonce) ? -1 : 1))[0];
    if (!entry) break;
    const update = (fields) => {
      const now = loadQueue();
      const at = now.findIndex((e) => e.id === entry.id);
      if (at >= 0) Object.assign(now[at], fields);
      saveQueue(now.filter((e) => e.state !== 'done'));
      onChange();
    };
    if (entry.state === 'queued') {
      try {
        await api('POST', '/console/api/tx', { body: entry.body });
      } catch (e) {
        if (!(e instanceof ApiError)) break; // the network went away: try again later
        if (e.code !== 'duplicate' && e.code !== 'nonce_replayed') {
          update({ state: 'failed', error: e.message });
          continue;
        }
        // Sent before (its answer was lost): the receipt below says what became of it.
      }
      update({ state: 'sent' });
    }
    // Wait for its receipt: the same id whichever attempt got through.
    let status = null;
    for (let i = 0; i < 200 && navigator.onLine; i++) {
      status = await api('GET', `/v1/tx/${entry.id}`).catch((e) => (e instanceof ApiError && e.status === 404 ? { status: 'unknown' } : null));
      if (status && status.status !== 'pending') break;
      await sleep(300);
    }
    if (!status || status.status === 'pending') break;
    if (status.status === 'unknown') update({ state: 'conflict', error: t('queue.conflict') });
    else if (status.status === 'ok') {
      update({ state: 'done' });
      const log = JSON.parse(sessionStorage.getItem('jitrace.console.recorded') ?? '[]');
      log.unshift({ label: entry.label, id: entry.id, height: status.height });
      sessionStorage.setItem('jitrace.console.recorded', JSON.stringify(log.slice(0, 50)));
    } else update({ state: 'failed', error: `${status.reason ?? ''} ${status.detail ?? ''}`.trim() });
  }
}

function position() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ latMicro: Math.round(p.coords.latitude * 1e6), lonMicro: Math.round(p.coords.longitude * 1e6) }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: 8000, maximumAge: 60_000 },
    );
  });
}

function scanScreen(main) {
  main.append(h('h1', {}, t('nav.scan')));
  let step = sessionStorage.getItem('jitrace.console.step') ?? 'receive';
  const net = h('p', { class: 'net', role: 'status', 'aria-live': 'polite', 'data-testid': 'net' });
  const steps = h(
    'fieldset',
    { class: 'steps' },
    h('legend', {}, t('scan.step')),
    STEPS.map((s) =>
      h(
        'label',
        { class: 'step' },
        h('input', {
          type: 'radio',
          name: 'step',
          value: s,
          checked: s === step,
          onchange: () => {
            step = s;
            sessionStorage.setItem('jitrace.console.step', s);
            drawExtras();
          },
        }),
        ` ${t(`step.${s}`)}`,
      ),
    ),
  );
  const region = h('input', { id: 'scan-region', name: 'region', value: localStorage.getItem('jitrace.console.region') ?? '', placeholder: 'CN-SH', autocapitalize: 'characters' });
  const city = h('input', { id: 'scan-city', name: 'city', value: localStorage.getItem('jitrace.console.city') ?? '', placeholder: '上海' });
  const to = h('input', { id: 'scan-to', name: 'to', autocapitalize: 'none', spellcheck: 'false' });
  const toField = h('div', { class: 'field' }, h('label', { for: 'scan-to' }, t('scan.to')), to);
  const extras = h('div', { class: 'extras' });
  function drawExtras() {
    extras.replaceChildren(
      h('div', { class: 'field' }, h('label', { for: 'scan-region' }, t('scan.region')), region),
      h('div', { class: 'field' }, h('label', { for: 'scan-city' }, t('scan.city')), city),
      ...(step === 'ship' ? [toField] : []),
    );
  }
  drawExtras();
  const gps = h('p', { class: 'muted', 'data-testid': 'gps' }, t('scan.gps_waiting'));
  let point = null;
  position().then((p) => {
    point = p;
    gps.textContent = p ? t('scan.gps', { lat: (p.latMicro / 1e6).toFixed(4), lon: (p.lonMicro / 1e6).toFixed(4) }) : t('scan.gps_none');
  });
  const code = h('input', { id: 'scan-code', name: 'code', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', enterkeyhint: 'send', inputmode: 'url' });
  const message = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite', 'data-testid': 'scan-message' });
  const list = h('ol', { class: 'queue', 'data-testid': 'queue' });
  const done = h('ol', { class: 'recorded', 'data-testid': 'recorded' });
  const counts = h('p', { 'data-testid': 'queue-state' });

  function drawQueue() {
    const queue = loadQueue();
    const waiting = queue.filter((e) => e.state === 'queued' || e.state === 'sent').length;
    counts.textContent = t('queue.state', { waiting, problems: queue.length - waiting });
    counts.dataset.waiting = String(waiting);
    list.replaceChildren(
      ...queue.map((e) =>
        h(
          'li',
          { 'data-state': e.state, 'data-id': e.id },
          h('span', { class: `badge ${e.state}` }, t(`queue.${e.state}`)),
          ' ',
          e.label,
          e.error ? h('span', { class: 'muted' }, ` — ${e.error}`) : '',
          e.state === 'failed' || e.state === 'conflict'
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  onclick: () => {
                    saveQueue(loadQueue().filter((x) => x.id !== e.id));
                    drawQueue();
                  },
                },
                t('queue.dismiss'),
              )
            : null,
        ),
      ),
    );
    const log = JSON.parse(sessionStorage.getItem('jitrace.console.recorded') ?? '[]');
    done.replaceChildren(...log.slice(0, 10).map((r) => h('li', { 'data-id': r.id }, r.label, h('span', { class: 'muted' }, ` · #${r.height}`))));
  }
  function drawNet() {
    net.textContent = navigator.onLine ? t('scan.online') : t('scan.offline');
    net.dataset.online = String(navigator.onLine);
  }

  async function record(text) {
    const parsed = parseCodeUrl(text);
    // Give a refused code back to the field to fix (unless the next one is being typed).
    const refuse = (key) => {
      message.className = 'notice error';
      message.textContent = t(key);
      if (!code.value) code.value = text;
    };
    if (!parsed) return refuse('scan.bad_code');
    const data = { region: region.value.trim().toUpperCase(), city: city.value.trim(), to: to.value.trim() };
    localStorage.setItem('jitrace.console.region', data.region);
    localStorage.setItem('jitrace.console.city', data.city);
    if (step === 'ship' && !data.to) {
      refuse('scan.need_to');
      to.focus();
      return;
    }
    if (step === 'sell' && !(data.region && data.city)) return refuse('scan.need_city');
    const entry = await enqueue({ code: parsed, step, data, point });
    message.className = 'notice ok';
    message.textContent = t('scan.queued', { label: entry.label });
    code.focus();
    drawQueue();
    flush(drawQueue);
  }

  const form = h(
    'form',
    {
      class: 'card scan-form',
      'data-testid': 'scan-form',
      onsubmit: (e) => {
        e.preventDefault();
        // Cleared at once, so the next code can be scanned while this one is being queued.
        const text = code.value;
        code.value = '';
        record(text);
      },
    },
    steps,
    extras,
    gps,
    h('div', { class: 'field' }, h('label', { for: 'scan-code' }, t('scan.code')), code),
    h('button', { type: 'submit' }, t('scan.add')),
    message,
  );

  // The camera, through the vendored QR decoder (every browser with a camera); typing or
  // pasting the code stays the way without one.
  let stopScanning = null;
  const video = h('video', { class: 'camera', playsinline: true, muted: true, hidden: true, 'aria-label': t('scan.camera') });
  const stopCamera = () => {
    stopScanning?.();
    stopScanning = null;
    video.hidden = true;
  };
  const camera = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      'data-testid': 'camera',
      onclick: async () => {
        if (stopScanning) return stopCamera();
        try {
          if (!(await cameraAvailable())) throw new Error('no camera');
          video.hidden = false;
          let last = '';
          stopScanning = await startCamera(video, (value) => {
            if (value && value !== last) {
              last = value;
              record(value);
            }
          });
        } catch {
          stopCamera();
          message.className = 'notice error';
          message.textContent = t('scan.no_camera');
        }
      },
    },
    t('scan.camera'),
  );
  if (!navigator.mediaDevices?.getUserMedia) camera.hidden = true;

  main.append(
    net,
    h('div', { class: 'scan-layout' }, h('div', {}, camera, video, form), h('section', { class: 'card' }, h('h2', {}, t('queue.title')), counts, list, h('h2', {}, t('queue.recorded')), done)),
  );
  const online = () => {
    drawNet();
    flush(drawQueue);
  };
  window.addEventListener('online', online);
  window.addEventListener('offline', drawNet);
  drawNet();
  drawQueue();
  flush(drawQueue);
  code.focus();
  return () => {
    stopCamera();
    window.removeEventListener('online', online);
    window.removeEventListener('offline', drawNet);
  };
}

/** Registers the channel's phone screen. */
export function registerChannelScreens(registerScreen) {
  const roles = ['distributor', 'retailer', 'logistics'];
  registerScreen({ id: 'scan', nav: 'nav.scan', roles, home: roles, render: scanScreen });
}
