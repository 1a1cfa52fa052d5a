// The consumer app in Chromium against the real binary (playwright-core, Debian's browser). Run by
// crates/jitrace/tests/consumer_e2e.rs in two phases:
// - PHASE=verdicts (BASE, SOLD, UNSOLD, CLONED, FORGED, Y4M, SCANNED): each demo code's verdict and
//   reasons in both languages at 390 and 1440 px, the map, the language switch, keyboard use,
//   text contrast, the distance after opting in to geolocation, a QR code read through the fake
//   camera (the label video Y4M shows the SCANNED code), and the PWA (manifest, icons, service
//   worker, offline page, no verdict cached);
// - PHASE=backup (CLAIM_URL): claim in one browser, back the key up, restore it in two others —
//   from the QR code and from the recovery phrase — and see "You own this item" there.
// Screenshots go to SCREENSHOTS as consumer-*.png. Any console error or warning fails the run.
// Prints one JSON line at the end.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const { PHASE, BASE, CHROMIUM = '/usr/bin/chromium', SCREENSHOTS } = env;
if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1440, height: 900 } };
const problems = [];
const result = {};

const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
if (env.Y4M) args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${env.Y4M}`);
const browser = await chromium.launch({ executablePath: CHROMIUM, args });

function step(text) {
  console.log(`- ${text}`);
}

async function open(name, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => {
    // qr-scanner warns on every start over http, even on localhost, where browsers do allow the
    // camera; a phone reaches the node over https.
    if (m.type() === 'warning' && m.text().startsWith('The camera stream is only accessible if the page is transferred via https')) return;
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${name} console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`${name} page error: ${e.message}`));
  return { context, page };
}

async function shot(page, file, fullPage = true) {
  if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, file), fullPage });
}

function expect(ok, message) {
  if (!ok) throw new Error(message);
}

/** Text of the visible language only (CSS hides the other). */
async function visibleText(page, selector) {
  return (await page.locator(selector).first().innerText()).trim();
}

async function fitsWidth(page, width, what) {
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
  if (scroll > width) problems.push(`${what}: the page is ${scroll}px wide at ${width}px`);
}

/** Every visible text against its background: at least 4.5:1 (WCAG AA), SVG labels aside. */
async function checkContrast(page, what) {
  const low = await page.evaluate(() => {
    const rgb = (s) => (s.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) => {
      const c = [r, g, b].map((v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || el.closest('svg, dialog:not([open])') || !el.checkVisibility()) continue;
      const style = getComputedStyle(el);
      if (parseFloat(style.opacity) < 1) continue;
      const [a, b] = [lum(rgb(style.color)), lum(background(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 4.5) out.push(`${n.textContent.trim().slice(0, 30)}: ${ratio.toFixed(2)}`);
    }
    return out;
  });
  if (low.length) problems.push(`${what}: low contrast: ${low.join('; ')}`);
}

const VERDICTS = [
  ['unsold', env.UNSOLD, 'genuine', '正品', 'Genuine', []],
  ['sold', env.SOLD, 'genuine', '正品', 'Genuine', ['already_sold']],
  ['cloned', env.CLONED, 'warning', '请注意', 'Warning', ['clone_suspected']],
  ['forged', env.FORGED, 'counterfeit', '假冒', 'Counterfeit', ['signature_invalid']],
];

async function verdicts() {
  // Every code, on a Chinese phone and an English desktop: the language follows the browser's.
  for (const [device, options, locale, lang] of [
    ['phone', PHONE, 'zh-CN', 'zh-CN'],
    ['desktop', DESKTOP, 'en-US', 'en'],
  ]) {
    const { context, page } = await open(device, { ...options, locale });
    for (const [kind, path, verdict, zh, en, reasons] of VERDICTS) {
      await page.goto(BASE + path);
      expect((await page.getAttribute('html', 'lang')) === lang, `${kind}: the page is not in ${lang}`);
      expect((await page.getAttribute('[data-verdict]', 'data-verdict')) === verdict, `${kind}: not ${verdict}`);
      const title = await visibleText(page, '.banner h1');
      expect(title === (lang === 'en' ? en : zh), `${kind}: the verdict reads '${title}'`);
      for (const reason of reasons) {
        const text = await visibleText(page, `[data-reason="${reason}"]`);
        expect(/[\u4e00-\u9fff]/.test(text) === (lang === 'zh-CN'), `${kind}: reason ${reason} is not in ${lang}: ${text}`);
      }
      if (kind !== 'forged') {
        await page.locator('#map svg[data-drawn]').waitFor();
        const shapes = await page.locator('#map svg .land path, #map svg .province path').count();
        expect(shapes > 100, `${kind}: the map has ${shapes} shapes`);
        expect((await page.locator('#map svg [data-latest]').count()) === 1, `${kind}: no latest place on the map`);
      }
      await fitsWidth(page, options.viewport.width, `${kind} at ${options.viewport.width}px`);
      await checkContrast(page, `${kind} (${device})`);
      await shot(page, `consumer-${kind}-${options.viewport.width}.png`, device === 'desktop');
      step(`${device}: ${kind} shows '${title}' with ${reasons.join(', ') || 'no warning'}`);
    }
    await context.close();
  }

  // The switch changes the language at once and is remembered, by the page and by the server.
  {
    const { context, page } = await open('switch', { ...PHONE, locale: 'zh-CN' });
    await page.goto(BASE + env.CLONED);
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    expect((await visibleText(page, '.banner h1')) === 'Warning', 'the switch did not change the language');
    await page.reload();
    expect((await page.getAttribute('html', 'lang')) === 'en', 'the choice was not remembered');
    const served = await (await page.request.get(BASE + env.CLONED)).text();
    expect(served.includes('<html lang="en">'), 'the server did not read the choice');
    await page.getByRole('button', { name: '中文' }).click();
    expect((await visibleText(page, '.banner h1')) === '请注意', 'the switch back failed');
    step('the language switch works, is remembered and reaches the server');

    // Keyboard: Tab reaches the scan button, Enter opens the scanner, Escape closes it.
    await page.goto(BASE + '/app');
    let focused = '';
    for (let i = 0; i < 6 && focused !== 'scan-open'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    expect(focused === 'scan-open', 'Tab does not reach the scan button');
    await page.keyboard.press('Enter');
    await page.locator('dialog#scanner[open]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('dialog#scanner[open]').waitFor({ state: 'detached' });
    step('the scanner opens and closes from the keyboard');
    await context.close();
  }

  // The distance: only after the visitor asks; the position comes from the browser.
  {
    const { context, page } = await open('geo', { ...PHONE, locale: 'en-US', permissions: ['geolocation'], geolocation: { latitude: 39.9042, longitude: 116.4074 } });
    await page.goto(BASE + env.SOLD);
    expect((await page.locator('#distance[data-km]').count()) === 0, 'a distance before asking');
    await page.locator('#map svg[data-drawn]').waitFor();
    await page.getByRole('button', { name: 'Show how far it is from me' }).click();
    await page.locator('#distance[data-km]').waitFor();
    const km = Number(await page.getAttribute('#distance', 'data-km'));
    expect(km > 800 && km < 1500, `Beijing to the sale place: ${km} km`);
    await page.locator('#map svg [data-me]').waitFor();
    step(`geolocation: about ${km} km from Beijing, and the visitor on the map`);
    result.distance_km = km;
    await page.locator('#distance').scrollIntoViewIfNeeded();
    await shot(page, 'consumer-distance-390.png', false);
    await context.close();
  }

  // The scan button reads the label through the fake camera and opens the code's page.
  {
    const { context, page } = await open('scan', { ...PHONE, locale: 'en-US', permissions: ['camera'] });
    await page.goto(BASE + '/app');
    await fitsWidth(page, 390, 'the start page');
    await checkContrast(page, 'the start page');
    await shot(page, 'consumer-app-390.png');
    await page.getByRole('button', { name: 'Open the camera and scan' }).click();
    await page.waitForURL((url) => url.pathname + url.search === env.SCANNED, { timeout: 20_000 });
    expect((await page.getAttribute('[data-verdict]', 'data-verdict')) === 'genuine', 'the scanned code is not genuine');
    step('the fake camera\'s label was scanned and its page opened');
    await context.close();
  }

  // Installable: manifest, icons and service worker, served with their types.
  {
    const { context, page } = await open('pwa', { ...PHONE, locale: 'en-US' });
    await page.goto(BASE + '/app');
    const manifest = await page.request.get(BASE + '/manifest.webmanifest');
    expect(manifest.headers()['content-type'] === 'application/manifest+json', 'the manifest type');
    const m = await manifest.json();
    expect(m.display === 'standalone' && m.start_url === '/app' && m.theme_color, 'the manifest fields');
    for (const icon of m.icons) {
      const answer = await page.request.get(BASE + icon.src);
      const png = await answer.body();
      const size = `${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`;
      expect(answer.headers()['content-type'] === 'image/png' && size === icon.sizes, `icon ${icon.src}: ${size}`);
    }
    expect(m.icons.some((i) => i.purpose === 'maskable'), 'no maskable icon');
    const sw = await page.request.get(BASE + '/sw.js');
    expect(sw.headers()['content-type'].startsWith('text/javascript'), 'the worker type');
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    expect(scope === `${BASE}/`, `the worker's scope: ${scope}`);
    // Controlled pages: the code's page still comes from the network, and no verdict is cached.
    await page.goto(BASE + env.SOLD);
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the page is not controlled');
    await page.locator('#map svg[data-drawn]').waitFor();
    const cached = await page.evaluate(async () => {
      const urls = [];
      for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
      return urls;
    });
    expect(cached.some((u) => u.endsWith('/mapdata/china.json')), 'the map data is not cached');
    const leaked = cached.filter((u) => u.startsWith('/01/') || u.startsWith('/v1/'));
    expect(leaked.length === 0, `verdicts cached: ${leaked}`);
    // Offline, a code's page says a verdict needs the network; it never shows an old one.
    await context.setOffline(true);
    await page.goto(BASE + env.UNSOLD);
    expect((await page.locator('[data-verdict]').count()) === 0, 'a verdict was shown offline');
    expect((await visibleText(page, '.banner h1')) === 'No connection', 'no offline page');
    await shot(page, 'consumer-offline-390.png', false);
    await context.setOffline(false);
    step(`PWA: manifest, ${m.icons.length} icons, worker at ${scope}; ${cached.length} files cached, no verdict`);
    await context.close();
  }
}

