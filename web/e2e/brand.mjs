// Drives the brand's console (desktop) and the channels' phone screen in Chromium against
// `jitrace dev` with the demo. Run by crates/jitrace/tests/brand_e2e.rs, which passes NODE_URL,
// the demo users' passwords, printed codes (UNSOLD, FRESH1, FRESH2 in the distributor's hands
// or on their way to it; FORGED), CHROMIUM and SCREENSHOTS. Prints one JSON line: the new
// product's GTIN, the first label's URI and the ids of every event the phones recorded.
import { launchChromium, openWatched, overflow, submitSignIn } from './browser.mjs';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const { NODE_URL, BRAND_PASSWORD, DIST_PASSWORD, SHOP_PASSWORD, UNSOLD, FRESH1, FRESH2, FORGED, Y4M, CHROMIUM = '/usr/bin/chromium', SCREENSHOTS } = process.env;
for (const [k, v] of Object.entries({ NODE_URL, BRAND_PASSWORD, DIST_PASSWORD, SHOP_PASSWORD, UNSOLD, FRESH1, FRESH2, FORGED, Y4M })) if (!v) throw new Error(`${k} must be set`);
if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });

const problems = [];
const browser = await launchChromium(CHROMIUM, Y4M);
const SHANGHAI = { latitude: 31.2304, longitude: 121.4737 };
const DESKTOP = { viewport: { width: 1440, height: 900 }, locale: 'en-US' };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, geolocation: SHANGHAI, permissions: ['geolocation'] };
/** While set, failed requests the browser logs are expected (the phone is offline). */
let offline = false;

// The vendored qr-scanner's own warnings: a phone reaches the camera only over https (the test
// node is plain http), and Chromium's hint about its canvas reads.
const cameraOverHttp = (text) => text.startsWith('The camera stream is only accessible if the page is transferred via https') || text.startsWith('Canvas2D: Multiple readback operations using getImageData');
const open = (name, options) => openWatched(browser, name, options, problems, (text) => cameraOverHttp(text) || (offline && /ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(text)));

const step = (text) => console.log(`- ${text}`);
/** A screenshot from the top of the page; `fullPage` for the phone's long scan screen. */
async function shot(page, file, fullPage = false) {
  if (!SCREENSHOTS) return;
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, file), fullPage });
}
async function fits(page, what) {
  const problem = await overflow(page, what);
  if (problem) problems.push(problem);
}
async function signIn(page, name, password) {
  await submitSignIn(page, NODE_URL, name, password);
  await page.locator('[data-testid="org"]').waitFor();
}
async function ok(scope) {
  const o = scope.locator('[data-outcome="ok"], [data-outcome="error"]').first();
  await o.waitFor();
  if ((await o.getAttribute('data-outcome')) !== 'ok') throw new Error(`expected success, got: ${await o.innerText()}`);
  return o;
}
/** A GTIN-14 under the demo brand's company prefix, with its check digit. */
function newGtin() {
  const body = `09506000${String(Date.now() % 100000).padStart(5, '0')}`;
  const sum = [...body].reverse().reduce((s, d, i) => s + Number(d) * (i % 2 === 0 ? 3 : 1), 0);
  return body + ((10 - (sum % 10)) % 10);
}
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

