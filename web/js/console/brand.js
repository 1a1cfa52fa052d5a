// The brand's screens: dashboard (scans per day, verdicts by province on a map with a table of
// regions, live alerts), products (with photo and video upload), batches (issue with progress, void codes),
// channels (authorise with a territory, revoke), a code's full history, and recalls.
// Signed API reads go through `/console/api/signed/…`, which the node signs with the user's key.

import { renderSVG } from 'uqr';
import { drawScanMap, OUTCOMES, OUTSIDE } from '../map.js';
import { brandPayload, codeId, fromHex, parseCodeUrl } from '../tx.js';
import { currentLanguage, t } from './i18n.js';
import { api, checkReceipt, field, h, notice, query, sendTransaction, serverTable, session, shortHex, time } from './ui.js';

/** Most codes one console batch issues; bigger batches are issued with `jitrace codes issue`. */
export const MAX_CONSOLE_BATCH = 100_000;

/** Regions a territory is picked from (ISO 3166-2); others can be typed. */
export const REGIONS = ['CN', 'CN-BJ', 'CN-SH', 'CN-TJ', 'CN-CQ', 'CN-GD', 'CN-ZJ', 'CN-JS', 'CN-SC', 'CN-HB', 'CN-FJ', 'CN-SD', 'CN-NX', 'HK', 'MO', 'SG'];

const signed = (path, params = {}) => api('GET', `/console/api/signed/${path}${query(params)}`);
const org = () => session.current.org;
const day = (ms) => new Date(ms).toISOString().slice(0, 10);
const enc = encodeURIComponent;

function heading(main, key) {
  main.append(h('h1', {}, t(key)));
}

/** A form that sends one transaction per submit and reports its outcome. */
function txForm({ testid, title, fields, build, done, progress }) {
  const message = notice();
  const submit = h('button', { type: 'submit' }, t('brand.send'));
  const form = h(
    'form',
    {
      class: 'card',
      'data-testid': testid,
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        try {
          const payload = await build(new FormData(form), message);
          if (progress) progress.value = 1;
          const receipt = checkReceipt(
            await sendTransaction(payload, (text) => {
              message.info(text);
              if (progress) progress.value = 2;
            }),
          );
          if (progress) progress.value = 3;
          message.ok(t('brand.done', { height: receipt.height }));
          message.el.append(' ', h('code', { 'data-tx': receipt.hash }, receipt.hash.slice(0, 12)));
          done?.(receipt);
        } catch (e) {
          if (progress) progress.value = 0;
          message.error(e);
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h2', {}, title),
    fields,
    progress ? h('div', { class: 'field' }, h('label', { for: progress.id }, t('brand.progress')), progress) : null,
    submit,
    message.el,
  );
  return form;
}

function input(label, name, attrs = {}) {
  return field(label, { name, id: `f-${name}-${Math.random().toString(36).slice(2, 7)}`, ...attrs });
}

function select(label, name, options, attrs = {}) {
  const id = `s-${name}-${Math.random().toString(36).slice(2, 7)}`;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, name, ...attrs }, options.map(([value, text]) => h('option', { value }, text))),
  );
}

// ---------------------------------------------------------------------------------------------
// Dashboard

/** The analytics rows as cells: `{lat, lon, outcome, count}` per ~5 km cell and outcome. */
function scanCells(rows) {
  const cells = new Map();
  for (const r of rows) {
    const key = `${r.cell_lat_micro},${r.cell_lon_micro},${r.outcome}`;
    const cell = cells.get(key) ?? { lat: r.cell_lat_micro / 1e6, lon: r.cell_lon_micro / 1e6, outcome: r.outcome, count: 0 };
    cell.count += r.count;
    cells.set(key, cell);
  }
  return [...cells.values()];
}

function regionName(region) {
  if (region.code === OUTSIDE) return t('dash.outside');
  return currentLanguage() === 'zh' ? region.zh : region.en;
}

/** A region's scans in words: its name, total and count per outcome. */
function describeRegion(region) {
  const outcomes = OUTCOMES.map((o) => `${t(`verdict.${o}`)} ${region.counts[o]}`).join(', ');
  return t('dash.region_scans', { region: regionName(region), total: region.total, outcomes });
}

/** The verdicts map (provinces shaded by scans, dots by outcome) and its text alternative, a
 * table of regions with their counts per outcome. */
