// The manufacturer's and supplier's screens: supplier authorisations with their
// specifications, the receiving gate, assembly, traces backward (a tree) and forward (a list
// with where each item is now), recalls with their progress, and a supplier's lot records.
// Reads go to /console/api/b2b/… (the node pages them); writes are transactions signed by the
// user's key through `sendTransaction`, so the ledger decides every rule.

import { cameraAvailable, startCamera } from '../camera.js';
import { codeId, fromHex } from '../tx.js';
import { parsePrinted, partsPayload } from '../tx-parts.js';
import { t } from './i18n.js';
import { api, checkReceipt, field, h, notice, query, sendTransaction, serverTable, session, time } from './ui.js';

const MAKERS = ['manufacturer'];
const B2B = ['manufacturer', 'supplier'];

const heading = (main, key, params) => main.append(h('h1', {}, t(key, params)));
const may = (kind) => session.current.may_send.includes(kind);
const isMaker = () => session.current.org_roles.includes('manufacturer');
const nowS = () => Math.floor(Date.now() / 1000);

/**
 * Runs `action(formData, send)` when `form` is submitted, with `submit` disabled meanwhile;
 * `send(payload)` signs and sends a transaction and throws the ledger's reason unless it
 * succeeds. What `action` returns is shown as the success; what it throws, as the error.
 */
function onSubmit(form, submit, message, action) {
  const send = async (payload) => checkReceipt(await sendTransaction(payload, (text) => message.info(text)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      message.ok(await action(new FormData(form), send));
    } catch (e) {
      message.error(e);
    } finally {
      submit.disabled = false;
    }
  });
}

/** A rule of a specification as one line of text. */
function ruleText(r) {
  if (r.kind === 'exactly') return t('sup.exactly_text', { name: r.name, value: r.values[0] });
  if (r.kind === 'one_of') return t('sup.one_of_text', { name: r.name, values: r.values.join(' | ') });
  return t('sup.range_text', { name: r.name, min: r.min, max: r.max });
}

/** `name=value` lines as attributes; throws naming the first bad line. */
function attributeLines(text, badKey = 'gate.bad_observed') {
  const out = [];
  String(text)
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const at = line.indexOf('=');
      if (at < 1) throw new Error(t(badKey, { line: i + 1 }));
      out.push({ name: line.slice(0, at).trim(), value: line.slice(at + 1).trim() });
    });
  return out;
}

function codeText(code) {
  return code ? `${code.gtin} · ${code.serial}` : '—';
}

// ---------------------------------------------------------------- supplier authorisations

function ruleRow(list, n) {
  const kind = h(
    'select',
    { name: 'kind', 'aria-label': `${t('sup.rule_kind')} ${n}` },
    ['exactly', 'one_of', 'range'].map((k) => h('option', { value: k }, t(`sup.kind_${k}`))),
  );
  const values = h('div', { class: 'field' }, h('label', {}, t('sup.rule_values'), h('input', { name: 'values' })));
  const min = h('div', { class: 'field', hidden: true }, h('label', {}, t('sup.rule_min'), h('input', { name: 'min', inputmode: 'decimal' })));
  const max = h('div', { class: 'field', hidden: true }, h('label', {}, t('sup.rule_max'), h('input', { name: 'max', inputmode: 'decimal' })));
  const row = h(
    'fieldset',
    { class: 'rule', 'data-rule': '' },
    h('legend', {}, `${t('sup.rule_name')} ${n}`),
    h('div', { class: 'field' }, h('label', {}, t('sup.rule_name'), h('input', { name: 'name', required: true, maxlength: 64, autocapitalize: 'none' }))),
    h('div', { class: 'field' }, h('label', {}, t('sup.rule_kind'), kind)),
    values,
    min,
    max,
    h('button', { type: 'button', class: 'secondary', onclick: () => row.remove() }, t('sup.remove_rule', { n })),
  );
  kind.addEventListener('change', () => {
    const range = kind.value === 'range';
    values.hidden = range;
    min.hidden = !range;
    max.hidden = !range;
  });
  list.append(row);
  return row;
}

function readRules(list) {
  return [...list.querySelectorAll('[data-rule]')].map((row) => {
    const get = (name) => row.querySelector(`[name=${name}]`).value.trim();
    const kind = get('kind');
    const rule = { name: get('name'), kind };
    if (kind === 'range') {
      rule.min = get('min');
      rule.max = get('max');
      if (!/^[+-]?\d*(\.\d{0,3})?$/.test(rule.min) || !/^[+-]?\d*(\.\d{0,3})?$/.test(rule.max) || !rule.min || !rule.max) {
        throw new Error(t('sup.bad_range', { name: rule.name }));
      }
    } else {
      rule.values = get('values')
        .split('|')
        .map((v) => v.trim())
        .filter(Boolean);
      if (kind === 'exactly') rule.values = [get('values')];
    }
    return rule;
  });
}