const recorded = [];
let gtin;
let labelUri;
try {
  // ---- The brand, on a PC.
  const { page: desk } = await open('brand (desktop)', DESKTOP);
  await signIn(desk, 'jade-valley-admin', BRAND_PASSWORD);
  await desk.goto(`${NODE_URL}/#/dashboard`);
  await desk.locator('[data-testid="alerts-state"][data-state="live"]').waitFor();
  if (await desk.locator('[data-testid="alerts"] li[data-kind="counterfeit_scan"]').count()) throw new Error('a counterfeit alert before the scan');
  // A consumer scans a forged code in Beijing: the alert reaches the open dashboard by itself.
  const scan = await fetch(`${NODE_URL}/v1/scans`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uri: `${NODE_URL}${FORGED}`, lat: 39.9042, lon: 116.4074, device: 'e2e-phone' }),
  });
  if (!scan.ok) throw new Error(`the scan failed: ${scan.status}`);
  await desk.locator('[data-testid="alerts"] li[data-kind="counterfeit_scan"]').first().waitFor();
  await desk.locator('[data-outcome-count="genuine"]').waitFor();
  step('a counterfeit scan appears live on the dashboard');
  // Reloaded, the map has the demo's scans (a clone scanned in Shanghai and Beijing) and this
  // counterfeit one in their provinces, in the table beside it and on focusable provinces.
  await desk.reload();
  await desk.locator('[data-testid="alerts"] li[data-kind="counterfeit_scan"]').first().waitFor();
  await desk.locator('[data-testid="regions"] tr[data-region="CN-BJ"]').waitFor();
  for (const region of ['CN-BJ', 'CN-SH']) {
    const total = Number(await desk.locator(`[data-testid="regions"] tr[data-region="${region}"]`).getAttribute('data-total'));
    if (!(total > 0)) problems.push(`the map's table has no scans in ${region}`);
    if (!(await desk.locator(`svg.scan-map path[data-region="${region}"][tabindex="0"]`).count())) problems.push(`${region} is not a focusable shaded province on the map`);
  }
  const beijingFakes = Number(await desk.locator('[data-testid="regions"] tr[data-region="CN-BJ"] td[data-outcome="counterfeit"]').innerText());
  if (!(beijingFakes >= 1)) problems.push(`Beijing shows ${beijingFakes} counterfeit scans, not at least 1`);
  await desk.locator('svg.scan-map path[data-region="CN-BJ"]').focus();
  if (!(await desk.locator('[data-testid="regions"] tr[data-region="CN-BJ"].active').count())) problems.push('focusing Beijing on the map does not mark its row');
  await shot(desk, 'brand-dashboard-desktop.png');
  await fits(desk, 'dashboard (desktop)');
  step('the map shows the scans in Beijing and Shanghai');

  // Registers a product with a photo.
  gtin = newGtin();
  await desk.goto(`${NODE_URL}/#/products`);
  const product = desk.locator('[data-testid="product-form"]');
  await product.locator('input[name=gtin]').fill(gtin);
  await product.locator('input[name=name]').fill('Jade Valley Rosé 2025 玉谷桃红');
  await product.locator('textarea[name=description]').fill('Dry rosé.');
  await product.locator('textarea[name=attributes]').fill('volume_ml=750\nvintage=2025');
  await product.locator('input[type=file]').setInputFiles({ name: 'rose.png', mimeType: 'image/png', buffer: PNG });
  await product.locator('input[name=caption]').fill('Front label');
  await product.locator('button[type=submit]').click();
  await ok(product);
  await desk.locator('[data-testid="products"] code', { hasText: gtin }).waitFor();
  await shot(desk, 'brand-products-desktop.png');
  step(`product ${gtin} registered with its photo`);

  // Finds it in the batches screen's product picker by part of its name, searched on the node.
  await desk.goto(`${NODE_URL}/#/batches`);
  const picker = desk.locator('#product-search');
  await picker.fill('玉谷桃红');
  await desk.locator(`#product-options li[data-gtin="${gtin}"]`).waitFor();
  await picker.press('ArrowDown');
  await picker.press('Enter');
  await desk.waitForFunction((g) => location.hash === `#/batches/${g}`, gtin);
  step('the product picker found it by name');

  // Issues a batch of its codes, watching the progress bar.
  const issue = desk.locator('[data-testid="issue-batch"]');
  await issue.locator('input[name=lot]').fill('L2026-E2E');
  await issue.locator('input[name=count]').fill('5000');
  await desk.waitForFunction(() => document.querySelector('[data-testid="issue-batch"] input[name=first]')?.value === '1');
  await issue.locator('button[type=submit]').click();
  await ok(issue);
  if ((await issue.locator('progress').getAttribute('value')) !== '3') problems.push('the progress bar did not reach the end');
  await desk.locator('[data-testid="batches"] code', { hasText: 'L2026-E2E' }).waitFor();
  await shot(desk, 'brand-batches-desktop.png');
  step('a batch of 5,000 codes issued');
  // Downloads its labels: every code, signed with the key sealed for the brand admin.
  const [download] = await Promise.all([desk.waitForEvent('download'), desk.locator('[data-labels="L2026-E2E"]').click()]);
  const lines = (await readFile(await download.path(), 'utf8')).trim().split('\n');
  if (lines[0] !== 'gtin,serial,lot,uri' || lines.length !== 5001) throw new Error(`the label file has ${lines.length} lines, starting ${lines[0]}`);
  labelUri = lines[1].split(',')[3];
  step(`labels downloaded: ${lines.length - 1} codes, ${download.suggestedFilename()}`);
  // And as PDFs made by the node: A4 sheets and roll labels.
  for (const layout of ['a4', 'roll']) {
    const [pdf] = await Promise.all([desk.waitForEvent('download', { timeout: 120_000 }), desk.locator(`[data-pdf="L2026-E2E/${layout}/0"]`).click()]);
    const bytes = await readFile(await pdf.path());
    if (bytes.subarray(0, 5).toString('latin1') !== '%PDF-' || bytes.length < 10_000) throw new Error(`the ${layout} label PDF is ${bytes.length} bytes starting ${JSON.stringify(bytes.subarray(0, 8).toString('latin1'))}`);
    step(`${layout} label PDF downloaded: ${bytes.length} bytes, ${pdf.suggestedFilename()}`);
  }
  await desk.locator('[data-sheet="L2026-E2E"]').click();
  await desk.waitForFunction(() => document.querySelectorAll('[data-testid="label-sheet"] img').length === 60);
  await shot(desk, 'brand-labels-desktop.png');
  step('a printable sheet of 60 labels with QR codes');

  // Authorises a channel for Zhejiang, then revokes the grant.
  await desk.goto(`${NODE_URL}/#/channels`);
  const channelForm = desk.locator('[data-testid="authorise-channel"]');
  await channelForm.locator('input[name=channel]').fill('shanghai-fine-wines');
  await channelForm.locator('select[name=role]').selectOption('retailer');
  await channelForm.locator('input[value="CN-ZJ"]').check();
  await channelForm.locator('input[name=territory_more]').fill('CN-AH');
  await channelForm.locator('button[type=submit]').click();
  await ok(channelForm);
  const grant = desk.locator('[data-testid="channels"] li', { hasText: 'CN-AH' });
  await grant.waitFor();
  const grantId = await grant.getAttribute('data-grant');
  await shot(desk, 'brand-channels-desktop.png');
  desk.once('dialog', (d) => d.accept('trial ended'));
  await grant.locator('button[data-revoke]').click();
  await desk.locator(`[data-testid="channels"] li[data-grant="${grantId}"][data-in-force="false"]`).waitFor();
  step(`channel grant ${grantId} authorised and revoked`);

  // ---- The distributor, on a phone (Chinese), part of the time offline.
  const { context: distCtx, page: dist } = await open('distributor (phone)', { ...PHONE, locale: 'zh-CN' });
  await signIn(dist, 'distributor-admin', DIST_PASSWORD);
  await dist.goto(`${NODE_URL}/#/scan`);
  await dist.locator('[data-testid="gps"]', { hasText: 'GPS 31.2304' }).waitFor();
  const form = dist.locator('[data-testid="scan-form"]');
  await form.locator('input[name=region]').fill('CN-SH');
  await form.locator('input[name=city]').fill('上海');
  const record = async (page, code) => {
    await page.locator('#scan-code').fill(`${NODE_URL}${code}`);
    await page.locator('[data-testid="scan-form"] button[type=submit]').click();
  };
  const settled = async (page, count) => {
    try {
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="recorded"] li').length >= n, count, { timeout: 60_000 });
      await page.locator('[data-testid="queue-state"][data-waiting="0"]').waitFor({ timeout: 60_000 });
    } catch (e) {
      const text = await page.locator('main').innerText();
      throw new Error(`${count} events not recorded: ${e.message}\n${text}\n${problems.join('\n')}`);
    }
    const failed = await page.locator('[data-testid="queue"] li').count();
    if (failed) throw new Error(`events need attention: ${await page.locator('[data-testid="queue"]').innerText()}`);
  };
  await form.locator('input[value=receive]').check();
  await record(dist, FRESH1);
  await settled(dist, 1);
  step('the distributor received an item online');

  offline = true;
  await distCtx.setOffline(true);
  await dist.locator('[data-testid="net"][data-online="false"]').waitFor();
  await record(dist, FRESH2);
  await form.locator('input[value=ship]').check();
  await form.locator('input[name=to]').fill('shanghai-fine-wines');
  await record(dist, UNSOLD);
  await record(dist, FRESH1);
  await dist.locator('[data-testid="queue-state"][data-waiting="3"]').waitFor();
  await shot(dist, 'channel-offline-phone.png', true);
  await fits(dist, 'scan screen offline (phone)');
  step('offline: three events wait in the queue');
  await distCtx.setOffline(false);
  offline = false;
  await settled(dist, 4);
  await shot(dist, 'channel-scan-phone.png', true);
  step('back online: the queue is sent, in order, once');
  recorded.push(...(await dist.locator('[data-testid="recorded"] li').evaluateAll((els) => els.map((e) => e.dataset.id))));

  // ---- The retailer (English, desktop width too) receives both and sells one.
  const { page: shop } = await open('retailer (phone)', { ...PHONE, locale: 'en-US', permissions: ['geolocation', 'camera'] });
  await signIn(shop, 'retailer-admin', SHOP_PASSWORD);
  // A channel's users land on the scanner.
  await shop.locator('[data-testid="scan-form"]').waitFor();
  await shop.locator('[data-testid="gps"]', { hasText: 'GPS 31.2304' }).waitFor();
  const shopForm = shop.locator('[data-testid="scan-form"]');
  await shopForm.locator('input[name=region]').fill('CN-SH');
  await shopForm.locator('input[name=city]').fill('Shanghai');
  await shopForm.locator('input[value=receive]').check();
  await record(shop, UNSOLD);
  await settled(shop, 1);
  // FRESH1's label through the fake camera: read by the vendored QR decoder (Chromium on Linux
  // has no BarcodeDetector), recorded once although it stays in view.
  await shop.locator('[data-testid="camera"]').click();
  await settled(shop, 2);
  await shop.waitForTimeout(1500);
  await shop.locator('[data-testid="camera"]').click();
  await shop.locator('video.camera').waitFor({ state: 'hidden' });
  const camRecorded = await shop.locator('[data-testid="recorded"] li').count();
  if (camRecorded !== 2) problems.push(`the camera recorded ${camRecorded - 1} events for one label, not 1`);
  step('the retailer received an item by the camera');
  await shopForm.locator('input[value=sell]').check();
  await record(shop, UNSOLD);
  await settled(shop, 3);
  recorded.push(...(await shop.locator('[data-testid="recorded"] li').evaluateAll((els) => els.map((e) => e.dataset.id))));
  await fits(shop, 'scan screen (phone)');
  step('the retailer received two items and sold one');

  const { page: shopDesk } = await open('retailer (desktop)', DESKTOP);
  await signIn(shopDesk, 'retailer-admin', SHOP_PASSWORD);
  await shopDesk.goto(`${NODE_URL}/#/scan`);
  await shopDesk.locator('[data-testid="scan-form"]').waitFor();
  await shot(shopDesk, 'channel-scan-desktop.png');

  // The brand reads the sold item's whole history.
  const [, g, serial] = /\/01\/(\d+)\/21\/(\d+)/.exec(UNSOLD);
  await desk.goto(`${NODE_URL}/#/history/${g}/${serial}`);
  await desk.locator('[data-testid="history"] tr[data-event]').nth(5).waitFor();
  await shot(desk, 'brand-history-desktop.png');
  step('the brand sees the sold item\'s six events');

  // The brand's dashboard on a phone.
  const { page: brandPhone } = await open('brand (phone)', { ...PHONE, locale: 'zh-CN' });
  await signIn(brandPhone, 'jade-valley-admin', BRAND_PASSWORD);
  await brandPhone.goto(`${NODE_URL}/#/dashboard`);
  await brandPhone.locator('[data-testid="alerts-state"][data-state="live"]').waitFor();
  await brandPhone.locator('[data-outcome-count="genuine"]').waitFor();
  await shot(brandPhone, 'brand-dashboard-phone.png');
  await fits(brandPhone, 'dashboard (phone)');
  await brandPhone.goto(`${NODE_URL}/#/channels`);
  await brandPhone.locator('[data-testid="channels"] li').first().waitFor();
  await fits(brandPhone, 'channels (phone)');

  // Keyboard: opened afresh, the scan screen is ready for the next code (a hardware scanner
  // types into the focused field).
  await shop.reload();
  await shop.locator('#scan-code').waitFor();
  const focused = await shop.evaluate(() => document.activeElement?.id);
  if (focused !== 'scan-code') problems.push(`the scan screen starts focused on ${focused}, not the code field`);
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify({ gtin, recorded, label: labelUri }));