async function scanMap(rows) {
  const { svg, regions } = await drawScanMap(scanCells(rows), { label: t('dash.map_label'), describe: describeRegion });
  const table = h(
    'table',
    { class: 'regions', 'data-testid': 'regions' },
    h('caption', {}, t('dash.regions')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('dash.region')), OUTCOMES.map((o) => h('th', { scope: 'col' }, t(`verdict.${o}`))), h('th', { scope: 'col' }, t('dash.total')))),
    h(
      'tbody',
      {},
      regions.map((r) =>
        h(
          'tr',
          { 'data-region': r.code, 'data-total': r.total },
          h('th', { scope: 'row' }, regionName(r)),
          OUTCOMES.map((o) => h('td', { 'data-outcome': o }, String(r.counts[o]))),
          h('td', {}, String(r.total)),
        ),
      ),
    ),
  );
  // Focusing a province on the map marks its row.
  svg.addEventListener('focusin', (e) => table.querySelector(`tr[data-region="${e.target.dataset?.region}"]`)?.classList.add('active'));
  svg.addEventListener('focusout', (e) => table.querySelector(`tr[data-region="${e.target.dataset?.region}"]`)?.classList.remove('active'));
  const legend = h('ul', { class: 'map-legend' }, OUTCOMES.map((o) => h('li', {}, h('span', { class: `swatch ${o}`, 'aria-hidden': 'true' }), t(`verdict.${o}`))));
  return [svg, legend, h('div', { class: 'table-wrap' }, table)];
}

function alertItem(alert) {
  const place = [alert.city, alert.region].filter(Boolean).join(', ');
  return h(
    'li',
    { class: `alert ${alert.kind}`, 'data-kind': alert.kind, 'data-seq': alert.seq },
    h('strong', {}, t(`alert.${alert.kind}`)),
    ' ',
    h('a', { href: `#/history/${alert.gtin}/${alert.serial}` }, `${alert.gtin} / ${alert.serial}`),
    place ? ` · ${place}` : '',
    ' · ',
    time(alert.time_ms),
  );
}

function dashboard(main) {
  heading(main, 'nav.dashboard');
  const now = Date.now();
  const from = day(now - 29 * 86_400_000);
  const to = day(now);
  const totals = h('dl', { class: 'facts', 'data-testid': 'verdict-totals' });
  const days = h('ol', { class: 'bars', 'aria-label': t('dash.per_day') });
  const mapBox = h('div', { class: 'map-box' });
  const status = notice();
  main.append(
    h(
      'div',
      { class: 'grid2' },
      h('section', { class: 'card' }, h('h2', {}, t('dash.scans', { from, to })), totals, days, status.el),
      h('section', { class: 'card' }, h('h2', {}, t('dash.map')), mapBox, h('p', { class: 'muted' }, t('dash.map_note'))),
    ),
  );
  (async () => {
    try {
      const rows = [];
      let after;
      // At most five pages (5,000 counters) for the dashboard; analytics exports page further.
      for (let i = 0; i < 5; i++) {
        const page = await signed('analytics/scans', { brand: org(), from, to, after });
        rows.push(...page.rows);
        if (!page.next) break;
        after = page.next;
      }
      const byOutcome = {};
      const byDay = {};
      for (const r of rows) {
        byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + r.count;
        byDay[r.day] = (byDay[r.day] ?? 0) + r.count;
      }
      totals.replaceChildren(
        ...['genuine', 'warning', 'counterfeit'].flatMap((o) => [h('dt', {}, t(`verdict.${o}`)), h('dd', { 'data-outcome-count': o }, String(byOutcome[o] ?? 0))]),
      );
      const max = Math.max(1, ...Object.values(byDay));
      days.replaceChildren(
        ...Object.entries(byDay)
          .sort()
          .map(([d, n]) => h('li', {}, h('span', { class: 'bar-label' }, d), h('span', { class: 'bar', style: null, dataset: { n } }, h('meter', { min: 0, max, value: n, 'aria-label': d }), ` ${n}`))),
      );
      if (!rows.length) status.info(t('dash.no_scans'));
      mapBox.replaceChildren(...(await scanMap(rows)));
    } catch (e) {
      status.error(e);
    }
  })();

  // Live alerts: the backlog, then each new one as it happens.
  const list = h('ol', { class: 'alerts', 'data-testid': 'alerts', reversed: true });
  const live = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite', 'data-testid': 'alerts-state' }, t('dash.connecting'));
  main.append(h('section', { class: 'card' }, h('h2', {}, t('dash.alerts')), live, list));
  const source = new EventSource(`/console/api/signed/alerts/stream${query({ brand: org() })}`);
  source.addEventListener('open', () => {
    live.textContent = t('dash.live');
    live.dataset.state = 'live';
  });
  source.addEventListener('error', () => {
    live.textContent = t('dash.reconnecting');
    live.dataset.state = 'reconnecting';
  });
  source.addEventListener('alert', (event) => {
    list.prepend(alertItem(JSON.parse(event.data)));
    while (list.children.length > 100) list.lastChild.remove();
  });
  return () => source.close();
}

