// The console's building blocks: DOM construction without innerHTML, the node's console API
// (session cookie + CSRF header), sending transactions through the node's keystore, and a
// table whose paging, sorting and filtering happen on the server.

import { fromHex, toHex, transactionBody } from '../tx.js';
import { t } from './i18n.js';

/** An element: `h('a', {href: '#/x', class: 'y', onclick}, 'text', child)`. Text is never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The session (set at sign-in): user, org, key, csrf, chain id, the kinds it may send. */
export const session = { current: null };

/** An error answer of the node: its stable code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the node: JSON in and out; writes carry the session's CSRF token. */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session.current) headers['x-csrf-token'] = session.current.csrf;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, data.error?.code ?? 'http', data.error?.message ?? response.statusText);
  }
  return data;
}

/** A query string of the set parameters. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Builds a transaction body for the signed-in user, has the node sign and admit it, and waits
 * for its receipt. `report(text)` hears the progress. Resolves to the receipt (TxStatus).
 */
export async function sendTransaction(payload, report = () => {}) {
  const s = session.current;
  report(t('tx.sending'));
  const { next_nonce: nonce } = await api('GET', `/v1/accounts/${s.key}/nonce`);
  const body = transactionBody({ chainId: s.chain_id, signer: fromHex(s.key), nonce: BigInt(nonce), payload });
  const { hash } = await api('POST', '/console/api/tx', { body: toHex(body) });
  report(t('tx.waiting'));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const status = await api('GET', `/v1/tx/${hash}`).catch(() => null);
    if (status && status.status !== 'pending') return status;
    await sleep(300);
  }
  throw new Error(`no receipt for ${hash} within a minute`);
}

/** A message area that screen readers hear (`role=status`, or `alert` for errors). */
export function notice() {
  const el = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    info(text) {
      el.className = 'notice';
      el.setAttribute('role', 'status');
      el.dataset.outcome = 'info';
      el.textContent = text;
    },
    ok(text) {
      el.className = 'notice ok';
      el.setAttribute('role', 'status');
      el.dataset.outcome = 'ok';
      el.textContent = text;
    },
    error(error) {
      el.className = 'notice error';
      el.setAttribute('role', 'alert');
      el.dataset.outcome = 'error';
      el.textContent = describe(error);
    },
    clear() {
      el.textContent = '';
      delete el.dataset.outcome;
    },
  };
}

/** A person's text for an error. */
export function describe(error) {
  if (error instanceof ApiError && error.status === 403 && error.code === 'forbidden') return t('error.forbidden');
  return t('error.generic', { message: error.message ?? String(error) });
}

/** The outcome of a receipt as text, or throws the ledger's reason. */
export function checkReceipt(receipt) {
  if (receipt.status !== 'ok') {
    throw new Error(t('tx.rejected_because', { reason: `${receipt.reason ?? ''} ${receipt.detail ?? ''}`.trim() }));
  }
  return receipt;
}

/** A UTC time from Unix milliseconds. */
export function time(ms) {
  if (!ms) return '—';
  return new Date(Number(ms)).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

/** A long hex value, shortened for a table cell (the full value in its title). */
export function shortHex(hex) {
  return h('code', { title: hex }, hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex);
}

/** A labelled form field. */
export function field(label, attrs) {
  const id = attrs.id ?? `f-${Math.random().toString(36).slice(2)}`;
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { ...attrs, id }));
}

/**
 * A table read a page at a time from the server: `columns` = [{key, label, sort?, cell?}],
 * `load({sort, order, offset, limit, ...filters})` resolves to `{rows, total}`. Filters come
 * from `controls` (elements with `name`); changing one reloads from the first page.
 */
export function serverTable({ caption, columns, load, controls = [], limit = 20, initialSort, testid }) {
  const state = { sort: initialSort?.sort, order: initialSort?.order ?? 'asc', offset: 0 };
  const tbody = h('tbody');
  const pager = h('p', { class: 'pager-text', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary' }, t('table.prev'));
  const next = h('button', { type: 'button', class: 'secondary' }, t('table.next'));
  const headRow = h('tr');
  const error = notice();
  const table = h('table', { 'data-testid': testid }, h('caption', {}, caption), h('thead', {}, headRow), tbody);

  function filters() {
    const out = {};
    for (const control of controls) {
      for (const input of control.querySelectorAll?.('[name]') ?? []) out[input.name] = input.value;
      if (control.name) out[control.name] = control.value;
    }
    return out;
  }

  function drawHead() {
    headRow.replaceChildren(
      ...columns.map((c) => {
        if (!c.sort) return h('th', { scope: 'col' }, c.label);
        const active = state.sort === c.sort;
        return h(
          'th',
          { scope: 'col', 'aria-sort': active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none' },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              'aria-label': t('table.sort_by', { column: c.label }),
              onclick: () => {
                state.order = active && state.order === 'asc' ? 'desc' : 'asc';
                state.sort = c.sort;
                state.offset = 0;
                reload();
              },
            },
            c.label,
            h('span', { 'aria-hidden': 'true' }, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : ' ↕'),
          ),
        );
      }),
    );
  }

  async function reload() {
    drawHead();
    error.clear();
    try {
      const page = await load({ ...filters(), sort: state.sort, order: state.order, offset: state.offset, limit });
      tbody.replaceChildren(
        ...(page.rows.length
          ? page.rows.map((row) => h('tr', {}, columns.map((c) => h('td', { 'data-label': c.label }, c.cell ? c.cell(row) : row[c.key] ?? '—'))))
          : [h('tr', {}, h('td', { colspan: columns.length }, t('table.empty')))]),
      );
      const to = Math.min(state.offset + page.rows.length, page.total);
      pager.textContent = t('table.page', { from: page.total ? state.offset + 1 : 0, to, total: page.total });
      prev.disabled = state.offset === 0;
      next.disabled = to >= page.total;
      table.dataset.total = page.total;
      table.dataset.loaded = String(Date.now());
    } catch (e) {
      error.error(e);
    }
  }

  prev.addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - limit);
    reload();
  });
  next.addEventListener('click', () => {
    state.offset += limit;
    reload();
  });
  let timer;
  for (const control of controls) {
    control.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state.offset = 0;
        reload();
      }, 250);
    });
  }
  const el = h('div', { class: 'table-block' }, error.el, h('div', { class: 'table-wrap' }, table), h('div', { class: 'pager' }, prev, pager, next));
  reload();
  return { el, reload };
}