function suppliers(main) {
  heading(main, 'sup.title');
  main.append(h('p', { class: 'muted' }, t(isMaker() ? 'sup.intro' : 'sup.intro_supplier')));
  const message = notice();
  const q = h('input', { id: 'sup-filter', name: 'q', type: 'search' });
  const state = h('select', { id: 'sup-state', name: 'state' }, h('option', { value: '' }, t('sup.any_state')), h('option', { value: 'active' }, t('sup.only_active')));
  const controls = h(
    'div',
    { class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: 'sup-filter' }, t('sup.filter')), q),
    h('div', { class: 'field' }, h('label', { for: 'sup-state' }, t('sup.state')), state),
  );
  const revokeForm = (row) => {
    const id = `revoke-${row.supplier}-${row.part}`;
    const label = t('sup.revoke_reason', { supplier: row.supplier, part: row.part });
    return h(
      'form',
      {
        class: 'inline',
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            checkReceipt(
              await sendTransaction(
                partsPayload.revokeSupplier({
                  manufacturer: row.manufacturer,
                  supplier: row.supplier,
                  part: row.part,
                  reason: event.target.elements.reason.value.trim() || 'revoked',
                }),
                (text) => message.info(text),
              ),
            );
            message.ok(t('sup.revoked_done', { supplier: row.supplier, part: row.part }));
            table.reload();
          } catch (e) {
            message.error(e);
          }
        },
      },
      h('label', { for: id, class: 'visually-hidden' }, label),
      h('input', { id, name: 'reason', size: 10, placeholder: label }),
      h('button', { type: 'submit', class: 'danger' }, t('sup.revoke')),
    );
  };
  const table = serverTable({
    caption: t('sup.title'),
    testid: 'suppliers',
    controls: [controls],
    columns: [
      isMaker()
        ? { key: 'supplier', label: t('sup.supplier'), sort: 'supplier', cell: (r) => [r.supplier_name, ' ', h('code', {}, r.supplier)] }
        : { key: 'manufacturer', label: t('sup.manufacturer'), cell: (r) => h('code', {}, r.manufacturer) },
      { key: 'part', label: t('sup.part'), sort: 'part', cell: (r) => [r.part_name ?? '', ' ', h('code', {}, r.part)] },
      { key: 'rules', label: t('sup.spec'), cell: (r) => (r.rules.length ? h('ul', { class: 'rules' }, r.rules.map((x) => h('li', {}, ruleText(x)))) : t('sup.no_rules')) },
      { key: 'valid_until', label: t('sup.valid_until'), sort: 'valid_until', cell: (r) => time(r.valid_until * 1000).slice(0, 10) },
      { key: 'state', label: t('sup.state'), cell: (r) => h('span', { class: `state ${r.state}` }, t(`sup.state_${r.state}`)) },
      {
        key: 'actions',
        label: '',
        cell: (r) => (r.state === 'active' && r.manufacturer === session.current.org && may('revoke_supplier') ? revokeForm(r) : ''),
      },
    ],
    load: (params) => api('GET', `/console/api/b2b/suppliers${query(params)}`),
  });
  main.append(controls, message.el, table.el);
  if (!isMaker() || !may('authorise_supplier')) return;

  const rules = h('div', { class: 'rules-list' });
  let count = 0;
  const submit = h('button', { type: 'submit' }, t('sup.submit'));
  const form = h(
    'form',
    { class: 'card form-grid', 'data-testid': 'authorise' },
    h('h2', { class: 'wide' }, t('sup.new')),
    field(t('sup.supplier_id'), { name: 'supplier', required: true, autocapitalize: 'none', pattern: '[a-z0-9][a-z0-9\\-]{1,62}' }),
    field(t('sup.part_gtin'), { name: 'part', required: true, inputmode: 'numeric', pattern: '[0-9]{14}' }),
    field(t('sup.days'), { name: 'days', type: 'number', min: 1, max: 3650, required: true, value: 365 }),
    h(
      'fieldset',
      { class: 'wide' },
      h('legend', {}, t('sup.rules')),
      h('p', { class: 'muted' }, t('sup.rules_hint')),
      rules,
      h('button', { type: 'button', class: 'secondary', 'data-add-rule': '', onclick: () => ruleRow(rules, ++count).querySelector('input').focus() }, t('sup.add_rule')),
    ),
    h('div', { class: 'wide' }, submit),
  );
  onSubmit(form, submit, message, async (f, send) => {
    const supplier = f.get('supplier').trim();
    const part = f.get('part').trim();
    const now = nowS();
    await send(
      partsPayload.authoriseSupplier({
        manufacturer: session.current.org,
        supplier,
        part,
        rules: readRules(rules),
        validFrom: now - 60,
        validUntil: now + Number(f.get('days')) * 86400,
      }),
    );
    table.reload();
    return t('sup.done', { supplier, part });
  });
  main.append(form);
}

// ---------------------------------------------------------------- receiving gate

function reasonItems(verdict) {
  return verdict.reasons.flatMap((r) =>
    r === 'spec_mismatch' && verdict.mismatches.length
      ? verdict.mismatches.map((m) =>
          h('li', { 'data-reason': r }, t(`reason.${r}`), ' ', m.found == null ? t('gate.mismatch_missing', { name: m.name }) : t('gate.mismatch', { name: m.name, found: m.found })),
        )
      : [h('li', { 'data-reason': r }, t(`reason.${r}`))],
  );
}