// ---------------------------------------------------------------------------------------------
// Products

async function orgView() {
  return api('GET', `/v1/orgs/${enc(org())}`);
}

async function uploadMedia(file) {
  const s = session.current;
  const response = await fetch('/console/api/media', {
    method: 'POST',
    headers: { 'content-type': file.type || 'application/octet-stream', 'x-csrf-token': s.csrf, accept: 'application/json' },
    body: file,
    credentials: 'same-origin',
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error?.message ?? response.statusText);
  return data;
}

function parseAttributes(text) {
  return String(text)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const at = line.indexOf('=');
      if (at < 1) throw new Error(t('products.bad_attribute', { line }));
      return { name: line.slice(0, at).trim(), value: line.slice(at + 1).trim() };
    });
}

function products(main, params) {
  heading(main, 'nav.products');
  let editing = null;
  const gtinInput = input(t('products.gtin'), 'gtin', { required: true, inputmode: 'numeric', pattern: '\\d{14}', autocomplete: 'off' });
  const nameInput = input(t('products.name'), 'name', { required: true });
  const description = h('textarea', { id: 'p-description', name: 'description', rows: 3 });
  const attributes = h('textarea', { id: 'p-attributes', name: 'attributes', rows: 3, placeholder: 'volume_ml=750' });
  const file = h('input', { id: 'p-file', name: 'file', type: 'file', accept: 'image/png,image/jpeg,image/webp,image/svg+xml,video/mp4,video/webm' });
  const caption = input(t('products.caption'), 'caption');
  const title = h('span', {}, t('products.new'));
  const productFilter = h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'product-filter' }, t('products.filter')), h('input', { id: 'product-filter', name: 'q', type: 'search' })));
  const table = serverTable({
    caption: t('products.title'),
    testid: 'products',
    columns: [
      { key: 'gtin', label: t('products.gtin'), sort: 'gtin', cell: (p) => h('code', {}, p.gtin) },
      { key: 'name', label: t('products.name'), sort: 'name' },
      { key: 'codes_issued', label: t('products.codes'), sort: 'codes' },
      { key: 'media', label: t('products.media'), cell: (p) => (p.media.length ? p.media.map((m) => h('a', { href: `/v1/media/${m.hash}`, target: '_blank', rel: 'noopener' }, m.caption || m.mime)) : '—') },
      {
        key: 'edit',
        label: t('products.actions'),
        cell: (p) =>
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              'data-edit': p.gtin,
              onclick: () => {
                editing = p;
                title.textContent = t('products.edit', { gtin: p.gtin });
                const f = form.elements;
                f.gtin.value = p.gtin;
                f.gtin.readOnly = true;
                f.name.value = p.name;
                f.description.value = p.description;
                f.attributes.value = p.attributes.map((a) => `${a.name}=${a.value}`).join('\n');
                f.name.focus();
              },
            },
            t('products.edit_button'),
          ),
      },
    ],
    // The node pages, sorts and filters the organisation's products; only a page comes back.
    load: (params) => api('GET', `/console/api/products${query(params)}`),
    controls: [productFilter],
  });
  const form = txForm({
    testid: 'product-form',
    title,
    fields: [
      gtinInput,
      nameInput,
      h('div', { class: 'field' }, h('label', { for: 'p-description' }, t('products.description')), description),
      h('div', { class: 'field' }, h('label', { for: 'p-attributes' }, t('products.attributes')), attributes),
      h('div', { class: 'field' }, h('label', { for: 'p-file' }, t('products.file')), file),
      caption,
    ],
    build: async (data, message) => {
      const media = editing ? editing.media.map((m) => ({ hash: m.hash, mime: m.mime, size: m.size, caption: m.caption })) : [];
      const chosen = file.files?.[0];
      if (chosen) {
        message.info(t('products.uploading'));
        const stored = await uploadMedia(chosen);
        media.push({ hash: stored.hash, mime: stored.mime, size: stored.size, caption: String(data.get('caption') || chosen.name).slice(0, 100) });
      }
      const info = {
        gtin: String(data.get('gtin')).trim(),
        org: org(),
        name: String(data.get('name')).trim(),
        description: String(data.get('description')).trim(),
        attributes: parseAttributes(data.get('attributes')),
        media,
      };
      return editing ? brandPayload.updateProduct(info) : brandPayload.registerProduct(info);
    },
    done: () => {
      editing = null;
      title.textContent = t('products.new');
      form.reset();
      form.elements.gtin.readOnly = false;
      table.reload();
    },
  });
  main.append(h('div', { class: 'grid2' }, form, h('div', {}, productFilter, table.el)));
  if (params[0]) form.elements.gtin.value = params[0];
}

