// The consumer page's owner actions: claim with the ticket in the link's fragment, and, for
// the owner, transfer, cancel a transfer, report lost/stolen and withdraw the report.
//
// The owner's keys come from one seed kept in this browser (localStorage), made on first need:
// each item gets its own key derived from that seed, so the public owner keys of two items owned
// here cannot be linked to each other.
// Ticket secrets travel only in URL fragments, which browsers never send to the server; the
// page signs the ticket proof and the transaction here and submits only the signed bytes.

import {
  codeId,
  devicePseudonym,
  fromBase64Url,
  fromHex,
  payload,
  publicKey,
  randomSeed,
  signTransaction,
  ticketProof,
  toBase64Url,
  toHex,
} from './tx.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { renderSVG } from 'uqr';
import { both } from './i18n.js';
import { el } from './dom.js';

const SEED_ITEM = 'jitrace.seed';
const DEVICE_ITEM = 'jitrace.device';
// Per tab (sessionStorage): the outcome shown after the page reloads with the ledger's new
// state, and the transfer link made here (its secret is nowhere else).
const FLASH_ITEM = 'jitrace.flash';
const TRANSFER_ITEM = 'jitrace.transfer-link';
const POLL_MS = 500;
const POLL_LIMIT_MS = 60_000;

const root = document.getElementById('wallet');
const pageUrl = location.pathname + location.search;

/** The ledger's reasons, in plain words. */
const REASONS = {
  ticket_used: ['此认领码已被使用。', 'This ticket was used already.'],
  ticket_invalid: ['认领码对此商品无效，或已被取消。', 'This ticket is not valid for this item, or was cancelled.'],
  code_stolen: ['此商品已报失，暂不能转手。', 'The item is reported lost or stolen, so it cannot change hands now.'],
  code_not_stolen: ['此商品未被报失。', 'The item is not reported lost or stolen.'],
  not_owner: ['只有物主可以这样做。', 'Only the owner can do this.'],
  nonce_replayed: ['请稍后再试。', 'Please try again in a moment.'],
};

const state = {
  ticket: ticketFromFragment(),
  verdict: null,
  busy: false,
  /** `[kind, zh, en]` of the last outcome. */
  message: takeFlash(),
  chainId: null,
};

function takeFlash() {
  const flash = JSON.parse(sessionStorage.getItem(FLASH_ITEM) ?? 'null');
  sessionStorage.removeItem(FLASH_ITEM);
  return flash?.page === pageUrl ? flash.message : null;
}

function transferLink() {
  const stored = JSON.parse(sessionStorage.getItem(TRANSFER_ITEM) ?? 'null');
  return stored?.page === pageUrl ? stored.link : null;
}

function ticketFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const kind of ['claim', 'transfer']) {
    const text = params.get(kind);
    if (text != null) {
      const secret = fromBase64Url(text);
      return { kind, secret: secret && secret.length === 32 ? secret : null };
    }
  }
  return null;
}

/** This browser's seed, if it has one. */
export function storedSeed() {
  const text = localStorage.getItem(SEED_ITEM);
  return text && /^[0-9a-f]{64}$/.test(text) ? fromHex(text) : null;
}

/** Replaces this browser's seed (restoring a backup). */
export function saveSeed(seed) {
  localStorage.setItem(SEED_ITEM, toHex(seed));
}

function ensureSeed() {
  const seed = storedSeed() ?? randomSeed();
  localStorage.setItem(SEED_ITEM, toHex(seed));
  return seed;
}

/** This browser's key (an Ed25519 seed) for one item. */
function itemKey(seed, code) {
  const serial = new Uint8Array(8);
  new DataView(serial.buffer).setBigUint64(0, code.serial, false);
  const utf8 = new TextEncoder();
  return sha256(Uint8Array.from([...utf8.encode('jitrace/v1/item-key'), ...seed, ...utf8.encode(code.gtin), ...serial]));
}

function deviceName() {
  let device = localStorage.getItem(DEVICE_ITEM);
  if (!device) {
    device = toHex(randomSeed().slice(0, 16));
    localStorage.setItem(DEVICE_ITEM, device);
  }
  return device;
}

function bilingual(zh, en, attrs = {}) {
  return el('p', attrs, ...both(zh, en));
}