function verdictPanel(v) {
  const accepted = v.accepted;
  return h(
    'section',
    { class: `verdict ${accepted ? 'accepted' : 'rejected'}`, 'data-verdict': accepted ? 'accepted' : 'rejected', 'aria-label': t(accepted ? 'gate.accepted' : 'gate.rejected') },
    h('p', { class: 'big' }, h('span', { 'aria-hidden': 'true' }, accepted ? '✔ ' : '✖ '), t(accepted ? 'gate.accepted' : 'gate.rejected')),
    h(
      'p',
      {},
      v.code ? t('gate.part', { gtin: v.code.gtin, serial: v.code.serial }) : t('gate.no_part'),
      v.pallet ? [' · ', t('gate.pallet', { sscc: v.pallet })] : '',
    ),
    v.issuer ? h('p', { class: 'small' }, t('gate.issuer', { org: v.issuer }), v.shipper ? [', ', t('gate.shipper', { org: v.shipper })] : '') : '',
    accepted ? '' : h('ul', { class: 'reasons' }, reasonItems(v)),
  );
}

/** Reads a code with the camera (the vendored QR decoder, as on the consumer page). */
function camera(onCode, message) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return h('p', { class: 'muted small' }, t('gate.camera_none'));
  }
  const video = h('video', { class: 'camera', playsinline: true, muted: true, hidden: true });
  let stopScanning = null;
  const button = h('button', { type: 'button', class: 'secondary' }, t('gate.camera'));
  const stop = () => {
    stopScanning?.();
    stopScanning = null;
    video.hidden = true;
    button.textContent = t('gate.camera');
  };
  button.addEventListener('click', async () => {
    if (stopScanning) return stop();
    try {
      if (!(await cameraAvailable())) throw new Error(t('gate.camera_none'));
      video.hidden = false;
      let done = false;
      stopScanning = await startCamera(video, (text) => {
        // One code per start: the camera stops and the code goes through the gate.
        if (done || !text) return;
        done = true;
        stop();
        onCode(text);
      });
      if (done) stop();
      else button.textContent = t('gate.camera_stop');
    } catch (e) {
      stop();
      message.error(e);
    }
  });
  return h('div', { class: 'camera-box' }, button, video);
}

function gate(main) {
  heading(main, 'gate.title');
  main.append(h('p', { class: 'muted' }, t('gate.intro')));
  const org = session.current.org;
  const message = notice();
  const panel = h('div', { class: 'verdicts', 'data-testid': 'verdicts', 'aria-live': 'assertive' });
  const scan = h('input', { id: 'gate-scan', name: 'scanned', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const observed = h('textarea', { id: 'gate-observed', name: 'observed', rows: 3, spellcheck: 'false', autocapitalize: 'none' });
  const rows = h('tbody', {}, h('tr', {}, h('td', { colspan: 4 }, t('gate.session_empty'))));
  const sessionRows = [];
  const submit = h('button', { type: 'submit' }, t('gate.check'));
  let log = null;

  const remember = (scanned, verdicts) => {
    for (const v of verdicts) {
      sessionRows.unshift(
        h(
          'tr',
          { 'data-verdict': v.accepted ? 'accepted' : 'rejected' },
          h('td', { 'data-label': t('gate.time') }, new Date().toLocaleTimeString()),
          h('td', { 'data-label': t('gate.code') }, v.code ? codeText(v.code) : h('code', { class: 'wrap' }, scanned.slice(0, 40) || '—')),
          h('td', { 'data-label': t('gate.verdict') }, h('strong', { class: v.accepted ? 'ok-text' : 'bad-text' }, t(v.accepted ? 'gate.accepted' : 'gate.rejected'))),
          h('td', { 'data-label': t('gate.reasons') }, v.reasons.map((r) => t(`reason.${r}`)).join(' ')),
        ),
      );
    }
    rows.replaceChildren(...sessionRows.slice(0, 50));
  };

  const receive = async (scanned) => {
    message.info(t('gate.checking'));
    let items;
    try {
      items = [{ scanned, observed: attributeLines(observed.value) }];
    } catch (e) {
      return message.error(e);
    }
    submit.disabled = true;
    try {
      const report = await api('POST', '/console/api/b2b/gate/check', { org, items });
      panel.replaceChildren(
        h('p', { class: 'summary' }, t('gate.summary', { accepted: report.accepted, rejected: report.rejected })),
        ...report.verdicts.map(verdictPanel),
      );
      remember(scanned, report.verdicts);
      panel.scrollIntoView({ block: 'nearest' });
      message.info(t('gate.recording'));
      const receipt = await sendTransaction(partsPayload.gateReceive(org, items));
      if (receipt.status !== 'ok') throw new Error(`${receipt.reason ?? ''} ${receipt.detail ?? ''}`.trim());
      message.ok(t('gate.recorded', { hash: receipt.hash.slice(0, 12) }));
      panel.dataset.recorded = receipt.hash;
      log?.reload();
    } catch (e) {
      message.error(new Error(t('gate.record_failed', { message: e.message })));
    } finally {
      submit.disabled = false;
      scan.value = '';
      scan.focus();
    }
  };

  const form = h(
    'form',
    { class: 'card gate', 'data-testid': 'gate', onsubmit: (e) => (e.preventDefault(), receive(scan.value)) },
    h('div', { class: 'field' }, h('label', { for: 'gate-scan' }, t('gate.scan')), h('div', { class: 'row' }, scan, submit)),
    h('div', { class: 'field' }, h('label', { for: 'gate-observed' }, t('gate.observed')), h('p', { class: 'muted small', id: 'gate-observed-hint' }, t('gate.observed_hint')), observed),
    may('gate_receive') ? camera((code) => receive(code), message) : '',
  );
  observed.setAttribute('aria-describedby', 'gate-observed-hint');
  if (!may('gate_receive')) submit.disabled = true;
  main.append(form, message.el, panel, h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'gate-session' }, h('caption', {}, t('gate.session')), h('thead', {}, h('tr', {}, [t('gate.time'), t('gate.code'), t('gate.verdict'), t('gate.reasons')].map((c) => h('th', { scope: 'col' }, c)))), rows)));
  log = gateLog(main, 'gate.log');
  // After the shell's route change focuses <main>: a wedge scanner types into the scan field.
  queueMicrotask(() => scan.focus());
}

