// The B2B payloads of the console (web/js/tx-parts.js) against reference bytes written by the
// Rust types (crates/jitrace-api/tests/web_vectors.rs runs this file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { codeId, fromHex, publicKey, toHex, transactionBody } from '../js/tx.js';
import { decimalMilli, parsePrinted, partsPayload as p } from '../js/tx-parts.js';
import { sha256 } from '@noble/hashes/sha2.js';

const v = JSON.parse(readFileSync(new URL('./vectors-parts.json', import.meta.url), 'utf8'));
const signer = publicKey(fromHex(v.owner_seed));
const body = (payload) => toHex(transactionBody({ chainId: v.chain_id, signer, nonce: v.nonce, payload }));
const part = '09507001000011';
const code = (serial) => codeId(part, serial);
const maker = 'auto-maker';
const supplier = 'bolt-works';

/** `Hash::of(&[b"spec sheet"])`: SHA-256 over the parts' bytes. */
const specHash = sha256(new TextEncoder().encode('spec sheet'));

test('every B2B body the console sends', () => {
  const b = v.bodies;
  assert.equal(
    body(p.registerPart({ gtin: part, org: supplier, name: 'M10 nut 螺母', description: 'zinc plated', attributes: [{ name: 'thread', value: 'M10' }] })),
    b.register_part,
  );
  assert.equal(
    body(p.issueBatch({ org: supplier, licence: 'bolt-works-2026', gtin: part, lot: 'N-2026-01', firstSerial: BigInt(v.serial), count: 500, codeKey: signer })),
    b.issue_batch,
  );
  assert.equal(
    body(
      p.authoriseSupplier({
        manufacturer: maker,
        supplier,
        part,
        rules: [
          { name: 'thread', kind: 'exactly', values: ['M10'] },
          { name: 'strength', kind: 'one_of', values: ['8.8', '10.9 级'] },
          { name: 'diameter_mm', kind: 'range', min: '-1.005', max: '50.05' },
        ],
        document: specHash,
        validFrom: 1780000000,
        validUntil: 1811536000,
      }),
    ),
    b.authorise_supplier,
  );
  assert.equal(body(p.authoriseSupplier({ manufacturer: maker, supplier, part, rules: [], validFrom: 1, validUntil: 2 })), b.authorise_supplier_no_rules);
  assert.equal(body(p.revokeSupplier({ manufacturer: maker, supplier, part, reason: 'audit failed 审核未通过' })), b.revoke_supplier);
  assert.equal(
    body(
      p.recordLot({
        gtin: part,
        lot: 'N-2026-01',
        attributes: [{ name: 'thread', value: 'M10' }, { name: 'torque_nm', value: '50' }],
        producedAt: 1780000000,
        tests: [{ name: 'salt spray', value: '480 h', passed: true }, { name: 'hardness', value: 'HRC 30', passed: false }],
      }),
    ),
    b.record_lot,
  );
  assert.equal(body(p.recordLot({ gtin: part, lot: 'N-2026-02', attributes: [] })), b.record_lot_minimal);
  assert.equal(
    body(
      p.gateReceive(maker, [
        { scanned: 'https://id.example.com/01/09507001000011/21/1?8030=abc', observed: [{ name: 'torque_nm', value: '50' }, { name: 'thread', value: 'M10' }] },
        { scanned: '', observed: [] },
      ]),
    ),
    b.gate_receive,
  );
  assert.equal(
    body(p.assemble({ org: maker, parent: { code: code(v.serial), signature: 'c2lnbmF0dXJl' }, remove: [code('2')], add: [code('3'), code('4')] })),
    b.assemble,
  );
  assert.equal(body(p.startRecall({ org: maker, scope: { lot: { gtin: part, lot: 'N-2026-01' } }, reason: 'thread defect 螺纹缺陷' })), b.start_recall_lot);
  assert.equal(body(p.startRecall({ org: maker, scope: { product: part }, reason: 'recall' })), b.start_recall_product);
  assert.equal(body(p.startRecall({ org: maker, scope: { issuer: supplier }, reason: 'recall' })), b.start_recall_issuer);
  assert.equal(body(p.closeRecall(maker, 7)), b.close_recall);
});

test('decimals and printed codes are read like the node reads them', () => {
  assert.equal(decimalMilli('49.95'), 49950n);
  assert.equal(decimalMilli(' -1.005 '), -1005n);
  assert.equal(decimalMilli('.5'), 500n);
  assert.equal(decimalMilli('5.'), 5000n);
  for (const bad of ['', '+', '1.2345', '1e3', '0x10', '99999999999999999999']) assert.equal(decimalMilli(bad), null, bad);
  assert.throws(() => body(p.authoriseSupplier({ manufacturer: maker, supplier, part, rules: [{ name: 'x', kind: 'range', min: 'a', max: '1' }], validFrom: 1, validUntil: 2 })));
  assert.throws(() => p.startRecall({ org: maker, scope: {}, reason: 'x' }).write({ u8() { return this; }, string() { return this; } }));
  const printed = parsePrinted(`http://127.0.0.1:8080/01/${part}/21/18446744073709551615?8030=AbC-_9`);
  assert.deepEqual(printed, { code: { gtin: part, serial: 2n ** 64n - 1n }, signature: 'AbC-_9' });
  assert.deepEqual(parsePrinted(`${part}:12`), { code: { gtin: part, serial: 12n }, signature: null });
  assert.equal(parsePrinted(`${part}:18446744073709551616`), null);
  assert.equal(parsePrinted('not a code'), null);
});