// ---------------------------------------------------------------------------------------------
// Batches

async function batches(main, params) {
  heading(main, 'nav.batches');
  const view = await orgView().catch(() => null);
  if (!view) {
    main.append(h('p', {}, t('overview.missing')));
    return;
  }
  // The product named in the route, else the first registered; any other is found by search.
  const firstProduct = params[0] ? null : await api('GET', `/console/api/products${query({ limit: 1 })}`).catch(() => null);
  const chosen = params[0] ?? firstProduct?.rows[0]?.gtin;
  main.append(h('div', { class: 'filters' }, productPicker(chosen, (gtin) => (location.hash = `#/batches/${gtin}`))));
  if (!chosen) {
    main.append(h('p', {}, t('batches.no_products')));
    return;
  }
  const sealedKey = session.current.code_key;
  const batchFilter = h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'batch-filter' }, t('batches.filter')), h('input', { id: 'batch-filter', name: 'q', type: 'search' })));
  const table = serverTable({
    caption: t('batches.title', { gtin: chosen }),
    testid: 'batches',
    columns: [
      { key: 'lot', label: t('batches.lot'), sort: 'lot', cell: (b) => h('code', {}, b.lot) },
      { key: 'first_serial', label: t('batches.serials'), sort: 'serial', cell: (b) => `${b.first_serial} – ${b.first_serial + b.count - 1}` },
      { key: 'count', label: t('batches.count'), sort: 'count' },
      { key: 'licence', label: t('batches.licence') },
      { key: 'code_key', label: t('batches.code_key'), cell: (b) => shortHex(b.code_key) },
      { key: 'issued_time_ms', label: t('batches.issued'), sort: 'issued', cell: (b) => time(b.issued_time_ms) },
      {
        key: 'labels',
        label: t('batches.labels'),
        cell: (b) =>
          b.code_key === sealedKey
            ? h(
                'span',
                { class: 'links' },
                h('a', { href: `/console/api/labels/${chosen}/${enc(b.lot)}.csv`, download: `${chosen}-${b.lot}.csv`, 'data-labels': b.lot }, t('batches.labels_csv')),
                ' · ',
                h('a', { href: `#/labels/${chosen}/${enc(b.lot)}/0`, 'data-sheet': b.lot }, t('batches.labels_sheet')),
                ' · ',
                pdfLinks(chosen, b),
              )
            : h('span', { class: 'muted', title: t('batches.labels_cli') }, '—'),
      },
    ],
    load: (params) => api('GET', `/console/api/products/${enc(chosen)}/batches${query(params)}`),
    controls: [batchFilter],
  });
  // The next free serial: one past the highest batch's last (serial ranges never overlap).
  const nextSerial = async () => {
    const last = await api('GET', `/console/api/products/${enc(chosen)}/batches${query({ sort: 'serial', order: 'desc', limit: 1 })}`);
    return last.rows.reduce((n, b) => Math.max(n, b.first_serial + b.count), 1);
  };
  // The key sealed for this user first: its batches' labels can be downloaded here.
  const keys = view.code_keys.filter((k) => !k.revoked).sort((a, b) => (b.key === session.current.code_key) - (a.key === session.current.code_key));
  const progress = h('progress', { id: 'issue-progress', max: 3, value: 0 });
  const first = input(t('batches.first'), 'first', { type: 'number', min: 0, required: true });
  nextSerial().then((n) => (first.querySelector('input').value = String(n)));
  const issue = txForm({
    testid: 'issue-batch',
    title: t('batches.issue'),
    progress,
    fields: [
      select(t('batches.licence'), 'licence', view.licences.map((l) => [l, l])),
      input(t('batches.lot'), 'lot', { required: true, maxlength: 20 }),
      first,
      input(t('batches.count'), 'count', { type: 'number', min: 1, max: MAX_CONSOLE_BATCH, required: true }),
      keys.length ? select(t('batches.code_key'), 'code_key', keys.map((k) => [k.key, `${k.key.slice(0, 12)}…`])) : h('p', { class: 'notice error' }, t('batches.no_code_key')),
      h('p', { class: 'muted' }, t('batches.cap', { max: MAX_CONSOLE_BATCH.toLocaleString(currentLanguage() === 'zh' ? 'zh-CN' : 'en') })),
    ],
    build: (data) => {
      const count = Number(data.get('count'));
      if (!(count >= 1 && count <= MAX_CONSOLE_BATCH)) throw new Error(t('batches.too_many', { max: MAX_CONSOLE_BATCH }));
      return brandPayload.issueCodeBatch({
        org: org(),
        licence: String(data.get('licence')),
        gtin: chosen,
        lot: String(data.get('lot')).trim(),
        firstSerial: BigInt(data.get('first')),
        count,
        codeKey: fromHex(String(data.get('code_key'))),
      });
    },
    done: () => table.reload(),
  });
  const voids = txForm({
    testid: 'void-codes',
    title: t('batches.void'),
    fields: [
      input(t('batches.first'), 'first', { type: 'number', min: 0, required: true }),
      input(t('batches.count'), 'count', { type: 'number', min: 1, required: true }),
      input(t('batches.reason'), 'reason', { required: true }),
    ],
    build: (data) =>
      brandPayload.voidCodes({ org: org(), gtin: chosen, firstSerial: BigInt(data.get('first')), count: BigInt(data.get('count')), reason: String(data.get('reason')).trim() }),
  });
  main.append(batchFilter, table.el, h('div', { class: 'grid2' }, issue, voids), h('p', { class: 'muted' }, t('batches.labels_cli')));
  if (!session.current.code_key && session.current.role === 'admin') main.append(codeKeyForm(() => (main.replaceChildren(), batches(main, params))));
}