/** The organisation's gate log, newest first, a page at a time. */
function gateLog(main, captionKey) {
  const table = serverTable({
    caption: t(captionKey),
    testid: 'gate-log',
    columns: [
      { key: 'height', label: t('gate.block'), cell: (e) => h('a', { href: `#/explorer/block/${e.height}` }, String(e.height)) },
      { key: 'time', label: t('gate.time'), cell: (e) => time(e.time_ms) },
      { key: 'gate', label: t('gate.at'), cell: (e) => h('code', {}, e.gate) },
      { key: 'code', label: t('gate.code'), cell: (e) => codeText(e.verdict.code) },
      { key: 'verdict', label: t('gate.verdict'), cell: (e) => h('strong', { class: e.verdict.accepted ? 'ok-text' : 'bad-text' }, t(e.verdict.accepted ? 'gate.accepted' : 'gate.rejected')) },
      { key: 'reasons', label: t('gate.reasons'), cell: (e) => e.verdict.reasons.map((r) => t(`reason.${r}`)).join(' ') || '—' },
    ],
    load: async (params) => {
      const page = await api('GET', `/console/api/b2b/gate/log${query({ offset: params.offset, limit: params.limit })}`);
      return { rows: page.entries, total: page.total };
    },
  });
  main.append(table.el);
  return table;
}

// ---------------------------------------------------------------- assembly

function assembly(main) {
  heading(main, 'asm.title');
  main.append(h('p', { class: 'muted' }, t('asm.intro')));
  const message = notice();
  const parts = [];
  const list = h('ul', { class: 'part-list', 'data-testid': 'parts' });
  const listHead = h('h2', {});
  const draw = () => {
    listHead.textContent = t('asm.parts', { n: parts.length });
    list.replaceChildren(
      ...(parts.length
        ? parts.map((p, i) =>
            h(
              'li',
              {},
              h('code', {}, codeText(p)),
              ' ',
              h('button', { type: 'button', class: 'secondary small', 'aria-label': t('asm.remove_from_list', { code: codeText(p) }), onclick: () => (parts.splice(i, 1), draw()) }, '✕'),
            ),
          )
        : [h('li', { class: 'muted' }, t('asm.none'))]),
    );
  };
  const parent = h('input', { id: 'asm-parent', name: 'parent', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const part = h('input', { id: 'asm-part', name: 'part', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const addPart = () => {
    const text = part.value.trim();
    if (!text) return;
    const parsed = parsePrinted(text);
    if (!parsed) return message.error(new Error(t('asm.bad_part', { text })));
    if (!parts.some((p) => p.gtin === parsed.code.gtin && p.serial === parsed.code.serial)) parts.push(parsed.code);
    message.clear();
    part.value = '';
    draw();
    part.focus();
  };
  // A scanner's Enter in the part field adds the part instead of submitting the form.
  part.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      addPart();
    }
  });
  parent.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      part.focus();
    }
  });
  const submit = h('button', { type: 'submit' }, t('asm.submit'));
  const result = h('div', { 'data-testid': 'assembly-result' });
  const form = h(
    'form',
    { class: 'card', 'data-testid': 'assembly' },
    h('div', { class: 'field' }, h('label', { for: 'asm-parent' }, t('asm.parent')), parent),
    h('div', { class: 'field' }, h('label', { for: 'asm-part' }, t('asm.part')), h('div', { class: 'row' }, part, h('button', { type: 'button', class: 'secondary', onclick: addPart }, t('asm.add_part')))),
    listHead,
    list,
    h(
      'fieldset',
      { class: 'roles' },
      h('legend', {}, t('asm.mode')),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'mode', value: 'add', checked: true }), ' ', t('asm.install')),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'mode', value: 'remove' }), ' ', t('asm.uninstall')),
    ),
    submit,
  );
  onSubmit(form, submit, message, async (f, send) => {
    const printed = parsePrinted(parent.value);
    if (!printed?.signature) throw new Error(t('asm.bad_parent'));
    if (!parts.length) throw new Error(t('asm.need_parts'));
    const mode = f.get('mode');
    const codes = parts.map((p) => codeId(p.gtin, p.serial));
    await send(
      partsPayload.assemble({
        org: session.current.org,
        parent: { code: printed.code, signature: printed.signature },
        add: mode === 'add' ? codes : [],
        remove: mode === 'remove' ? codes : [],
      }),
    );
    result.replaceChildren(h('a', { class: 'button secondary', href: `#/trace/${printed.code.gtin}/${printed.code.serial}` }, t('asm.trace')));
    parts.length = 0;
    draw();
    return t('asm.done', { n: codes.length, item: codeText(printed.code) });
  });
  draw();
  main.append(form, message.el, result);
  queueMicrotask(() => parent.focus());
}