async function backup() {
  const first = await open('first', { ...PHONE, locale: 'en-US' });
  await first.page.goto(env.CLAIM_URL);
  await first.page.getByRole('button', { name: 'Claim ownership' }).click();
  await first.page.locator('[data-owned="yes"]').waitFor({ timeout: 60_000 });
  const key = await first.page.getAttribute('[data-key]', 'data-key');
  await first.page.getByRole('button', { name: 'Show recovery phrase' }).click();
  const phrase = await first.page.getAttribute('[data-phrase]', 'data-phrase');
  expect(phrase.split(' ').length === 24, `the phrase: ${phrase}`);
  await first.page.locator('#backup .qr svg').waitFor();
  await first.page.locator('#backup').scrollIntoViewIfNeeded();
  await shot(first.page, 'consumer-backup-390.png', false);
  const qr = await first.page.locator('#backup .qr').screenshot();
  const page = new URL(env.CLAIM_URL).pathname + new URL(env.CLAIM_URL).search;
  step('claimed, and the key shown as 24 words and a QR code');

  // Another phone restores from the QR code (a photo of it, through the scanner's file input).
  const second = await open('second', { ...DESKTOP, locale: 'en-US' });
  await second.page.goto(BASE + page);
  expect((await second.page.locator('[data-owned="yes"]').count()) === 0, 'owned before restoring');
  await second.page.getByRole('button', { name: 'Restore from a recovery phrase' }).click();
  await second.page.getByRole('button', { name: 'Scan the backup QR code' }).click();
  await second.page.locator('#scanner-file').setInputFiles({ name: 'backup.png', mimeType: 'image/png', buffer: qr });
  await second.page.locator('[data-restored]').waitFor();
  await second.page.locator('[data-owned="yes"]').waitFor();
  expect((await second.page.getAttribute('[data-key]', 'data-key')) === key, 'the restored key differs');
  await shot(second.page, 'consumer-owned-1440.png');
  step('restored from the QR code: "You own this item"');

  // A third restores from the words; a phrase with a bad checksum is refused first.
  const third = await open('third', { ...PHONE, locale: 'zh-CN' });
  await third.page.goto(BASE + page);
  await third.page.getByRole('button', { name: '从恢复短语恢复' }).click();
  await third.page.locator('#phrase-input').fill(Array(24).fill('abandon').join(' '));
  await third.page.getByRole('button', { name: '恢复密钥' }).click();
  await third.page.locator('#backup .error').waitFor();
  await third.page.locator('#phrase-input').fill(`  ${phrase.toUpperCase().replaceAll(' ', '\n')} `);
  await third.page.getByRole('button', { name: '恢复密钥' }).click();
  await third.page.locator('[data-owned="yes"]').waitFor();
  expect((await third.page.getAttribute('[data-key]', 'data-key')) === key, 'the restored key differs');
  await fitsWidth(third.page, 390, 'owned');
  await checkContrast(third.page, 'owned');
  await third.page.locator('#wallet').scrollIntoViewIfNeeded();
  await shot(third.page, 'consumer-owned-390.png', false);
  step('a bad phrase is refused; the right one restores ownership');
  result.key = key;
}

try {
  if (PHASE === 'verdicts') await verdicts();
  else if (PHASE === 'backup') await backup();
  else throw new Error(`PHASE must be verdicts or backup, not ${PHASE}`);
  if (problems.length) throw new Error(`problems:\n${problems.join('\n')}`);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