/** Most labels one PDF from the node holds (`MAX_PDF_LABELS` in console/labels.rs). */
export const MAX_PDF_LABELS = 10_000;

/** Download links of a batch's label PDFs (A4 sheets and roll labels), in parts of at most
 * MAX_PDF_LABELS labels. */
function pdfLinks(gtin, batch) {
  const link = (layout, offset, limit) =>
    h(
      'a',
      {
        href: `/console/api/labels/${gtin}/${enc(batch.lot)}.pdf${query({ layout, offset, limit })}`,
        download: `${gtin}-${batch.lot}-${layout}-${offset + 1}.pdf`,
        'data-pdf': `${batch.lot}/${layout}/${offset}`,
      },
      t(`batches.labels_pdf_${layout}`),
    );
  const pair = (offset, limit) => [link('a4', offset, limit), ' · ', link('roll', offset, limit)];
  if (batch.count <= MAX_PDF_LABELS) return h('span', {}, pair(0, batch.count));
  const parts = [];
  for (let offset = 0; offset < batch.count; offset += MAX_PDF_LABELS) {
    const limit = Math.min(MAX_PDF_LABELS, batch.count - offset);
    parts.push(h('li', {}, `${batch.first_serial + offset} – ${batch.first_serial + offset + limit - 1}: `, pair(offset, limit)));
  }
  return h('details', { class: 'pdf-parts' }, h('summary', {}, t('batches.labels_pdf_parts', { n: parts.length, max: MAX_PDF_LABELS })), h('ul', {}, parts));
}

/**
 * A combobox (ARIA 1.2: an input with a listbox popup) of the organisation's products, searched
 * on the node by GTIN digits or name as the user types, so any of thousands can be picked.
 * Arrow keys move through the options, Enter picks one (or a typed GTIN), Escape closes.
 */
