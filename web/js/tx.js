// Jitrace transactions in the browser: the borsh encoding of the owner's and the console's
// payloads, ticket proofs, transaction bodies and signed transactions, byte for byte as
// `jitrace_types::tx` writes them.
//
// Invariant: `crates/jitrace-api/tests/web_vectors.rs` writes reference bytes for every payload
// built here (web/test/vectors.json) and runs web/test/tx.test.js against them, so this file
// and the Rust types cannot drift apart silently. Pure: no DOM, no network, no storage.

import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

// Synchronous signing: WebCrypto (the async default) exists only on HTTPS and localhost pages.
ed.hashes.sha512 = sha512;

/** Signature domains (`jitrace_types::keys::domain`). */
export const DOMAIN = { TRANSACTION: 'jitrace/v1/tx', TICKET: 'jitrace/v1/ticket' };

/** `Payload` variant indices, in declaration order (a consensus fact: never renumber). */
const VARIANT = {
  RegisterOrg: 0,
  AddMember: 1,
  RemoveMember: 2,
  IssueLicence: 3,
  RevokeLicence: 4,
  RedeemTicket: 14,
  IssueTransferTicket: 15,
  CancelTicket: 16,
  ReportStolen: 17,
  ClearStolen: 18,
};

const utf8 = new TextEncoder();

/** Borsh writer for the few types these payloads use. */
export class Writer {
  constructor() {
    this.parts = [];
  }
  bytes(b) {
    this.parts.push(Uint8Array.from(b));
    return this;
  }
  fixed(b, len) {
    if (b.length !== len) throw new Error(`expected ${len} bytes, got ${b.length}`);
    return this.bytes(b);
  }
  u8(n) {
    return this.bytes([n]);
  }
  u32(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return this.bytes(b);
  }
  u64(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)), true);
    return this.bytes(b);
  }
  /** `Vec<u8>` and `String`: u32 length, then the bytes. */
  vec(b) {
    return this.u32(b.length).bytes(b);
  }
  string(s) {
    return this.vec(utf8.encode(s));
  }
  option(value, write) {
    if (value == null) return this.u8(0);
    this.u8(1);
    write(value);
    return this;
  }
  finish() {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/**
 * A code id from the verdict's `gtin` (14 digits) and `serial` (decimal text, u64).
 * @returns {{gtin: string, serial: bigint}}
 */
export function codeId(gtin, serial) {
  if (!/^\d{14}$/.test(gtin)) throw new Error('a GTIN has 14 digits');
  if (!/^(0|[1-9]\d{0,19})$/.test(String(serial))) throw new Error('a serial is a decimal number');
  const value = BigInt(serial);
  if (value >= 1n << 64n) throw new Error('a serial fits 64 bits');
  return { gtin, serial: value };
}

export function writeCode(w, code) {
  // `Gtin` is its 14 ASCII digits; the serial a u64.
  w.fixed(utf8.encode(code.gtin), 14).u64(code.serial);
}

function serialBigEndian(serial) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, serial, false);
  return b;
}

/** `Role` codes (`jitrace_types::Role`, declaration order). */
export const ROLE = {
  platform: 0,
  brand: 1,
  manufacturer: 2,
  supplier: 3,
  distributor: 4,
  retailer: 5,
  logistics: 6,
};

function roleCode(name) {
  const code = ROLE[name];
  if (code === undefined) throw new Error(`unknown role ${name}`);
  return code;
}

/** Payload builders: `{kind, write(w)}`. Keys are 32-byte arrays; ids and texts strings. */
export const payload = {
  // The console's (platform) payloads.
  registerOrg: ({ id, name, roles, gs1CompanyPrefix = null, region = null, admin }) => ({
    kind: 'register_org',
    write: (w) => {
      w.u8(VARIANT.RegisterOrg).string(id).string(name).u32(roles.length);
      for (const r of roles) w.u8(roleCode(r));
      w.option(gs1CompanyPrefix, (p) => w.string(p))
        .option(region, (r) => w.string(r))
        .fixed(admin, 32);
    },
  }),
  addMember: (org, key) => ({
    kind: 'add_member',
    write: (w) => w.u8(VARIANT.AddMember).string(org).fixed(key, 32),
  }),
  removeMember: (org, key) => ({
    kind: 'remove_member',
    write: (w) => w.u8(VARIANT.RemoveMember).string(org).fixed(key, 32),
  }),
  issueLicence: ({ id, org, quota, validFrom, validUntil }) => ({
    kind: 'issue_licence',
    write: (w) => w.u8(VARIANT.IssueLicence).string(id).string(org).u64(quota).u64(validFrom).u64(validUntil),
  }),
  revokeLicence: (licence, reason) => ({
    kind: 'revoke_licence',
    write: (w) => w.u8(VARIANT.RevokeLicence).string(licence).string(reason),
  }),
  // The owner's payloads (the consumer page).
  redeemTicket: (code, ticket, proof, device) => ({
    kind: 'redeem_ticket',
    write: (w) => {
      w.u8(VARIANT.RedeemTicket);
      writeCode(w, code);
      w.fixed(ticket, 32).fixed(proof, 64).option(device, (d) => w.fixed(d, 32));
    },
  }),
  issueTransferTicket: (code, ticket) => ({
    kind: 'issue_transfer_ticket',
    write: (w) => {
      w.u8(VARIANT.IssueTransferTicket);
      writeCode(w, code);
      w.fixed(ticket, 32);
    },
  }),
  cancelTicket: (code) => codeOnly('cancel_ticket', VARIANT.CancelTicket, code),
  reportStolen: (code) => codeOnly('report_stolen', VARIANT.ReportStolen, code),
  clearStolen: (code) => codeOnly('clear_stolen', VARIANT.ClearStolen, code),
};