function button(zh, en, action, secondary = false) {
  return el(
    'button',
    { type: 'button', class: secondary ? 'secondary' : '', 'data-action': action, onclick: () => run(action) },
    ...both(zh, en),
  );
}

// ---- The server.

async function getJson(url) {
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ServerError(response.status, body);
  return body;
}

class ServerError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function chainId() {
  state.chainId ??= (await getJson('/v1/status')).chain_id;
  return state.chainId;
}

async function nextNonce(key) {
  return BigInt((await getJson(`/v1/accounts/${toHex(publicKey(key))}/nonce`)).next_nonce);
}

/** Signs `makePayload(chainId, key)` with this browser's key for `code` and submits it; resolves
 * to the receipt (`ok` or `rejected`). */
async function submit(code, makePayload) {
  const key = itemKey(ensureSeed(), code);
  const id = await chainId();
  const tx = signTransaction({ chainId: id, seed: key, nonce: await nextNonce(key), payload: makePayload(id, key) });
  const response = await fetch('/v1/tx', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ tx: toHex(tx) }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ServerError(response.status, body);
  const deadline = Date.now() + POLL_LIMIT_MS;
  while (Date.now() < deadline) {
    const receipt = await getJson(`/v1/tx/${body.hash}`);
    if (receipt.status !== 'pending') return receipt;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error('no receipt within a minute');
}

// ---- Actions.

const ACTIONS = {
  async claim(code) {
    const secret = state.ticket.secret;
    const receipt = await submit(code, (id, key) => {
      const owner = publicKey(key);
      const device = devicePseudonym(id, deviceName());
      return payload.redeemTicket(code, publicKey(secret), ticketProof(secret, code, owner, device), device);
    });
    // On success the page reloads without the fragment: the spent secret leaves the address bar.
    if (receipt.status !== 'ok') return receipt;
    return state.ticket.kind === 'transfer'
      ? ['ok', '接收成功：此商品现在归您所有。', 'Transfer accepted: you now own this item.']
      : ['ok', '认领成功：此商品现在归您所有。', 'Claimed: you now own this item.'];
  },
  async transfer(code) {
    const secret = randomSeed();
    const receipt = await submit(code, () => payload.issueTransferTicket(code, publicKey(secret)));
    if (receipt.status === 'ok') {
      const link = `${location.origin}${pageUrl}#transfer=${toBase64Url(secret)}`;
      sessionStorage.setItem(TRANSFER_ITEM, JSON.stringify({ page: pageUrl, link }));
      return ['ok', '转让码已生成：把下面的链接或二维码交给新物主。', 'Transfer ready: give the link or QR code below to the next owner.'];
    }
    return receipt;
  },
  async cancel(code) {
    const receipt = await submit(code, () => payload.cancelTicket(code));
    if (receipt.status === 'ok') {
      sessionStorage.removeItem(TRANSFER_ITEM);
      return ['ok', '转让已取消。', 'The transfer is cancelled.'];
    }
    return receipt;
  },
  async report(code) {
    const receipt = await submit(code, () => payload.reportStolen(code));
    return receipt.status === 'ok' ? ['ok', '已报失。', 'Reported lost or stolen.'] : receipt;
  },
  async withdraw(code) {
    const receipt = await submit(code, () => payload.clearStolen(code));
    return receipt.status === 'ok' ? ['ok', '报失已撤销。', 'The report is withdrawn.'] : receipt;
  },
};

async function run(action) {
  if (state.busy || !state.verdict) return;
  state.busy = true;
  state.message = ['pending', '正在提交并等待上链…', 'Submitting and waiting for the ledger…'];
  render();
  try {
    const code = codeId(state.verdict.code.gtin, state.verdict.code.serial);
    const outcome = await ACTIONS[action](code);
    if (Array.isArray(outcome)) {
      // Reload, so the whole page (status, path) shows the ledger's new state.
      sessionStorage.setItem(FLASH_ITEM, JSON.stringify({ page: pageUrl, message: outcome }));
      location.replace(pageUrl);
      return;
    }
    const [zh, en] = REASONS[outcome.reason] ?? ['账本拒绝了此操作。', 'The ledger refused this.'];
    state.message = ['error', zh, `${en} (${outcome.reason}${outcome.detail ? `: ${outcome.detail}` : ''})`];
  } catch (e) {
    const words = e instanceof ServerError ? (REASONS[e.code] ?? ['提交失败。', 'Could not submit.']) : ['网络错误。', 'Network error.'];
    state.message = ['error', words[0], `${words[1]} (${e.message})`];
  }
  state.busy = false;
  await refresh();
}

// ---- What the panel shows.

function render() {
  const v = state.verdict;
  const parts = [];
  const seed = storedSeed();
  const me = v && seed ? toHex(publicKey(itemKey(seed, codeId(v.code.gtin, v.code.serial)))) : null;
  const owner = v?.ownership?.owner ?? null;
  const pending = v?.ownership?.pending_ticket ?? null;
  const mine = me !== null && owner === me;
  const stolen = v?.flags?.includes('stolen') ?? false;
  const link = pending === 'transfer' ? transferLink() : null;
  if (v && !link) sessionStorage.removeItem(TRANSFER_ITEM);

  if (state.message) {
    const [kind, zh, en] = state.message;
    parts.push(bilingual(zh, en, { class: kind === 'error' ? 'error' : kind === 'ok' ? 'owned' : 'muted', 'data-outcome': kind }));
  }

  if (v && state.ticket && !mine) {
    if (!state.ticket.secret) {
      parts.push(bilingual('链接中的认领码格式有误。', "The ticket in this link is malformed.", { class: 'error' }));
    } else if (pending) {
      const transfer = pending === 'transfer';
      parts.push(
        transfer
          ? bilingual('您收到了此商品的转让码。', 'You were given a transfer ticket for this item.')
          : bilingual('您持有此商品的认领码。', 'You hold the claim ticket for this item.'),
        transfer ? button('接收转让', 'Accept transfer', 'claim') : button('认领所有权', 'Claim ownership', 'claim'),
        bilingual('所有权将归于保存在此浏览器中的密钥。', 'The item will belong to a key kept in this browser.', { class: 'muted' }),
      );
    } else {
      parts.push(bilingual('此链接的认领码已失效（已使用或已取消）。', 'The ticket in this link is no longer valid (used or cancelled).'));
    }
  }
  if (v && mine) {
    parts.push(bilingual('此商品归您所有', 'You own this item', { class: 'owned', 'data-owned': 'yes' }));
    if (stolen) {
      parts.push(bilingual('您已报失此商品。', 'You reported this item lost or stolen.'), button('撤销报失', 'Withdraw report', 'withdraw', true));
    } else {
      if (pending === 'transfer') {
        parts.push(bilingual('转让等待新物主接收。', 'A transfer is waiting for the next owner.'));
        if (link) {
          const qr = el('div', { class: 'qr', role: 'img', 'aria-label': 'QR' });
          // The library's own SVG of our link: numbers only, no text from elsewhere.
          qr.innerHTML = renderSVG(link, { border: 2 });
          parts.push(el('a', { class: 'link', href: link, 'data-transfer-link': '' }, link), qr);
          parts.push(bilingual('链接只保存在此标签页中，请立即保存或发送。', 'The link is kept only in this tab: save or send it now.', { class: 'muted' }));
        }
        parts.push(button('取消转让', 'Cancel transfer', 'cancel', true));
      } else {
        parts.push(button('转让给他人', 'Transfer', 'transfer'));
      }
      parts.push(button('报失/被盗', 'Report lost/stolen', 'report', true));
    }
    parts.push(bilingual('清除浏览器数据会丢失此密钥及所有权。', "Clearing this browser's data loses this key and the ownership.", { class: 'muted' }));
  } else if (v && owner && me && !state.ticket) {
    parts.push(bilingual('此商品的物主不是本浏览器的密钥。', "This item's owner is not this browser's key.", { class: 'muted', 'data-owned': 'no' }));
  }
  if (me) {
    parts.push(el('p', { class: 'muted' }, ...both('您对此商品的密钥：', 'Your key for this item: '), el('code', { 'data-key': me }, `${me.slice(0, 16)}…`)));
  }
  root.replaceChildren(...parts);
  for (const b of root.querySelectorAll('button')) b.disabled = state.busy;
}

async function refresh() {
  try {
    state.verdict = await getJson(pageUrl);
  } catch (e) {
    state.message = ['error', '无法读取商品状态。', `Could not read the item's state (${e.message}).`];
  }
  render();
}

if (root) refresh();
