// The B2B payloads the console's manufacturer and supplier screens send (supplier
// authorisations with specifications, lot records, the receiving gate, assembly, recalls),
// borsh-encoded byte for byte as `jitrace_types::parts` and `jitrace_types::tx` write them.
//
// Invariant: `crates/jitrace-api/tests/web_vectors.rs` pins every payload built here in
// web/test/vectors-parts.json, checked by web/test/tx-parts.test.js. Pure: no DOM, no network.

import { Writer, writeCode } from './tx.js';

/** `Payload` variant indices of the B2B payloads (declaration order; never renumber). */
const VARIANT = {
  RegisterProduct: 5,
  IssueCodeBatch: 9,
  AuthoriseSupplier: 20,
  RevokeSupplier: 21,
  RecordLot: 22,
  GateReceive: 24,
  Assemble: 25,
  StartRecall: 26,
  CloseRecall: 27,
};

/** `Allowed` variants. */
const ALLOWED = { exactly: 0, one_of: 1, range: 2 };
/** `RecallScope` variants. */
const SCOPE = { lot: 0, product: 1, issuer: 2 };

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/**
 * A decimal text as fixed-point thousandths, as `parts::decimal_milli` reads it (at most three
 * decimals, an optional sign, no exponent); `null` for anything else.
 */
export function decimalMilli(text) {
  const m = /^([+-]?)(\d*)(?:\.(\d{0,3}))?$/.exec(String(text).trim());
  if (!m || (!m[2] && !m[3])) return null;
  const value = BigInt(m[2] || '0') * 1000n + BigInt((m[3] ?? '').padEnd(3, '0') || '0');
  const signed = m[1] === '-' ? -value : value;
  return signed < I64_MIN || signed > I64_MAX ? null : signed;
}

function i64(w, n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(n), true);
  return w.bytes(b);
}

function gtin(w, g) {
  if (!/^\d{14}$/.test(g)) throw new Error('a GTIN has 14 digits');
  return w.fixed(new TextEncoder().encode(g), 14);
}

function attributes(w, list) {
  w.u32(list.length);
  for (const a of list) w.string(a.name).string(a.value);
}

function codeIds(w, codes) {
  w.u32(codes.length);
  for (const c of codes) writeCode(w, c);
}

/**
 * A specification rule: `{name, kind: 'exactly'|'one_of'|'range', values?, min?, max?}` with
 * `min`/`max` as decimal text.
 */
function rule(w, r) {
  const kind = ALLOWED[r.kind];
  if (kind === undefined) throw new Error(`unknown rule kind ${r.kind}`);
  w.string(r.name).u8(kind);
  if (r.kind === 'exactly') w.string(r.values[0]);
  else if (r.kind === 'one_of') {
    w.u32(r.values.length);
    for (const v of r.values) w.string(v);
  } else {
    const min = decimalMilli(r.min);
    const max = decimalMilli(r.max);
    if (min === null || max === null) throw new Error(`${r.name}: a range's bounds are decimal numbers`);
    i64(i64(w, min), max);
  }
}

