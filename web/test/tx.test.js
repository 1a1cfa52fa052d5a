// The browser's transaction encoding against reference bytes written by the Rust types
// (crates/jitrace-api/tests/web_vectors.rs runs this file). Run alone: `npm test` in web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { partsPayload } from '../js/tx-parts.js';
import {
  brandPayload,
  codeId,
  devicePseudonym,
  fromBase64Url,
  fromHex,
  parseCodeUrl,
  payload,
  publicKey,
  signTransaction,
  ticketProof,
  toBase64Url,
  toHex,
  transactionBody,
  transactionHash,
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

test('the brand and channel screens build the same bodies as Rust', () => {
  const b = v.brand_bodies;
  const key = fromHex(v.ticket_public_key);
  const body = (p) => toHex(transactionBody({ chainId: v.chain_id, signer: publicKey(fromHex(v.owner_seed)), nonce: v.nonce, payload: p }));
  const product = {
    gtin: v.gtin,
    org: 'jade-valley',
    name: 'Jade Valley Cabernet 玉谷赤霞珠',
    description: 'Dry red',
    attributes: [{ name: 'volume_ml', value: '750' }],
    media: [{ hash: b.media_hash, mime: 'image/png', size: 1234, caption: 'Front label 正面' }],
  };
  assert.equal(body(brandPayload.registerProduct(product)), b.register_product);
  assert.equal(body(brandPayload.updateProduct({ ...product, attributes: [], media: [] })), b.update_product);
  assert.equal(body(brandPayload.registerCodeKey('jade-valley', key)), b.register_code_key);
  assert.equal(
    body(brandPayload.issueCodeBatch({ org: 'jade-valley', licence: 'jade-valley-2026', gtin: v.gtin, lot: 'L2026-009', firstSerial: BigInt(v.serial), count: 5000, codeKey: key })),
    b.issue_code_batch,
  );
  const window = { validFrom: 1780000000, validUntil: 1811536000 };
  assert.equal(
    body(
      brandPayload.authoriseChannel({
        brand: 'jade-valley',
        channel: 'shanghai-fine-wines',
        role: 'retailer',
        products: [v.gtin],
        territory: ['CN-SH', 'CN-ZJ'],
        geofence: { centre: { latMicro: 31230400, lonMicro: 121473700 }, radiusM: 50000 },
        ...window,
      }),
    ),
    b.authorise_channel,
  );
  assert.equal(
    body(brandPayload.authoriseChannel({ brand: 'jade-valley', channel: 'shanghai-fine-wines', role: 'distributor', territory: ['CN'], ...window })),
    b.authorise_channel_minimal,
  );
  assert.equal(
    body(brandPayload.revokeChannel({ brand: 'jade-valley', channel: 'shanghai-fine-wines', grant: 3, reason: 'contract ended 合同到期' })),
    b.revoke_channel,
  );
  assert.equal(body(brandPayload.voidCodes({ org: 'jade-valley', gtin: v.gtin, firstSerial: 10, count: 20, reason: 'spoiled labels' })), b.void_codes);
  const code = codeId(v.gtin, v.serial);
  const shanghai = { point: { latMicro: 31230400, lonMicro: -121473700 }, region: 'CN-SH', city: '上海' };
  const event = (action, place) => body(brandPayload.recordCodeEvent({ code, signature: b.code_signature, org: 'shanghai-fine-wines', action, place }));
  assert.equal(event({ kind: 'receive' }, shanghai), b.receive);
  assert.equal(transactionHash(fromHex(b.receive)), b.receive_hash);
  assert.equal(event({ kind: 'ship', to: 'jade-valley' }, shanghai), b.ship);
  assert.equal(event({ kind: 'store' }, {}), b.store);
  assert.equal(event({ kind: 'sell' }, shanghai), b.sell);
  assert.equal(event({ kind: 'sell', owner: key }, shanghai), b.sell_to_owner);
  assert.equal(event({ kind: 'decommission' }, { region: 'CN' }), b.decommission);
  assert.equal(
    body(partsPayload.startRecall({ org: 'jade-valley', scope: { lot: { gtin: v.gtin, lot: 'L2026-001' } }, reason: 'cork taint 木塞污染' })),
    b.start_recall_lot,
  );
  assert.equal(body(partsPayload.startRecall({ org: 'jade-valley', scope: { product: v.gtin }, reason: 'recall' })), b.start_recall_product);
  assert.equal(body(partsPayload.closeRecall('jade-valley', 2)), b.close_recall);
  assert.throws(() => brandPayload.recordCodeEvent({ code, signature: 'x', org: 'o', action: { kind: 'teleport' } }).write(new Proxy({}, { get: () => function () { return this; } })));
});

test('printed code URLs parse, anything else is null', () => {
  const sig = 'A'.repeat(86);
  assert.deepEqual(parseCodeUrl(`http://127.0.0.1:8080/01/${v.gtin}/21/${v.serial}?8030=${sig}`), { gtin: v.gtin, serial: BigInt(v.serial), signature: sig });
  assert.deepEqual(parseCodeUrl(`/01/${v.gtin}/21/7?8030=${sig}`)?.serial, 7n);
  assert.equal(parseCodeUrl(`/01/${v.gtin}/21/7`), null);
  assert.equal(parseCodeUrl('hello'), null);
  assert.equal(parseCodeUrl(`/01/123/21/7?8030=${sig}`), null);
});