function productPicker(chosen, pick) {
  const listId = 'product-options';
  const input = h('input', {
    id: 'product-search',
    type: 'search',
    role: 'combobox',
    autocomplete: 'off',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
    'aria-describedby': 'product-search-hint',
    placeholder: t('batches.product_hint'),
    value: chosen ?? '',
  });
  const list = h('ul', { id: listId, role: 'listbox', class: 'combo-list', hidden: true, 'aria-label': t('batches.product') });
  const hint = h('p', { id: 'product-search-hint', class: 'muted', role: 'status', 'aria-live': 'polite' });
  let rows = [];
  let active = -1;
  let asked = 0;
  let timer;
  const open = (on) => {
    list.hidden = !on;
    input.setAttribute('aria-expanded', String(on));
    if (!on) input.removeAttribute('aria-activedescendant');
  };
  const highlight = (i) => {
    active = i;
    [...list.children].forEach((li, n) => li.setAttribute('aria-selected', String(n === i)));
    const el = list.children[i];
    if (el) {
      input.setAttribute('aria-activedescendant', el.id);
      el.scrollIntoView({ block: 'nearest' });
    }
  };
  const choose = (gtin) => {
    open(false);
    input.value = gtin;
    pick(gtin);
  };
  const search = async () => {
    const mine = ++asked;
    try {
      const page = await api('GET', `/console/api/products${query({ q: input.value.trim(), sort: 'gtin', limit: 20 })}`);
      if (mine !== asked) return;
      rows = page.rows;
      list.replaceChildren(
        ...rows.map((p, i) =>
          h(
            'li',
            { id: `${listId}-${i}`, role: 'option', 'aria-selected': 'false', 'data-gtin': p.gtin, onmousedown: (e) => e.preventDefault(), onclick: () => choose(p.gtin) },
            h('code', {}, p.gtin),
            ` ${p.name}`,
          ),
        ),
      );
      active = -1;
      hint.textContent = t('batches.product_found', { shown: rows.length, total: page.total });
      open(rows.length > 0 && document.activeElement === input);
    } catch (e) {
      if (mine === asked) hint.textContent = String(e.message ?? e);
    }
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  input.addEventListener('focus', () => {
    if (!rows.length) search();
  });
  input.addEventListener('blur', () => open(false));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (list.hidden && rows.length) open(true);
      if (!rows.length) return;
      const step = e.key === 'ArrowDown' ? 1 : -1;
      highlight((active + step + rows.length) % rows.length);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const typed = input.value.trim();
      if (!list.hidden && rows[active]) choose(rows[active].gtin);
      else if (/^\d{8,14}$/.test(typed)) choose(typed);
      else if (rows.length === 1) choose(rows[0].gtin);
    } else if (e.key === 'Escape') {
      open(false);
    }
  });
  return h('div', { class: 'field combo', 'data-testid': 'product-picker' }, h('label', { for: 'product-search' }, t('batches.product')), input, list, hint);
}

