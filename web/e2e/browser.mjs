// What the Chromium scripts share (console.mjs, brand.mjs): launching Debian's Chromium for
// playwright-core, the check that a page fits its window, and the console's sign-in form.
import { chromium } from 'playwright-core';

/**
 * Chromium at `executablePath`, headless, without the background traffic that slows tests;
 * with `y4m`, its fake camera plays that video.
 */
export function launchChromium(executablePath, y4m) {
  const camera = y4m ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`] : [];
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...camera],
  });
}

/** A problem's text when the page is wider than its window (a horizontal scroll), else null. */
export async function overflow(page, what) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  return scroll > width ? `${what}: the page is ${scroll}px wide in a ${width}px window` : null;
}

/** Opens the console at `url` and submits its sign-in form. */
export async function submitSignIn(page, url, name, password) {
  await page.goto(url);
  await page.locator('#signin-name').fill(name);
  await page.locator('#signin-password').fill(password);
  await page.locator('form.signin button[type=submit]').click();
}

/**
 * A new context and page whose console errors and warnings, and page errors, are pushed to
 * `problems` (as `name …`), except console lines `expected(text)` accepts.
 */
export async function openWatched(browser, name, options, problems, expected = () => false) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    if (expected(m.text())) return;
    problems.push(`${name} console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`${name} page error: ${e.message}`));
  return { context, page };
}