// ---------------------------------------------------------------- traces

/**
 * The fields naming a trace's or a recall's scope: a lot (GTIN and lot), a part type (GTIN) or
 * an issuer, showing only those the chosen scope needs. Ids start with `prefix`.
 */
function scopeFields(prefix) {
  const scope = h('select', { id: `${prefix}-scope`, name: 'scope' }, ['lot', 'product', 'issuer'].map((s) => h('option', { value: s }, t(`trace.scope_${s}`))));
  const gtin = field(t('trace.gtin'), { id: `${prefix}-gtin`, name: 'gtin', inputmode: 'numeric', pattern: '[0-9]{14}' });
  const lot = field(t('trace.lot'), { id: `${prefix}-lot`, name: 'lot', autocapitalize: 'none' });
  const issuer = field(t('trace.issuer'), { id: `${prefix}-issuer`, name: 'issuer', autocapitalize: 'none' });
  issuer.hidden = true;
  scope.addEventListener('change', () => {
    gtin.hidden = scope.value === 'issuer';
    lot.hidden = scope.value !== 'lot';
    issuer.hidden = scope.value !== 'issuer';
  });
  return { scope, gtin, lot, issuer };
}

/** The scope chosen in `scopeFields`' form data, as `partsPayload.startRecall` takes it. */
function chosenScope(kind, f) {
  if (kind === 'issuer') return { issuer: f.get('issuer').trim() };
  if (kind === 'lot') return { lot: { gtin: f.get('gtin').trim(), lot: f.get('lot').trim() } };
  return { product: f.get('gtin').trim() };
}

function treeNode(n) {
  const facts = [
    h('code', {}, codeText(n)),
    ' ',
    h('span', { class: 'muted' }, `${t('trace.lot')} ${n.lot}`),
    ' · ',
    t('trace.issued_by', { org: n.issuer }),
    ' · ',
    t(`status.${n.status}`),
    n.custodian ? [' · ', t('trace.held_by', { org: n.custodian })] : '',
    n.recalled ? [' ', h('strong', { class: 'badge bad' }, t('trace.recalled'))] : '',
  ];
  const record = n.lot_record
    ? h(
        'details',
        {},
        h('summary', {}, t('trace.lot_record')),
        h('ul', {}, n.lot_record.attributes.map((a) => h('li', {}, `${a.name} = ${a.value}`)), n.lot_record.tests.map((x) => h('li', {}, `${x.name}: ${x.value} ${x.passed ? '✔' : '✖'}`))),
      )
    : '';
  return h('li', { 'data-code': `${n.gtin}:${n.serial}` }, h('div', { class: 'node' }, facts, record), n.parts.length ? h('ul', {}, n.parts.map(treeNode)) : '');
}

function where(item) {
  if (item.custodian) return t('trace.held_by', { org: item.custodian });
  if (item.sale_city || item.sale_region) return t('trace.sold_in', { place: [item.sale_city, item.sale_region].filter(Boolean).join(', ') });
  if (item.owned) return t('trace.with_owner');
  return '—';
}

function itemColumns() {
  return [
    { key: 'gtin', label: t('trace.gtin'), cell: (i) => h('code', {}, i.gtin) },
    { key: 'serial', label: t('trace.serial'), cell: (i) => h('a', { href: `#/trace/${i.gtin}/${i.serial}` }, String(i.serial)) },
    { key: 'brand', label: t('trace.brand'), cell: (i) => h('code', {}, i.brand) },
    { key: 'status', label: t('trace.status'), cell: (i) => t(`status.${i.status}`) },
    { key: 'where', label: t('trace.where'), cell: where },
  ];
}

