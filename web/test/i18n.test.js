// The console's strings: both languages have every key, no empty strings, the same
// placeholders. Run by crates/jitrace-api/tests/web_vectors.rs with the encoding tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';

globalThis.localStorage = { getItem: () => null, setItem() {} };
const { TABLES } = await import('../js/console/i18n.js');

test('zh and en have the same keys and placeholders', () => {
  const zh = TABLES.zh;
  const en = TABLES.en;
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  const holes = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  for (const key of Object.keys(en)) {
    assert.ok(en[key].trim() && zh[key].trim(), `${key} is empty`);
    assert.deepEqual(holes(zh[key]), holes(en[key]), `${key}: placeholders differ`);
  }
});

test('every key the console uses is in the tables', async () => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const dir = new URL('../js/console/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'i18n.js')) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    for (const [, key] of text.matchAll(/\bt\('([a-z_]+\.[a-z_]+)'/g)) {
      assert.ok(key in TABLES.en, `${file} uses ${key}, which is not in the tables`);
    }
  }
});