/** Makes a code-signing key sealed for this user (their password) and registers it. */
function codeKeyForm(done) {
  const message = notice();
  const password = h('input', { id: 'code-key-password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, t('codekey.create'));
  return h(
    'form',
    {
      class: 'card',
      'data-testid': 'code-key',
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        try {
          const { code_key: key } = await api('POST', '/console/api/code-key', { password: password.value });
          password.value = '';
          session.current.code_key = key;
          checkReceipt(await sendTransaction(brandPayload.registerCodeKey(org(), fromHex(key)), (text) => message.info(text)));
          done();
        } catch (err) {
          message.error(err);
          submit.disabled = false;
        }
      },
    },
    h('h2', {}, t('codekey.title')),
    h('p', { class: 'muted' }, t('codekey.intro')),
    h('div', { class: 'field' }, h('label', { for: 'code-key-password' }, t('signin.password')), password),
    submit,
    message.el,
  );
}

/** Labels a printable sheet shows: a page of an A4 print. */
const SHEET = 60;

/** A printable sheet of a batch's labels (QR code, GTIN, serial, lot), a page at a time. */
async function labelSheet(main, [gtin, lot, page = '0']) {
  const offset = Math.max(0, Number(page) || 0) * SHEET;
  main.append(h('h1', { class: 'no-print' }, t('labels.title', { gtin, lot })));
  const sheet = h('div', { class: 'label-sheet', 'data-testid': 'label-sheet' });
  const status = notice();
  const nav = h('p', { class: 'no-print pager' });
  main.append(nav, status.el, sheet);
  try {
    const response = await fetch(`/console/api/labels/${gtin}/${enc(lot)}.csv${query({ offset, limit: SHEET })}`, { credentials: 'same-origin' });
    if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error?.message ?? response.statusText);
    const rows = (await response.text()).trim().split('\n').slice(1);
    sheet.replaceChildren(
      ...rows.map((line) => {
        const [, serial, , uri] = line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/);
        const svg = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(renderSVG(uri, { border: 1 }))}`;
        return h('figure', { class: 'label' }, h('img', { src: svg, alt: uri, width: 96, height: 96 }), h('figcaption', {}, h('span', {}, `(01) ${gtin}`), h('span', {}, `(21) ${serial}`), h('span', {}, `(10) ${lot}`)));
      }),
    );
    const pageNo = offset / SHEET;
    nav.replaceChildren(
      pageNo > 0 ? h('a', { href: `#/labels/${gtin}/${enc(lot)}/${pageNo - 1}` }, t('table.prev')) : '',
      ` ${t('labels.page', { from: offset + 1, to: offset + rows.length })} `,
      rows.length === SHEET ? h('a', { href: `#/labels/${gtin}/${enc(lot)}/${pageNo + 1}` }, t('table.next')) : '',
      ' ',
      h('button', { type: 'button', onclick: () => window.print() }, t('labels.print')),
    );
  } catch (e) {
    status.error(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Channels

function territoryPicker() {
  const chosen = new Set();
  const free = h('input', { id: 'territory-more', name: 'territory_more', placeholder: 'CN-HE, CN-AH' });
  const boxes = REGIONS.map((r) =>
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', value: r, name: 'territory', onchange: (e) => (e.target.checked ? chosen.add(r) : chosen.delete(r)) }),
      ` ${t(`region.${r}`)} (${r})`,
    ),
  );
  return h(
    'fieldset',
    { class: 'territory' },
    h('legend', {}, t('channels.territory')),
    h('div', { class: 'checks' }, boxes),
    h('div', { class: 'field' }, h('label', { for: 'territory-more' }, t('channels.territory_more')), free),
  );
}

function channels(main) {
  heading(main, 'nav.channels');
  const table = serverTable({
    caption: t('channels.title'),
    testid: 'channels',
    columns: [
      { key: 'channel', label: t('channels.channel'), cell: (c) => h('span', {}, h('code', {}, c.channel), c.name ? ` ${c.name}` : '') },
      {
        key: 'grants',
        label: t('channels.grants'),
        cell: (c) =>
          h(
            'ul',
            { class: 'grants' },
            c.grants.map((g) =>
              h(
                'li',
                { 'data-grant': `${c.channel}/${g.grant}`, 'data-in-force': String(g.in_force) },
                `#${g.grant} ${t(`role.${g.role}`)} · ${g.territory.join(', ')} · ${g.products.length ? g.products.join(', ') : t('channels.all_products')} · `,
                g.revoked ? h('em', {}, t('channels.revoked', { reason: g.revoked })) : g.in_force ? t('channels.in_force') : t('channels.not_in_force'),
                ' ',
                g.revoked
                  ? null
                  : h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary',
                        'data-revoke': `${c.channel}/${g.grant}`,
                        onclick: async (e) => {
                          const reason = prompt(t('channels.revoke_reason'));
                          if (!reason) return;
                          e.target.disabled = true;
                          try {
                            checkReceipt(await sendTransaction(brandPayload.revokeChannel({ brand: org(), channel: c.channel, grant: g.grant, reason })));
                            table.reload();
                          } catch (err) {
                            e.target.disabled = false;
                            alert(err.message);
                          }
                        },
                      },
                      t('channels.revoke'),
                    ),
              ),
            ),
          ),
      },
    ],
    load: ({ offset, limit }) => api('GET', `/console/api/channels${query({ offset, limit })}`),
  });
  const form = txForm({
    testid: 'authorise-channel',
    title: t('channels.authorise'),
    fields: [
      input(t('channels.channel'), 'channel', { required: true, autocomplete: 'off' }),
      select(t('channels.role'), 'role', ['distributor', 'retailer', 'logistics'].map((r) => [r, t(`role.${r}`)])),
      input(t('channels.products'), 'products', { placeholder: '09506000134352' }),
      territoryPicker(),
      h(
        'fieldset',
        {},
        h('legend', {}, t('channels.geofence')),
        input(t('channels.lat'), 'lat', { type: 'number', step: 'any', min: -90, max: 90 }),
        input(t('channels.lon'), 'lon', { type: 'number', step: 'any', min: -180, max: 180 }),
        input(t('channels.radius'), 'radius', { type: 'number', min: 1, max: 2000 }),
      ),
      input(t('channels.days'), 'days', { type: 'number', min: 1, max: 3650, value: 365, required: true }),
    ],
    build: (data) => {
      const territory = [...data.getAll('territory').map(String), ...String(data.get('territory_more') ?? '').split(/[,\s]+/).filter(Boolean)];
      if (!territory.length) throw new Error(t('channels.need_territory'));
      const lat = data.get('lat');
      const lon = data.get('lon');
      const radius = data.get('radius');
      const geofence = lat && lon && radius ? { centre: { latMicro: Math.round(Number(lat) * 1e6), lonMicro: Math.round(Number(lon) * 1e6) }, radiusM: Math.round(Number(radius) * 1000) } : null;
      const now = Math.floor(Date.now() / 1000) - 60;
      return brandPayload.authoriseChannel({
        brand: org(),
        channel: String(data.get('channel')).trim(),
        role: String(data.get('role')),
        products: String(data.get('products') ?? '')
          .split(/[,\s]+/)
          .filter(Boolean)
          .sort(),
        territory: [...new Set(territory)].sort(),
        geofence,
        validFrom: now,
        validUntil: now + Number(data.get('days')) * 86_400,
      });
    },
    done: () => table.reload(),
  });
  main.append(h('div', { class: 'grid2' }, form, table.el));
}