function trace(main, [gtinParam, serialParam]) {
  heading(main, 'trace.title');
  const message = notice();
  const tree = h('div', { class: 'tree', 'data-testid': 'trace-tree' });
  const item = h('input', { id: 'trace-item', name: 'item', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', value: gtinParam ? `${gtinParam}:${serialParam}` : '' });
  const showBack = async () => {
    const parsed = parsePrinted(item.value);
    if (!parsed) return message.error(new Error(t('trace.bad_item')));
    message.clear();
    try {
      const back = await api('GET', `/console/api/b2b/trace/back/${parsed.code.gtin}/${parsed.code.serial}`);
      tree.replaceChildren(
        h('p', {}, t('trace.codes', { n: back.codes })),
        back.truncated ? h('p', { class: 'notice error' }, t('trace.truncated')) : '',
        h('ul', { class: 'tree-root' }, treeNode(back.item)),
      );
    } catch (e) {
      tree.replaceChildren();
      message.error(e);
    }
  };
  const back = h(
    'form',
    { class: 'card', 'data-testid': 'trace-back', onsubmit: (e) => (e.preventDefault(), showBack()) },
    h('h2', {}, t('trace.back')),
    h('div', { class: 'field' }, h('label', { for: 'trace-item' }, t('trace.item')), h('div', { class: 'row' }, item, h('button', { type: 'submit' }, t('trace.show')))),
  );

  const { scope, gtin, lot, issuer } = scopeFields('fw');
  const list = h('div', { 'data-testid': 'trace-forward-list' });
  const forward = h(
    'form',
    {
      class: 'card filters',
      'data-testid': 'trace-forward',
      onsubmit: (e) => {
        e.preventDefault();
        const f = new FormData(forward);
        const chosen = chosenScope(scope.value, f);
        const params = chosen.lot ?? (chosen.product ? { gtin: chosen.product } : chosen);
        const table = serverTable({
          caption: t('trace.forward'),
          testid: 'forward-items',
          columns: itemColumns(),
          load: async ({ offset, limit }) => {
            const page = await api('GET', `/console/api/b2b/trace/forward${query({ ...params, start: offset, limit })}`);
            return { rows: page.items, total: page.visible };
          },
        });
        list.replaceChildren(table.el);
      },
    },
    h('h2', { class: 'wide' }, t('trace.forward')),
    h('div', { class: 'field' }, h('label', { for: 'fw-scope' }, t('trace.scope')), scope),
    gtin,
    lot,
    issuer,
    h('button', { type: 'submit' }, t('trace.show')),
  );
  main.append(back, message.el, tree, forward, list);
  if (gtinParam) showBack();
}

// ---------------------------------------------------------------- recalls

const PROGRESS = ['affected', 'located', 'in_transit', 'with_consumers', 'returned', 'destroyed'];

function scopeText(scope) {
  const [kind, ...rest] = scope.split(':');
  return `${t(`trace.scope_${kind === 'lot' ? 'lot' : kind === 'product' ? 'product' : 'issuer'}`)}: ${rest.join(' · ')}`;
}

function progressBar(p) {
  const pct = p.affected ? Math.round((100 * p.located) / p.affected) : 100;
  return h(
    'div',
    { class: 'progress' },
    h('progress', { max: 100, value: pct, 'aria-label': t('rec.progress_text', { located: p.located, affected: p.affected }) }),
    h('span', {}, t('rec.progress_text', { located: p.located, affected: p.affected })),
  );
}

function recalls(main, [numberParam]) {
  heading(main, 'rec.title');
  const message = notice();
  const detail = h('div', { 'data-testid': 'recall-detail' });
  const showDetail = async (number) => {
    try {
      const r = await api('GET', `/console/api/b2b/recalls/${number}`);
      const close =
        !r.closed && may('close_recall')
          ? h(
              'button',
              {
                type: 'button',
                class: 'danger',
                onclick: async () => {
                  try {
                    checkReceipt(await sendTransaction(partsPayload.closeRecall(session.current.org, r.number), (text) => message.info(text)));
                    message.ok(t('rec.closed_done', { number: r.number }));
                    table.reload();
                    showDetail(r.number);
                  } catch (e) {
                    message.error(e);
                  }
                },
              },
              t('rec.close'),
            )
          : '';
      detail.replaceChildren(
        h(
          'section',
          { class: 'card', 'data-closed': String(r.closed) },
          h('h2', {}, t('rec.detail', { number: r.number, scope: scopeText(r.scope) })),
          h('p', {}, r.reason, ' · ', time(r.started_ms), ' · ', t(r.closed ? 'rec.closed' : 'rec.open')),
          progressBar(r.progress),
          h('div', { class: 'cards', 'data-testid': 'recall-progress' }, PROGRESS.map((k) => h('div', { class: 'stat', 'data-stat': k }, h('span', { class: 'label' }, t(`rec.${k}`)), h('span', { class: 'value' }, String(r.progress[k]))))),
          close,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { 'data-testid': 'recall-items' },
              h('caption', {}, t('rec.items')),
              h('thead', {}, h('tr', {}, itemColumns().map((c) => h('th', { scope: 'col' }, c.label)))),
              h('tbody', {}, r.items.map((i) => h('tr', {}, itemColumns().map((c) => h('td', { 'data-label': c.label }, c.cell(i)))))),
            ),
          ),
          r.truncated ? h('p', { class: 'notice error' }, t('trace.truncated')) : '',
        ),
      );
    } catch (e) {
      message.error(e);
    }
  };
  const table = serverTable({
    caption: t('rec.list'),
    testid: 'recalls',
    columns: [
      { key: 'number', label: t('rec.number') },
      { key: 'scope', label: t('rec.what'), cell: (r) => scopeText(r.scope) },
      { key: 'reason', label: t('rec.reason') },
      { key: 'started_ms', label: t('rec.started_at'), cell: (r) => time(r.started_ms) },
      { key: 'progress', label: t('rec.progress'), cell: (r) => progressBar(r.progress) },
      { key: 'closed', label: t('rec.state'), cell: (r) => t(r.closed ? 'rec.closed' : 'rec.open') },
      { key: 'show', label: '', cell: (r) => h('a', { href: `#/recalls/${r.number}`, class: 'button secondary' }, t('rec.show')) },
    ],
    load: (params) => api('GET', `/console/api/b2b/recalls${query({ offset: params.offset, limit: params.limit })}`),
  });
  main.append(message.el);
  if (may('start_recall')) {
    const { scope, gtin, lot, issuer } = scopeFields('rec');
    const submit = h('button', { type: 'submit', class: 'danger' }, t('rec.submit'));
    const form = h(
      'form',
      { class: 'card form-grid', 'data-testid': 'start-recall' },
      h('h2', { class: 'wide' }, t('rec.start')),
      h('div', { class: 'field' }, h('label', { for: 'rec-scope' }, t('rec.scope')), scope),
      gtin,
      lot,
      issuer,
      field(t('rec.reason'), { name: 'reason', required: true, maxlength: 500 }),
      h('div', { class: 'wide' }, submit),
    );
    onSubmit(form, submit, message, async (f, send) => {
      await send(partsPayload.startRecall({ org: session.current.org, scope: chosenScope(scope.value, f), reason: f.get('reason').trim() }));
      table.reload();
      return t('rec.started');
    });
    main.append(form);
  }
  main.append(table.el);
  // A recall picked from the list shows above the form and the list.
  main.insertBefore(detail, message.el.nextSibling);
  if (numberParam !== undefined) showDetail(numberParam);
}

