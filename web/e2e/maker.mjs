// Drives the manufacturer's and supplier's console screens in Chromium (playwright-core,
// Debian's browser) against `jitrace dev` with its B2B demo. Run by
// crates/jitrace/tests/maker_e2e.rs, which passes NODE_URL, MAKER_PASSWORD, SUPPLIER_PASSWORD,
// CODES (the demo's printed codes, JSON), CHROMIUM and SCREENSHOTS. Prints one JSON line.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const { NODE_URL, MAKER_PASSWORD, SUPPLIER_PASSWORD, CODES, CHROMIUM = '/usr/bin/chromium', SCREENSHOTS } = process.env;
if (!NODE_URL || !MAKER_PASSWORD || !SUPPLIER_PASSWORD || !CODES) throw new Error('NODE_URL, MAKER_PASSWORD, SUPPLIER_PASSWORD and CODES must be set');
if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
const codes = JSON.parse(CODES);
const gtinOf = (url) => /\/01\/(\d{14})\//.exec(url)[1];
const NUT = gtinOf(codes.nut);
const CAR = gtinOf(codes.car);

const problems = [];
/** While set, the browser may log failed requests with this status (a deliberate refusal). */
let expectedStatus = null;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const DESKTOP = { viewport: { width: 1440, height: 900 }, locale: 'en-US' };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };

const pages = [];
async function open(name, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  pages.push(page);
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    if (expectedStatus && m.text().includes(`status of ${expectedStatus}`)) return;
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${name} console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`${name} page error: ${e.message}`));
  return page;
}

const step = (text) => console.log(`- ${text}`);

/** A GTIN-13 as 14 digits from its 12-digit stem (GS1 check digit). */
function gtin14(stem) {
  const digits = `0${stem}`.split('').map(Number);
  const sum = digits.reverse().reduce((s, d, i) => s + d * (i % 2 === 0 ? 3 : 1), 0);
  return `0${stem}${(10 - (sum % 10)) % 10}`;
}

async function shot(page, file) {
  if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, file), fullPage: false });
}

async function fits(page, what) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  if (scroll > width) problems.push(`${what}: the page is ${scroll}px wide in a ${width}px window`);
}

async function signIn(page, name, password) {
  await page.goto(NODE_URL);
  await page.locator('#signin-name').fill(name);
  await page.locator('#signin-password').fill(password);
  await page.locator('form.signin button[type=submit]').click();
  await page.locator('[data-testid="org"]').waitFor();
}

/** Waits for the screen's outcome; fails on an error. */
async function outcome(page, text) {
  const o = page.locator('main [data-outcome="ok"], main [data-outcome="error"]').first();
  await o.waitFor();
  const kind = await o.getAttribute('data-outcome');
  const said = await o.innerText();
  if (kind !== 'ok') throw new Error(`expected success, got: ${said}`);
  if (text && !said.includes(text)) throw new Error(`expected "${text}" in "${said}"`);
  return said;
}

/** Scans `code` at the gate with `observed` lines; the verdict panel and that it was recorded. */
async function scanAtGate(page, code, observed) {
  await page.locator('#gate-observed').fill(observed);
  const before = await page.locator('[data-testid="verdicts"]').getAttribute('data-recorded');
  await page.locator('#gate-scan').fill(code);
  await page.locator('#gate-scan').press('Enter');
  await page.waitForFunction((b) => {
    const v = document.querySelector('[data-testid="verdicts"]');
    return v?.dataset.recorded && v.dataset.recorded !== b;
  }, before);
  const panel = page.locator('[data-testid="verdicts"] [data-verdict]').first();
  return {
    verdict: await panel.getAttribute('data-verdict'),
    reasons: await panel.locator('[data-reason]').evaluateAll((els) => els.map((e) => e.dataset.reason)),
    text: await panel.innerText(),
    focused: await page.evaluate(() => document.activeElement?.id),
  };
}

