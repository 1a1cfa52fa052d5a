// Drives the consumer page's ownership actions in Chromium (playwright-core, Debian's browser).
// Run by crates/jitrace/tests/web_e2e.rs, which starts the node, sells an item with a claim
// ticket and passes CLAIM_URL, CHROMIUM and SCREENSHOTS. Prints one JSON line with both keys.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const { CLAIM_URL, CHROMIUM = '/usr/bin/chromium', SCREENSHOTS } = process.env;
if (!CLAIM_URL) throw new Error('CLAIM_URL is not set');
if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });

const WIDTH = 390;
const problems = [];

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

/** A phone: its own context, so its own localStorage and key. */
async function phone(name) {
  const context = await browser.newContext({
    viewport: { width: WIDTH, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'en-US',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${name} console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`${name} page error: ${e.message}`));
  return page;
}

/** A phone-screen screenshot of the claim-and-transfer section. */
async function shot(page, file) {
  if (!SCREENSHOTS) return;
  await page.evaluate(() => document.getElementById('wallet').closest('section').scrollIntoView());
  await page.screenshot({ path: join(SCREENSHOTS, file) });
}

/** Clicks the button whose label contains `label` and waits for the ledger's outcome. */
async function act(page, label, expected = 'ok') {
  await page.getByRole('button', { name: label }).click();
  const outcome = page.locator('[data-outcome="ok"], [data-outcome="error"]');
  await outcome.waitFor();
  const kind = await outcome.getAttribute('data-outcome');
  const text = await outcome.innerText();
  if (kind !== expected) throw new Error(`${label}: expected ${expected}, got ${kind}: ${text}`);
  return text;
}

async function fitsPhone(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > WIDTH) problems.push(`${what}: the page is ${width}px wide at ${WIDTH}px`);
}

function step(text) {
  console.log(`- ${text}`);
}

try {
  // The buyer opens the claim link from the receipt.
  const first = await phone('first');
  await first.goto(CLAIM_URL);
  await first.getByRole('button', { name: 'Claim ownership' }).waitFor();
  await fitsPhone(first, 'claim');
  await shot(first, 'claim.png');
  step('the claim link shows "Claim ownership"');

  await act(first, 'Claim ownership');
  await first.locator('[data-owned="yes"]').waitFor();
  if (new URL(first.url()).hash !== '') problems.push('the spent ticket stayed in the address bar');
  await shot(first, 'owned.png');
  step('claimed: "You own this item"');

  // The owner offers it to someone else.
  await act(first, 'Transfer');
  const link = await first.locator('[data-transfer-link]').innerText();
  if (!link.includes('#transfer=')) throw new Error(`not a transfer link: ${link}`);
  await first.locator('.qr svg').waitFor();
  await fitsPhone(first, 'transfer');
  await shot(first, 'transfer.png');
  step('transfer link and QR code shown');

  // The next owner, on another phone (another key), accepts.
  const second = await phone('second');
  await second.goto(link);
  await act(second, 'Accept transfer');
  await second.locator('[data-owned="yes"]').waitFor();
  await shot(second, 'accepted.png');
  step('the second phone accepted the transfer');

  await first.reload();
  await first.locator('[data-owned="no"]').waitFor();
  if (await first.locator('[data-owned="yes"]').count()) throw new Error('the first phone still shows ownership');
  step('the first phone no longer owns it');

  // Lost and found.
  await act(second, 'Report lost/stolen');
  await second.getByRole('button', { name: 'Withdraw report' }).waitFor();
  await shot(second, 'reported.png');
  await act(second, 'Withdraw report');
  await second.getByRole('button', { name: 'Transfer' }).waitFor();
  step('reported lost/stolen and withdrew the report');

  // A new transfer is pending; the old, used link is refused by the ledger with its reason.
  await act(second, 'Transfer');
  await first.goto('about:blank'); // a new document: only the fragment differs from before
  await first.goto(link);
  const refusal = await act(first, 'Accept transfer', 'error');
  if (!/ticket_(used|invalid)/.test(refusal)) throw new Error(`unexpected refusal: ${refusal}`);
  await shot(first, 'refused.png');
  step(`the used link is refused: ${refusal.replace(/\s+/g, ' ')}`);

  await act(second, 'Cancel transfer');
  await second.getByRole('button', { name: 'Transfer' }).waitFor();
  step('the pending transfer is cancelled');

  if (problems.length) throw new Error(`problems:\n${problems.join('\n')}`);
  console.log(JSON.stringify({ first_key: await keyOf(first), second_key: await keyOf(second) }));
} finally {
  await browser.close();
}

/** The public key this page uses for the item (its full hex, beside the fingerprint shown). */
async function keyOf(page) {
  return page.locator('[data-key]').getAttribute('data-key');
}