// ---------------------------------------------------------------- a supplier's lots

function testLines(text) {
  const out = [];
  String(text)
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const m = /^([^=]+)=(.*)=(pass|fail)$/.exec(line.trim());
      if (!m) throw new Error(t('lot.bad_test', { line: i + 1 }));
      out.push({ name: m[1].trim(), value: m[2].trim(), passed: m[3] === 'pass' });
    });
  return out;
}

/** A supplier's part types and their code batches: register a part, issue a batch, list them. */
async function partBatches(main, message) {
  const org = await api('GET', `/v1/orgs/${encodeURIComponent(session.current.org)}`);
  const keys = org.code_keys.filter((k) => !k.revoked).map((k) => k.key);
  const batches = h('div', { 'data-testid': 'batches' });
  // A part type's batches, paged, sorted and filtered by the node.
  const showBatches = (gtin) => {
    const table = serverTable({
      caption: t('lot.batches_of', { gtin }),
      testid: 'part-batches',
      columns: [
        { key: 'lot', label: t('lot.lot'), sort: 'lot' },
        { key: 'first_serial', label: t('lot.first'), sort: 'serial', cell: (b) => String(b.first_serial) },
        { key: 'count', label: t('lot.count'), sort: 'count', cell: (b) => b.count.toLocaleString() },
        { key: 'licence', label: t('lot.licence') },
        { key: 'issued_height', label: t('gate.block'), sort: 'issued', cell: (b) => String(b.issued_height) },
      ],
      load: (params) => api('GET', `/console/api/products/${encodeURIComponent(gtin)}/batches${query(params)}`),
    });
    batches.replaceChildren(table.el);
    batches.scrollIntoView({ block: 'nearest' });
  };
  // The organisation's part types, paged, sorted and filtered by the node.
  const partFilter = h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'part-filter' }, t('lot.filter_parts')), h('input', { id: 'part-filter', name: 'q', type: 'search' })));
  const partsTable = serverTable({
    caption: t('lot.parts'),
    testid: 'my-parts',
    columns: [
      { key: 'gtin', label: t('lot.gtin'), sort: 'gtin', cell: (p) => h('code', {}, p.gtin) },
      { key: 'name', label: t('lot.name'), sort: 'name' },
      { key: 'show', label: '', cell: (p) => h('button', { type: 'button', class: 'secondary small', onclick: () => showBatches(p.gtin) }, t('lot.show_batches', { gtin: p.gtin })) },
    ],
    load: (params) => api('GET', `/console/api/products${query(params)}`),
    controls: [partFilter],
  });
  const parts = h('div', {}, partFilter, partsTable.el);
  main.append(h('section', { class: 'card' }, h('h2', {}, t('lot.parts')), parts, batches));
  if (may('register_product')) {
    const submit = h('button', { type: 'submit' }, t('lot.register'));
    const attributes = h('textarea', { id: 'part-attributes', name: 'attributes', rows: 3, spellcheck: 'false' });
    const form = h(
      'form',
      { class: 'card form-grid', 'data-testid': 'register-part' },
      h('h2', { class: 'wide' }, t('lot.register_title')),
      field(t('lot.gtin'), { name: 'gtin', required: true, inputmode: 'numeric', pattern: '[0-9]{14}' }),
      field(t('lot.name'), { name: 'name', required: true, maxlength: 200 }),
      field(t('lot.description'), { name: 'description', maxlength: 2000 }),
      h('div', { class: 'field' }, h('label', { for: 'part-attributes' }, t('lot.attributes')), attributes),
      h('div', { class: 'wide' }, submit),
    );
    onSubmit(form, submit, message, async (f, send) => {
      const gtin = f.get('gtin').trim();
      await send(partsPayload.registerPart({ gtin, org: org.id, name: f.get('name').trim(), description: f.get('description').trim(), attributes: attributeLines(attributes.value) }));
      partsTable.reload();
      return t('lot.registered', { gtin });
    });
    main.append(form);
  }
  if (may('issue_code_batch') && keys.length && org.licences.length) {
    const submit = h('button', { type: 'submit' }, t('lot.issue'));
    const licence = h('select', { id: 'batch-licence', name: 'licence' }, org.licences.map((l) => h('option', { value: l }, l)));
    const codeKey = h('select', { id: 'batch-key', name: 'key' }, keys.map((k) => h('option', { value: k }, `${k.slice(0, 12)}…`)));
    const form = h(
      'form',
      { class: 'card form-grid', 'data-testid': 'issue-batch' },
      h('h2', { class: 'wide' }, t('lot.issue_title')),
      field(t('lot.gtin'), { name: 'gtin', required: true, inputmode: 'numeric', pattern: '[0-9]{14}' }),
      field(t('lot.lot'), { name: 'lot', required: true, autocapitalize: 'none' }),
      field(t('lot.first'), { name: 'first', type: 'number', min: 1, required: true, value: 1 }),
      field(t('lot.count'), { name: 'count', type: 'number', min: 1, max: 1000000, required: true, value: 1000 }),
      h('div', { class: 'field' }, h('label', { for: 'batch-licence' }, t('lot.licence')), licence),
      h('div', { class: 'field' }, h('label', { for: 'batch-key' }, t('lot.code_key')), codeKey),
      h('p', { class: 'muted wide' }, t('lot.print_hint')),
      h('div', { class: 'wide' }, submit),
    );
    onSubmit(form, submit, message, async (f, send) => {
      const gtin = f.get('gtin').trim();
      const lot = f.get('lot').trim();
      await send(partsPayload.issueBatch({ org: org.id, licence: f.get('licence'), gtin, lot, firstSerial: BigInt(f.get('first')), count: BigInt(f.get('count')), codeKey: fromHex(f.get('key')) }));
      showBatches(gtin);
      return t('lot.issued', { gtin, lot });
    });
    main.append(form);
  }
}