function codeOnly(kind, variant, code) {
  return { kind, write: (w) => writeCode(w.u8(variant), code) };
}

/** The payload's borsh bytes alone. */
export function encodePayload(p) {
  const w = new Writer();
  p.write(w);
  return w.finish();
}

/** The message Ed25519 signs for `domain`: `varint(len(domain)) ‖ domain ‖ message`. */
export function framed(domain, message) {
  const ns = utf8.encode(domain);
  const len = [];
  for (let n = ns.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return new Writer().bytes(len).bytes(ns).bytes(message).finish();
}

/** Signs `message` in `domain` with a 32-byte Ed25519 seed. */
export function sign(seed, domain, message) {
  return ed.sign(framed(domain, message), seed);
}

/** The public key of a 32-byte Ed25519 seed. */
export function publicKey(seed) {
  return ed.getPublicKey(seed);
}

/** A fresh 32-byte seed from the browser's randomness. */
export function randomSeed() {
  return ed.utils.randomSecretKey();
}

/** What a ticket key signs to redeem (`tx::redeem_message`). */
export function redeemMessage(code, owner, device) {
  return new Writer()
    .fixed(utf8.encode(code.gtin), 14)
    .bytes(serialBigEndian(code.serial))
    .fixed(owner, 32)
    .fixed(device ?? new Uint8Array(32), 32)
    .finish();
}

/** The ticket key's proof giving `code` to `owner` (`TicketSecret::redeem`). */
export function ticketProof(ticketSeed, code, owner, device) {
  return sign(ticketSeed, DOMAIN.TICKET, redeemMessage(code, owner, device));
}

/** A device pseudonym as the scan gateway computes it (`scans::device_pseudonym`). */
export function devicePseudonym(chainId, device) {
  const id = utf8.encode(chainId);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(id.length), false);
  return sha256(
    new Writer().bytes(utf8.encode('jitrace/v1/device')).bytes(len).bytes(id).bytes(utf8.encode(device)).finish(),
  );
}

/**
 * A transaction's body, unsigned: `borsh(Transaction)`. The console sends it to the node,
 * which signs it with the user's sealed key (`POST /console/api/tx`).
 * @param {{chainId: string, signer: Uint8Array, nonce: bigint|number, payload: object}} tx
 */
export function transactionBody({ chainId, signer, nonce, payload: p }) {
  const w = new Writer().string(chainId).fixed(signer, 32).u64(nonce);
  p.write(w);
  return w.finish();
}

/**
 * A signed transaction's wire bytes: `SignedTransaction { body: borsh(Transaction), signature }`.
 * @param {{chainId: string, seed: Uint8Array, nonce: bigint|number, payload: object}} tx
 */
export function signTransaction({ chainId, seed, nonce, payload: p }) {
  const body = transactionBody({ chainId, signer: publicKey(seed), nonce, payload: p });
  const signature = sign(seed, DOMAIN.TRANSACTION, body);
  return new Writer().vec(body).fixed(signature, 64).finish();
}

