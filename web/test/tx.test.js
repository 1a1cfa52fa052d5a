// The browser's transaction encoding against reference bytes written by the Rust types
// (crates/jitrace-api/tests/web_vectors.rs runs this file). Run alone: `npm test` in web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  codeId,
  devicePseudonym,
  fromBase64Url,
  fromHex,
  payload,
  publicKey,
  signTransaction,
  ticketProof,
  toBase64Url,
  toHex,
  transactionBody,
} from '../js/tx.js';

const v = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const ownerSeed = fromHex(v.owner_seed);
const ticketSeed = fromHex(v.ticket_seed);
const code = codeId(v.gtin, v.serial);
const device = devicePseudonym(v.chain_id, v.device);
const ticket = publicKey(ticketSeed);
const signed = (p) => toHex(signTransaction({ chainId: v.chain_id, seed: ownerSeed, nonce: v.nonce, payload: p }));

test('keys and the device pseudonym', () => {
  assert.equal(toHex(publicKey(ownerSeed)), v.owner_public_key);
  assert.equal(toHex(ticket), v.ticket_public_key);
  assert.equal(toHex(device), v.device_pseudonym);
});

test('ticket proof', () => {
  assert.equal(toHex(ticketProof(ticketSeed, code, publicKey(ownerSeed), device)), v.ticket_proof);
});

test('every payload the page signs', () => {
  const owner = publicKey(ownerSeed);
  const t = v.transactions;
  assert.equal(signed(payload.redeemTicket(code, ticket, ticketProof(ticketSeed, code, owner, device), device)), t.redeem_ticket);
  assert.equal(
    signed(payload.redeemTicket(code, ticket, ticketProof(ticketSeed, code, owner, null), null)),
    t.redeem_ticket_without_device,
  );
  assert.equal(signed(payload.issueTransferTicket(code, ticket)), t.issue_transfer_ticket);
  assert.equal(signed(payload.cancelTicket(code)), t.cancel_ticket);
  assert.equal(signed(payload.reportStolen(code)), t.report_stolen);
  assert.equal(signed(payload.clearStolen(code)), t.clear_stolen);
});

test('codes and links are checked', () => {
  assert.throws(() => codeId('123', '1'));
  assert.throws(() => codeId(v.gtin, '01'));
  assert.throws(() => codeId(v.gtin, '18446744073709551616'));
  assert.equal(codeId(v.gtin, '18446744073709551615').serial, 2n ** 64n - 1n);
  assert.deepEqual(fromBase64Url(toBase64Url(ticketSeed)), ticketSeed);
  assert.equal(toBase64Url(new Uint8Array([0xfb, 0xff])), '-_8');
  assert.equal(fromBase64Url('a+b'), null);
});

test('every transaction body the console sends', () => {
  const b = v.console_bodies;
  const body = (p) => toHex(transactionBody({ chainId: v.chain_id, signer: publicKey(ownerSeed), nonce: v.nonce, payload: p }));
  assert.equal(
    body(payload.registerOrg({ id: 'new-brand', name: 'New Brand 新品牌', roles: ['brand', 'manufacturer'], gs1CompanyPrefix: '6901234', region: 'CN-SH', admin: ticket })),
    b.register_org,
  );
  assert.equal(body(payload.registerOrg({ id: 'new-brand', name: 'Shop', roles: ['retailer'], admin: ticket })), b.register_org_minimal);
  assert.equal(body(payload.addMember('new-brand', ticket)), b.add_member);
  assert.equal(body(payload.removeMember('new-brand', ticket)), b.remove_member);
  assert.equal(
    body(payload.issueLicence({ id: 'new-brand-2026', org: 'new-brand', quota: BigInt(v.serial), validFrom: 1780000000, validUntil: 1811536000 })),
    b.issue_licence,
  );
  assert.equal(body(payload.revokeLicence('new-brand-2026', 'licence fee unpaid 未缴费')), b.revoke_licence);
  assert.throws(() => payload.registerOrg({ id: 'x', name: 'x', roles: ['king'], admin: ticket }).write({ u8() { return this; }, string() { return this; }, u32() { return this; } }));
});