function partLots(main) {
  heading(main, 'lot.title');
  main.append(h('p', { class: 'muted' }, t('lot.intro')));
  const message = notice();
  // The part types and batches load first and draw above the lot form.
  const batchArea = h('div');
  main.append(message.el, batchArea);
  const batchesDone = partBatches(batchArea, message).catch((e) => message.error(e));
  if (may('record_lot')) {
    const submit = h('button', { type: 'submit' }, t('lot.submit'));
    const attributes = h('textarea', { id: 'lot-attributes', name: 'attributes', rows: 4, spellcheck: 'false' });
    const tests = h('textarea', { id: 'lot-tests', name: 'tests', rows: 3, spellcheck: 'false' });
    const form = h(
      'form',
      { class: 'card form-grid', 'data-testid': 'record-lot' },
      h('h2', { class: 'wide' }, t('lot.record_title')),
      field(t('lot.gtin'), { name: 'gtin', required: true, inputmode: 'numeric', pattern: '[0-9]{14}' }),
      field(t('lot.lot'), { name: 'lot', required: true, autocapitalize: 'none' }),
      h('div', { class: 'field' }, h('label', { for: 'lot-attributes' }, t('lot.attributes')), attributes),
      h('div', { class: 'field' }, h('label', { for: 'lot-tests' }, t('lot.tests')), tests),
      h('div', { class: 'wide' }, submit),
    );
    onSubmit(form, submit, message, async (f, send) => {
      const gtin = f.get('gtin').trim();
      const lot = f.get('lot').trim();
      await send(partsPayload.recordLot({ gtin, lot, attributes: attributeLines(attributes.value), tests: testLines(tests.value), producedAt: nowS() }));
      return t('lot.done', { gtin, lot });
    });
    main.append(form);
  }
  batchesDone.then(() => gateLog(main, 'lot.log'));
}

/** Registers the manufacturer's and supplier's screens with the console's shell. */
export function registerMakerScreens(registerScreen) {
  registerScreen({ id: 'suppliers', nav: 'nav.suppliers', roles: B2B, render: suppliers });
  registerScreen({ id: 'gate', nav: 'nav.gate', roles: MAKERS, render: gate });
  registerScreen({ id: 'assembly', nav: 'nav.assembly', roles: MAKERS, render: assembly });
  registerScreen({ id: 'parts', nav: 'nav.parts', roles: ['supplier'], render: partLots });
  registerScreen({ id: 'trace', nav: 'nav.trace', roles: B2B, render: trace });
  // Brands recall their products and lots here too.
  registerScreen({ id: 'recalls', nav: 'nav.recalls', roles: ['brand', ...B2B], render: recalls });
}