/** Lower-case hex. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Bytes from hex; throws on anything else. */
export function fromHex(text) {
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new Error('not hex');
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Unpadded base64url, as ticket links carry secrets. */
export function toBase64Url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes from unpadded base64url; `null` for anything else. */
export function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

// The brand's and channels' payloads (the console's brand and channel screens).

/** More `Payload` variant indices (declaration order; never renumber). */
const BRAND_VARIANT = {
  RegisterProduct: 5,
  UpdateProduct: 6,
  RegisterCodeKey: 7,
  IssueCodeBatch: 9,
  AuthoriseChannel: 10,
  RevokeChannel: 11,
  VoidCodes: 12,
  RecordCodeEvent: 13,
};

/** `ChannelRole` codes. */
export const CHANNEL_ROLE = { distributor: 0, retailer: 1, logistics: 2 };

/** `CodeAction` variants, by the names the channel screen uses. */
export const CODE_ACTION = {
  commission: 0,
  pack: 1,
  ship: 2,
  receive: 3,
  store: 4,
  transfer_custody: 5,
  sell: 6,
  destroy: 7,
  decommission: 8,
};

function i32(w, n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return w.bytes(b);
}

function gtin(w, value) {
  if (!/^\d{14}$/.test(value)) throw new Error('a GTIN has 14 digits');
  return w.fixed(utf8.encode(value), 14);
}

function point(w, p) {
  i32(w, p.latMicro);
  i32(w, p.lonMicro);
}

function productInfo(w, { gtin: g, org, name, description = '', attributes = [], media = [] }) {
  gtin(w, g).string(org).string(name).string(description).u32(attributes.length);
  for (const a of attributes) w.string(a.name).string(a.value);
  w.u32(media.length);
  for (const m of media) w.fixed(fromHex(m.hash), 32).string(m.mime).u64(m.size).string(m.caption ?? '');
}

function action(w, a) {
  const variant = CODE_ACTION[a.kind];
  if (variant === undefined) throw new Error(`unknown action ${a.kind}`);
  w.u8(variant);
  if (a.kind === 'ship' || a.kind === 'transfer_custody') w.string(a.to);
  if (a.kind === 'sell') {
    // Buyer: Anonymous (0), Owner(key) (1), ClaimTicket(key) (2).
    if (a.owner) w.u8(1).fixed(a.owner, 32);
    else if (a.ticket) w.u8(2).fixed(a.ticket, 32);
    else w.u8(0);
  }
}

export const brandPayload = {
  registerProduct: (info) => ({
    kind: 'register_product',
    write: (w) => productInfo(w.u8(BRAND_VARIANT.RegisterProduct), info),
  }),
  updateProduct: (info) => ({
    kind: 'update_product',
    write: (w) => productInfo(w.u8(BRAND_VARIANT.UpdateProduct), info),
  }),
  registerCodeKey: (org, key) => ({
    kind: 'register_code_key',
    write: (w) => w.u8(BRAND_VARIANT.RegisterCodeKey).string(org).fixed(key, 32),
  }),
  issueCodeBatch: ({ org, licence, gtin: g, lot, firstSerial, count, codeKey }) => ({
    kind: 'issue_code_batch',
    write: (w) => {
      w.u8(BRAND_VARIANT.IssueCodeBatch).string(org).string(licence);
      gtin(w, g).string(lot).u64(firstSerial).u64(count).fixed(codeKey, 32);
    },
  }),
  authoriseChannel: ({ brand, channel, role, products = [], territory = [], geofence = null, validFrom, validUntil }) => ({
    kind: 'authorise_channel',
    write: (w) => {
      const r = CHANNEL_ROLE[role];
      if (r === undefined) throw new Error(`unknown channel role ${role}`);
      w.u8(BRAND_VARIANT.AuthoriseChannel).string(brand).string(channel).u8(r).u32(products.length);
      for (const p of products) gtin(w, p);
      w.u32(territory.length);
      for (const t of territory) w.string(t);
      w.option(geofence, (f) => {
        point(w, f.centre);
        w.u32(f.radiusM);
      });
      w.u64(validFrom).u64(validUntil);
    },
  }),
  revokeChannel: ({ brand, channel, grant, reason }) => ({
    kind: 'revoke_channel',
    write: (w) => w.u8(BRAND_VARIANT.RevokeChannel).string(brand).string(channel).u32(grant).string(reason),
  }),
  voidCodes: ({ org, gtin: g, firstSerial, count, reason }) => ({
    kind: 'void_codes',
    write: (w) => gtin(w.u8(BRAND_VARIANT.VoidCodes).string(org), g).u64(firstSerial).u64(count).string(reason),
  }),
  /** A code's event: `code` from `codeId`, `signature` the printed AI 8030 text. */
  recordCodeEvent: ({ code, signature, org, action: a, place = {} }) => ({
    kind: 'record_code_event',
    write: (w) => {
      writeCode(w.u8(BRAND_VARIANT.RecordCodeEvent), code);
      w.string(signature).string(org);
      action(w, a);
      w.option(place.point, (p) => point(w, p))
        .option(place.region, (r) => w.string(r))
        .option(place.city, (c) => w.string(c));
    },
  }),
};

/** A printed code URL (`…/01/{gtin}/21/{serial}?8030=sig`): `{gtin, serial, signature}`, or null. */
export function parseCodeUrl(text) {
  let url;
  try {
    url = new URL(String(text).trim(), 'https://code.invalid');
  } catch {
    return null;
  }
  const m = /\/01\/(\d{14})\/21\/(\d{1,20})\/?$/.exec(url.pathname);
  const signature = url.searchParams.get('8030');
  if (!m || !signature || !/^[A-Za-z0-9_-]+$/.test(signature)) return null;
  try {
    return { ...codeId(m[1], m[2]), signature };
  } catch {
    return null;
  }
}

/** A transaction's id: SHA-256 of its body (`SignedTransaction::hash`), known before sending. */
export function transactionHash(body) {
  return toHex(sha256(body));
}