// ---------------------------------------------------------------------------------------------
// A code's history

function history(main, params) {
  heading(main, 'nav.history');
  const result = h('div', { 'data-testid': 'history' });
  const message = notice();
  const code = h('input', { id: 'history-code', name: 'code', required: true, placeholder: 'https://…/01/09506000134352/21/1?8030=… · 09506000134352/1', autocomplete: 'off' });
  async function show(gtin, serial) {
    message.info(t('common.loading'));
    try {
      const page = await signed(`codes/${gtin}/${serial}/events`);
      message.clear();
      result.replaceChildren(
        h('p', {}, t('history.summary', { gtin: page.gtin, serial: page.serial, count: page.event_count, view: t(`history.view_${page.view}`) })),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h('caption', {}, t('history.title')),
            h('thead', {}, h('tr', {}, ['#', t('history.event'), t('history.org'), t('history.place'), t('history.time'), t('history.tx')].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              {},
              page.events.map((e) =>
                h(
                  'tr',
                  { 'data-event': e.event },
                  h('td', {}, String(e.index)),
                  h('td', {}, e.event, e.disposition ? ` → ${e.disposition}` : ''),
                  h('td', {}, e.org_name ?? e.org ?? '—', e.counterparty ? ` → ${e.counterparty}` : ''),
                  h('td', {}, [e.place?.city, e.place?.region].filter(Boolean).join(', ') || '—'),
                  h('td', {}, time(e.time_ms)),
                  h('td', {}, e.tx ? shortHex(e.tx) : '—'),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (e) {
      message.error(e);
    }
  }
  const form = h(
    'form',
    {
      class: 'card',
      onsubmit: (e) => {
        e.preventDefault();
        const text = code.value.trim();
        const parsed = parseCodeUrl(text);
        const [gtin, serial] = parsed ? [parsed.gtin, String(parsed.serial)] : text.split(/[/\s]+/);
        try {
          codeId(gtin ?? '', serial ?? '');
        } catch {
          message.error(new Error(t('history.bad_code')));
          return;
        }
        location.hash = `#/history/${gtin}/${serial}`;
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'history-code' }, t('history.code')), code),
    h('button', { type: 'submit' }, t('history.show')),
    message.el,
  );
  main.append(form, result);
  if (params.length >= 2) {
    code.value = `${params[0]}/${params[1]}`;
    show(params[0], params[1]);
  }
}

/** Registers the brand's screens. */
export function registerBrandScreens(registerScreen) {
  const roles = ['brand'];
  registerScreen({ id: 'dashboard', nav: 'nav.dashboard', roles, render: dashboard });
  registerScreen({ id: 'products', nav: 'nav.products', roles, render: products });
  registerScreen({ id: 'batches', nav: 'nav.batches', roles, render: batches });
  registerScreen({ id: 'labels', nav: 'nav.labels', roles, hidden: true, render: labelSheet });
  registerScreen({ id: 'channels', nav: 'nav.channels', roles, render: channels });
  registerScreen({ id: 'history', nav: 'nav.history', roles: ['brand', 'distributor', 'retailer', 'logistics'], render: history });
}