const result = {};
result.washer = null;
try {
  // The manufacturer on a desktop.
  const desk = await open('maker (desktop)', DESKTOP);
  await signIn(desk, 'maker-admin', MAKER_PASSWORD);
  const nav = await desk.locator('nav').innerText();
  for (const screen of ['Supplier authorisations', 'Receiving gate', 'Assembly', 'Trace', 'Recalls']) {
    if (!nav.includes(screen)) problems.push(`the manufacturer's navigation lacks ${screen}: ${nav}`);
  }
  if (nav.includes('Organisations')) problems.push('a manufacturer sees the platform screens');
  step('the manufacturer signs in and sees its screens');

  // Authorises the bolt supplier for nuts, with a specification of all three kinds of rule.
  await desk.goto(`${NODE_URL}/#/suppliers`);
  await desk.locator('[data-testid="suppliers"][data-total]').waitFor();
  const before = Number(await desk.locator('[data-testid="suppliers"]').getAttribute('data-total'));
  const form = desk.locator('[data-testid="authorise"]');
  await form.locator('input[name=supplier]').fill('apex-fasteners');
  await form.locator('input[name=part]').fill(NUT);
  const rules = [
    ['thread', 'exactly', 'M10'],
    ['strength', 'one_of', '8.8 | 10.9'],
    ['torque_nm', 'range', ['45', '55']],
  ];
  for (const [i, [name, kind, value]] of rules.entries()) {
    await form.locator('[data-add-rule]').click();
    const rule = form.locator('[data-rule]').nth(i);
    await rule.locator('input[name=name]').fill(name);
    await rule.locator('select[name=kind]').selectOption(kind);
    if (kind === 'range') {
      await rule.locator('input[name=min]').fill(value[0]);
      await rule.locator('input[name=max]').fill(value[1]);
    } else await rule.locator('input[name=values]').fill(value);
  }
  await shot(desk, 'maker-authorise-desktop.png');
  await form.locator('button[type=submit]').click();
  await outcome(desk, 'apex-fasteners');
  const row = desk.locator('[data-testid="suppliers"] tr', { hasText: NUT });
  await row.waitFor();
  const after = Number(await desk.locator('[data-testid="suppliers"]').getAttribute('data-total'));
  if (after !== before + 1) problems.push(`the list had ${before} authorisations and has ${after}`);
  const rowText = await row.innerText();
  for (const want of ['M10', '8.8 | 10.9', '45 ≤ torque_nm ≤ 55', 'in force']) if (!rowText.includes(want)) problems.push(`the new authorisation lacks ${want}: ${rowText}`);
  await desk.locator('#sup-filter').fill('nut');
  await desk.waitForFunction(() => document.querySelector('[data-testid="suppliers"]')?.dataset.total === '1');
  await shot(desk, 'maker-suppliers-desktop.png');
  await desk.locator('#sup-filter').fill('');
  await desk.waitForFunction(() => Number(document.querySelector('[data-testid="suppliers"]')?.dataset.total) >= 2);
  const loaded = await desk.locator('[data-testid="suppliers"]').getAttribute('data-loaded');
  await desk.getByRole('button', { name: 'Sort by Part' }).click();
  await desk.waitForFunction((l) => {
    const table = document.querySelector('[data-testid="suppliers"]');
    return table?.dataset.loaded !== l && table.querySelector('th[aria-sort="ascending"]');
  }, loaded);
  const parts = await desk.locator('[data-testid="suppliers"] tbody tr td:nth-child(2) code').allInnerTexts();
  if (parts.join() !== [...parts].sort().join()) problems.push(`sorting by part gives ${parts}`);
  step(`apex-fasteners is authorised for nuts ${NUT} with its specification; the list filters and sorts on the server`);

  // The receiving gate: a genuine nut in spec is accepted; a forged code and a nut out of
  // spec are rejected, with every reason in words.
  await desk.goto(`${NODE_URL}/#/gate`);
  await desk.locator('#gate-scan').waitFor();
  if ((await desk.evaluate(() => document.activeElement?.id)) !== 'gate-scan') problems.push('the gate does not start focused on the scan field');
  // The keyboard walks the gate in order: scan field, its button, what the dock measured.
  await desk.keyboard.press('Tab');
  const afterScan = await desk.evaluate(() => document.activeElement?.textContent);
  await desk.keyboard.press('Tab');
  const afterButton = await desk.evaluate(() => document.activeElement?.id);
  if (afterScan !== 'Check and receive' || afterButton !== 'gate-observed') problems.push(`Tab from the scan field went to ${afterScan}, then ${afterButton}`);
  const inSpec = 'thread=M10\nstrength=10.9\ntorque_nm=50';
  const genuine = await scanAtGate(desk, codes.nut, inSpec);
  if (genuine.verdict !== 'accepted') throw new Error(`the genuine nut was ${genuine.verdict}: ${genuine.text}`);
  if (genuine.focused !== 'gate-scan') problems.push('after a scan the focus is not back on the scan field');
  await shot(desk, 'maker-gate-accepted-desktop.png');
  step('the gate accepts the genuine nut');
  const forged = await scanAtGate(desk, codes['forged-nut'], inSpec);
  if (forged.verdict !== 'rejected' || !forged.reasons.includes('code_forged')) throw new Error(`the forged nut: ${forged.verdict} ${forged.reasons}`);
  if (!forged.text.includes('Counterfeit')) problems.push(`the forged code's reason is not in words: ${forged.text}`);
  await shot(desk, 'maker-gate-rejected-desktop.png');
  step(`the gate rejects the forged nut: ${forged.reasons}`);
  const outOfSpec = await scanAtGate(desk, codes.nut2, 'thread=M10\nstrength=10.9\ntorque_nm=38');
  if (outOfSpec.verdict !== 'rejected' || !outOfSpec.reasons.includes('spec_mismatch') || !outOfSpec.text.includes('torque_nm: found 38')) {
    throw new Error(`the nut out of spec: ${outOfSpec.verdict} ${outOfSpec.text}`);
  }
  const rogue = await scanAtGate(desk, codes['rogue-bolt'], '');
  if (!rogue.reasons.includes('supplier_not_authorised')) throw new Error(`the rogue bolt: ${rogue.reasons}`);
  step(`the gate rejects a nut out of spec (${outOfSpec.reasons}) and an unauthorised supplier's bolt`);
  const sessionRows = await desk.locator('[data-testid="gate-session"] tbody tr').count();
  if (sessionRows !== 4) problems.push(`the session list has ${sessionRows} rows, not 4`);
  await desk.locator('[data-testid="gate-log"][data-total]').waitFor();
  await desk.waitForFunction(() => Number(document.querySelector('[data-testid="gate-log"]')?.dataset.total) >= 4);
  result.gate = { genuine: genuine.verdict, forged: forged.reasons, out_of_spec: outOfSpec.reasons };

  // Assembly: the car, then the nut, by scanner (Enter moves on, Enter adds).
  await desk.goto(`${NODE_URL}/#/assembly`);
  await desk.locator('#asm-parent').fill(codes.car);
  await desk.locator('#asm-parent').press('Enter');
  if ((await desk.evaluate(() => document.activeElement?.id)) !== 'asm-part') problems.push('Enter in the item field does not move to the part field');
  await desk.locator('#asm-part').fill(codes.nut);
  await desk.locator('#asm-part').press('Enter');
  await desk.locator('[data-testid="parts"] li code').first().waitFor();
  await shot(desk, 'maker-assembly-desktop.png');
  await desk.locator('[data-testid="assembly"] button[type=submit]').click();
  await outcome(desk, '1');
  step('the nut is installed in the car');

  // Backward from the car: a tree with the nut, its lot record and its supplier.
  await desk.locator('[data-testid="assembly-result"] a').click();
  await desk.locator(`[data-testid="trace-tree"] li[data-code="${NUT}:1"]`).waitFor();
  const tree = await desk.locator('[data-testid="trace-tree"]').innerText();
  if (!tree.includes('apex-fasteners') || !tree.includes('N-2026-01')) problems.push(`the tree lacks the supplier or lot: ${tree}`);
  await desk.locator(`[data-testid="trace-tree"] li[data-code="${NUT}:1"] summary`).click();
  await shot(desk, 'maker-trace-desktop.png');
  step('the backward trace shows the car → nut tree with the lot record');

  // Forward from the nut lot: the car, and where it is now.
  await desk.locator('#fw-gtin').fill(NUT);
  await desk.locator('#fw-lot').fill('N-2026-01');
  await desk.locator('[data-testid="trace-forward"] button[type=submit]').click();
  await desk.locator(`[data-testid="forward-items"] td a[href="#/trace/${CAR}/1"]`).waitFor();
  step('the forward trace from the nut lot finds the car');

  // A recall of the nut lot, and its progress.
  await desk.goto(`${NODE_URL}/#/recalls`);
  const recall = desk.locator('[data-testid="start-recall"]');
  await recall.locator('input[name=gtin]').fill(NUT);
  await recall.locator('input[name=lot]').fill('N-2026-01');
  await recall.locator('input[name=reason]').fill('thread defect 螺纹缺陷');
  await recall.locator('button[type=submit]').click();
  await outcome(desk);
  await desk.locator('[data-testid="recalls"] td', { hasText: 'thread defect' }).waitFor();
  await desk.locator('[data-testid="recalls"] a', { hasText: 'Show' }).first().click();
  await desk.locator('[data-testid="recall-progress"] [data-stat="affected"]').waitFor();
  const affected = Number(await desk.locator('[data-stat="affected"] .value').innerText());
  const located = Number(await desk.locator('[data-stat="located"] .value').innerText());
  if (affected < 1) problems.push(`the recall reaches ${affected} items`);
  await desk.locator(`[data-testid="recall-items"] td a[href="#/trace/${CAR}/1"]`).waitFor();
  await shot(desk, 'maker-recalls-desktop.png');
  result.recall = { affected, located };
  step(`recall 0 started: ${located} of ${affected} items located, the car among them`);

  // The same screens on a phone, in Chinese.
  const phone = await open('maker (phone)', PHONE);
  await signIn(phone, 'maker-admin', MAKER_PASSWORD);
  await phone.goto(`${NODE_URL}/#/gate`);
  const bolt = await scanAtGate(phone, codes.bolt, 'diameter_mm=50.00');
  if (bolt.verdict !== 'accepted' || !bolt.text.includes('合格')) throw new Error(`the phone's bolt: ${bolt.verdict} ${bolt.text}`);
  await fits(phone, 'gate (phone)');
  await shot(phone, 'maker-gate-accepted-phone.png');
  const copy = await scanAtGate(phone, codes['forged-bolt'], 'diameter_mm=48.70');
  if (copy.verdict !== 'rejected' || !copy.text.includes('假冒')) throw new Error(`the phone's forged bolt: ${copy.text}`);
  await fits(phone, 'gate rejected (phone)');
  await shot(phone, 'maker-gate-rejected-phone.png');
  // A pallet: one scan, a verdict for each of its four bolts.
  await scanAtGate(phone, codes.pallet, 'diameter_mm=50.00');
  const palletVerdicts = await phone.locator('[data-testid="verdicts"] [data-verdict="accepted"]').count();
  if (palletVerdicts !== 4) problems.push(`the pallet gave ${palletVerdicts} accepted verdicts, not 4`);
  result.pallet = palletVerdicts;
  for (const [hash, testid, file] of [
    ['#/suppliers', 'suppliers', 'maker-suppliers-phone.png'],
    [`#/trace/${CAR}/1`, 'trace-tree', 'maker-trace-phone.png'],
    ['#/recalls/0', 'recall-detail', 'maker-recalls-phone.png'],
  ]) {
    await phone.goto(`${NODE_URL}/${hash}`);
    await phone.locator(`[data-testid="${testid}"] :is(tr, li, section)`).first().waitFor();
    await fits(phone, `${hash} (phone)`);
    await shot(phone, file);
  }
  step('the gate (a part, a forged code, a pallet of four), authorisations, trace and recall fit a 390 px phone, in Chinese');

  // The manufacturer closes the recall.
  await desk.goto(`${NODE_URL}/#/recalls/0`);
  await desk.getByRole('button', { name: 'Close the recall' }).click();
  await desk.locator('[data-testid="recall-detail"] [data-closed="true"]').waitFor();
  await desk.locator('[data-testid="recalls"] td', { hasText: 'closed' }).waitFor();
  step('the manufacturer closes the recall');

  // The supplier sees who authorised it, records a lot, and its parts' verdicts.
  const supplier = await open('supplier (desktop)', DESKTOP);
  await signIn(supplier, 'supplier-admin', SUPPLIER_PASSWORD);
  const supplierNav = await supplier.locator('nav').innerText();
  if (supplierNav.includes('Receiving gate')) problems.push('a supplier sees the receiving gate');
  await supplier.goto(`${NODE_URL}/#/suppliers`);
  await supplier.waitForFunction(() => Number(document.querySelector('[data-testid="suppliers"]')?.dataset.total) >= 2);
  await supplier.goto(`${NODE_URL}/#/parts`);
  // A new part type (a washer, under the supplier's GS1 prefix) and a batch of its codes.
  const washer = gtin14('950701200003');
  const part = supplier.locator('[data-testid="register-part"]');
  await part.locator('input[name=gtin]').fill(washer);
  await part.locator('input[name=name]').fill('M10 washer 垫圈');
  await part.locator('#part-attributes').fill('thickness_mm=2.0');
  await part.locator('button[type=submit]').click();
  await outcome(supplier, washer);
  const batch = supplier.locator('[data-testid="issue-batch"]');
  await batch.locator('input[name=gtin]').fill(washer);
  await batch.locator('input[name=lot]').fill('W-2026-01');
  await batch.locator('input[name=count]').fill('250');
  await batch.locator('button[type=submit]').click();
  await supplier.locator('[data-testid="batches"] td', { hasText: 'W-2026-01' }).waitFor();
  await shot(supplier, 'maker-supplier-batches-desktop.png');
  result.washer = washer;
  step(`the supplier registers part ${washer} and issues a batch of 250 codes`);
  const lot = supplier.locator('[data-testid="record-lot"]');
  await lot.locator('input[name=gtin]').fill(NUT);
  await lot.locator('input[name=lot]').fill('N-2026-01');
  await lot.locator('#lot-attributes').fill('thread=M10\nstrength=10.9\ntorque_nm=49.5');
  await lot.locator('#lot-tests').fill('salt spray=480 h=pass');
  await lot.locator('button[type=submit]').click();
  await outcome(supplier, 'N-2026-01');
  await supplier.waitForFunction(() => Number(document.querySelector('[data-testid="gate-log"]')?.dataset.total) >= 3);
  await shot(supplier, 'maker-supplier-lots-desktop.png');
  step('the supplier sees its authorisations, records a lot and sees its parts at the gate');

  // A supplier's session may not use a manufacturer's gate.
  expectedStatus = 403;
  const refused = await supplier.evaluate(async () => {
    const s = await fetch('/console/api/session').then((r) => r.json());
    const r = await fetch('/console/api/b2b/gate/check', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf },
      body: JSON.stringify({ org: 'nova-motors', items: [{ scanned: '', observed: [] }] }),
    });
    return r.status;
  });
  expectedStatus = null;
  if (refused !== 403) problems.push(`a supplier's gate check answered ${refused}`);

  if (problems.length) throw new Error(`problems:\n${problems.join('\n')}`);
  console.log(JSON.stringify(result));
} catch (e) {
  // What the browser showed when it failed, for the test's output.
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: join(tmpdir(), `jitrace-maker-failed-${i}.png`) }).catch(() => {});
    console.log(`page ${i} at ${page.url()}:\n${await page.locator('main').innerText().catch(() => '?')}`);
  }
  if (problems.length) console.log(`problems:\n${problems.join('\n')}`);
  throw e;
} finally {
  await browser.close();
}