/** The B2B payload builders: `{kind, write(w)}`, like `payload` in tx.js. */
export const partsPayload = {
  /** A supplier's part type: `{gtin, org, name, description, attributes}` (no media yet). */
  registerPart: ({ gtin: g, org, name, description = '', attributes: attrs = [] }) => ({
    kind: 'register_product',
    write: (w) => {
      gtin(w.u8(VARIANT.RegisterProduct), g).string(org).string(name).string(description);
      attributes(w, attrs);
      w.u32(0);
    },
  }),
  /** A batch of part codes: `{org, licence, gtin, lot, firstSerial, count, codeKey}`. */
  issueBatch: ({ org, licence, gtin: g, lot, firstSerial, count, codeKey }) => ({
    kind: 'issue_code_batch',
    write: (w) => gtin(w.u8(VARIANT.IssueCodeBatch).string(org).string(licence), g).string(lot).u64(firstSerial).u64(count).fixed(codeKey, 32),
  }),
  /** `{manufacturer, supplier, part, rules, document?, validFrom, validUntil}` */
  authoriseSupplier: ({ manufacturer, supplier, part, rules, document = null, validFrom, validUntil }) => ({
    kind: 'authorise_supplier',
    write: (w) => {
      w.u8(VARIANT.AuthoriseSupplier).string(manufacturer).string(supplier);
      gtin(w, part).u32(rules.length);
      for (const r of rules) rule(w, r);
      w.option(document, (d) => w.fixed(d, 32)).u64(validFrom).u64(validUntil);
    },
  }),
  revokeSupplier: ({ manufacturer, supplier, part, reason }) => ({
    kind: 'revoke_supplier',
    write: (w) => gtin(w.u8(VARIANT.RevokeSupplier).string(manufacturer).string(supplier), part).string(reason),
  }),
  /** `{gtin, lot, attributes: [{name, value}], producedAt?, tests: [{name, value, passed}]}` */
  recordLot: ({ gtin: g, lot, attributes: attrs, producedAt = null, tests = [] }) => ({
    kind: 'record_lot',
    write: (w) => {
      gtin(w.u8(VARIANT.RecordLot), g).string(lot);
      attributes(w, attrs);
      w.option(producedAt, (t) => w.u64(t)).u32(tests.length);
      for (const t of tests) w.string(t.name).string(t.value).u8(t.passed ? 1 : 0);
      w.u32(0); // documents: uploaded media are not offered by the console yet
    },
  }),
  /** `org` and `items: [{scanned, observed: [{name, value}]}]` */
  gateReceive: (org, items) => ({
    kind: 'gate_receive',
    write: (w) => {
      w.u8(VARIANT.GateReceive).string(org).u32(items.length);
      for (const item of items) {
        w.string(item.scanned);
        attributes(w, item.observed);
      }
    },
  }),
  /** `parent: {code, signature}` (as printed), `add`/`remove`: code ids. */
  assemble: ({ org, parent, add = [], remove = [] }) => ({
    kind: 'assemble',
    write: (w) => {
      w.u8(VARIANT.Assemble).string(org);
      writeCode(w, parent.code);
      w.string(parent.signature);
      codeIds(w, remove);
      codeIds(w, add);
    },
  }),
  /** `scope`: `{lot: {gtin, lot}}`, `{product: gtin}` or `{issuer: org}`. */
  startRecall: ({ org, scope, reason }) => ({
    kind: 'start_recall',
    write: (w) => {
      w.u8(VARIANT.StartRecall).string(org);
      if (scope.lot) gtin(w.u8(SCOPE.lot), scope.lot.gtin).string(scope.lot.lot);
      else if (scope.product) gtin(w.u8(SCOPE.product), scope.product);
      else if (scope.issuer) w.u8(SCOPE.issuer).string(scope.issuer);
      else throw new Error('a recall names a lot, a product or an issuer');
      w.string(reason);
    },
  }),
  closeRecall: (org, recall) => ({
    kind: 'close_recall',
    write: (w) => w.u8(VARIANT.CloseRecall).string(org).u32(recall),
  }),
};

/**
 * A printed code read from a scanner or typed: a Digital Link with `/01/{gtin}/21/{serial}`
 * and its AI 8030 signature, or `{gtin}:{serial}` / `{gtin} {serial}` (no signature).
 * @returns {{code: {gtin: string, serial: bigint}, signature: string|null}|null}
 */
export function parsePrinted(text) {
  const t = String(text).trim();
  const link = /\/01\/(\d{14})\/21\/(\d{1,20})(?:[/?](?:.*[?&])?8030=([A-Za-z0-9_-]+))?/.exec(t);
  const plain = /^(\d{14})[: ](\d{1,20})$/.exec(t);
  const m = link ?? plain;
  if (!m) return null;
  const serial = BigInt(m[2]);
  if (serial >= 1n << 64n || (m[2].length > 1 && m[2].startsWith('0'))) return null;
  return { code: { gtin: m[1], serial }, signature: link ? (m[3] ?? null) : null };
}
