// Drives the PC console in Chromium (playwright-core, Debian's browser) against `jitrace dev`.
// Run by crates/jitrace/tests/console_e2e.rs, which passes NODE_URL, ADMIN_PASSWORD, LOCK_USER,
// CHROMIUM and SCREENSHOTS. Prints one JSON line: the new organisation, user and transaction.
import { launchChromium, openWatched, overflow, submitSignIn } from './browser.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const { NODE_URL, ADMIN_PASSWORD, LOCK_USER, CHROMIUM = '/usr/bin/chromium', SCREENSHOTS } = process.env;
if (!NODE_URL || !ADMIN_PASSWORD || !LOCK_USER) throw new Error('NODE_URL, ADMIN_PASSWORD and LOCK_USER must be set');
if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });

const problems = [];
/** While set, the browser may log failed requests with this status (a deliberate failure). */
let expectedStatus = null;

const browser = await launchChromium(CHROMIUM);

const DESKTOP = { viewport: { width: 1440, height: 900 }, locale: 'en-US' };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };

async function open(name, options) {
  const expected = (text) => expectedStatus && text.includes(`status of ${expectedStatus}`);
  return (await openWatched(browser, name, options, problems, expected)).page;
}

function step(text) {
  console.log(`- ${text}`);
}

async function shot(page, file) {
  if (!SCREENSHOTS) return;
  await page.screenshot({ path: join(SCREENSHOTS, file), fullPage: false });
}

async function fits(page, what) {
  const problem = await overflow(page, what);
  if (problem) problems.push(problem);
}

async function signIn(page, name, password) {
  await submitSignIn(page, NODE_URL, name, password);
}

async function signInFails(page, name, password) {
  expectedStatus = 401;
  await signIn(page, name, password);
  const error = page.locator('form.signin [data-outcome="error"]');
  await error.waitFor();
  expectedStatus = null;
  return error.innerText();
}

async function outcome(page, scope = 'main') {
  const o = page.locator(`${scope} [data-outcome="ok"], ${scope} [data-outcome="error"]`).first();
  await o.waitFor();
  const kind = await o.getAttribute('data-outcome');
  const text = await o.innerText();
  if (kind !== 'ok') throw new Error(`expected success, got: ${text}`);
  return o;
}

const suffix = Date.now().toString(36);
const orgId = `tea-house-${suffix}`;
const orgName = `Tea House ${suffix} 茶舍`;
const userName = `tea-admin-${suffix}`;
const userPassword = `tea-password-${suffix}`;
const licenceId = `${orgId}-2026`;

try {
  // A visitor gets the sign-in page; the keyboard walks it in order.
  const desk = await open('admin (desktop)', DESKTOP);
  await desk.goto(NODE_URL);
  await desk.locator('#signin-name').waitFor();
  if ((await desk.evaluate(() => document.activeElement.id)) !== 'signin-name') problems.push('the sign-in form does not start focused on the name');
  await desk.keyboard.press('Tab');
  const second = await desk.evaluate(() => document.activeElement.id);
  if (second !== 'signin-password') problems.push(`Tab from the name went to ${second}`);
  await shot(desk, 'console-signin-desktop.png');
  step('a visitor sees the sign-in page');

  const wrong = await signInFails(desk, 'admin', 'not the password');
  step(`a wrong password is refused: ${wrong}`);

  // Lock-out: five failures lock the account; the right password is then refused too.
  const phoneVisitor = await open('lock-out', PHONE);
  for (let i = 0; i < 5; i++) await signInFails(phoneVisitor, LOCK_USER, `wrong password ${i}`);
  await signInFails(phoneVisitor, LOCK_USER, process.env.LOCK_PASSWORD);
  await shot(phoneVisitor, 'console-signin-phone.png');
  await fits(phoneVisitor, 'sign-in (phone)');
  step(`${LOCK_USER} is locked after 5 failures: the right password is refused`);

  // The platform admin signs in.
  await signIn(desk, 'admin', ADMIN_PASSWORD);
  await desk.locator('[data-testid="org"]').waitFor();
  const topOrg = await desk.locator('[data-testid="org"]').innerText();
  if (!/Platform/.test(topOrg)) throw new Error(`the top bar shows ${topOrg}`);
  step(`the admin is signed in (${topOrg})`);

  // Creates an organisation with its first user.
  await desk.goto(`${NODE_URL}/#/new-org`);
  const form = desk.locator('[data-testid="new-org"]');
  await form.locator('input[name=id]').fill(orgId);
  await form.locator('input[name=name]').fill(orgName);
  await form.locator('input[value=brand]').check();
  await form.locator('input[name=region]').fill('CN-ZJ');
  await form.locator('input[name=user]').fill(userName);
  await form.locator('input[name=display]').fill('Tea admin 茶舍管理员');
  await form.locator('input[name=password]').fill(userPassword);
  await shot(desk, 'console-new-org-desktop.png');
  await form.locator('button[type=submit]').click();
  const created = await outcome(desk);
  const txHash = await created.locator('[data-tx]').getAttribute('data-tx');
  step(`organisation ${orgId} registered by tx ${txHash}`);

  // Issues it a licence.
  await desk.goto(`${NODE_URL}/#/licences/${orgId}`);
  const issue = desk.locator('[data-testid="issue-licence"]');
  await issue.locator('input[name=id]').fill(licenceId);
  await issue.locator('input[name=quota]').fill('5000');
  await issue.locator('button[type=submit]').click();
  await outcome(desk);
  await desk.locator('[data-testid="licence-table"] td code', { hasText: new RegExp(`^${licenceId}$`) }).waitFor();
  step(`licence ${licenceId} issued and listed`);
  // A second licence, revoked.
  const trial = `${orgId}-trial`;
  await issue.locator('input[name=id]').fill(trial);
  await issue.locator('input[name=quota]').fill('100');
  await issue.locator('button[type=submit]').click();
  await desk.locator('[data-testid="licence-table"] td code', { hasText: trial }).waitFor();
  await desk.locator(`#revoke-${trial}`).fill('trial ended');
  await desk.locator(`#revoke-${trial}`).press('Enter');
  await desk.locator('main [data-outcome="ok"]', { hasText: trial }).waitFor();
  await desk.locator('[data-testid="licence-table"] tr', { hasText: trial }).locator('td', { hasText: 'revoked' }).waitFor();
  await shot(desk, 'console-licences-desktop.png');
  step(`licence ${trial} issued and revoked`);

  // Finds it in the paged, filtered organisation table.
  await desk.goto(`${NODE_URL}/#/orgs`);
  await desk.locator('[data-testid="orgs"][data-total]').waitFor();
  const all = Number(await desk.locator('[data-testid="orgs"]').getAttribute('data-total'));
  await desk.locator('#org-filter').fill(suffix.toUpperCase());
  await desk.waitForFunction(() => document.querySelector('[data-testid="orgs"]')?.dataset.total === '1');
  await desk.locator('[data-testid="orgs"] td', { hasText: orgName }).waitFor();
  await desk.locator('#org-filter').fill('');
  await desk.waitForFunction((n) => document.querySelector('[data-testid="orgs"]')?.dataset.total === String(n), all);
  await desk.getByRole('button', { name: 'Sort by Name' }).click();
  await desk.waitForFunction(() => document.querySelector('[data-testid="orgs"] th[aria-sort="ascending"]'));
  await shot(desk, 'console-orgs-desktop.png');
  step(`the organisation table filters on the server (1 of ${all}) and sorts by name`);

  // Finds the transaction in the explorer, and its block.
  await desk.goto(`${NODE_URL}/#/explorer`);
  await desk.locator('[data-testid="blocks"] tbody tr').first().waitFor();
  await shot(desk, 'console-explorer-desktop.png');
  await desk.locator('#search').fill(txHash);
  await desk.locator('form[role=search] button').click();
  const tx = desk.locator('[data-testid="tx"]');
  await tx.waitFor();
  if ((await tx.getAttribute('data-status')) !== 'ok') throw new Error('the explorer shows the tx not ok');
  if (!(await tx.innerText()).includes('register_org')) throw new Error('the explorer does not show register_org');
  await tx.locator('a').first().click();
  await desk.locator('[data-testid="block-txs"] td', { hasText: 'register_org' }).waitFor();
  await shot(desk, 'console-block-desktop.png');
  step('the explorer finds the transaction and its block');

  await desk.goto(`${NODE_URL}/#/nodes`);
  await desk.locator('[data-testid="health"]', { hasText: 'healthy' }).waitFor();
  await shot(desk, 'console-nodes-desktop.png');
  step('the node is healthy');

  // The language switch, remembered across a reload.
  await desk.locator('.lang button[data-lang="zh"]').click();
  await desk.locator('nav a', { hasText: '区块浏览器' }).waitFor();
  await desk.reload();
  await desk.locator('nav a', { hasText: '区块浏览器' }).waitFor();
  if ((await desk.evaluate(() => document.documentElement.lang)) !== 'zh-CN') problems.push('html lang is not zh-CN');
  await shot(desk, 'console-nodes-desktop-zh.png');
  await desk.locator('.lang button[data-lang="en"]').click();
  await desk.locator('nav a', { hasText: 'Explorer' }).waitFor();
  step('the language switches to 中文 and back, remembered across a reload');

  // The same screens on a phone, for the admin.
  const phoneAdmin = await open('admin (phone)', PHONE);
  await signIn(phoneAdmin, 'admin', ADMIN_PASSWORD);
  await phoneAdmin.locator('[data-testid="org"]').waitFor();
  await phoneAdmin.goto(`${NODE_URL}/#/orgs`);
  await phoneAdmin.locator('[data-testid="orgs"][data-total]').waitFor();
  await fits(phoneAdmin, 'organisations (phone)');
  await shot(phoneAdmin, 'console-orgs-phone.png');
  await phoneAdmin.goto(`${NODE_URL}/#/explorer`);
  await phoneAdmin.locator('[data-testid="blocks"] tbody tr').first().waitFor();
  await fits(phoneAdmin, 'explorer (phone)');
  await shot(phoneAdmin, 'console-explorer-phone.png');
  step('the phone layout fits 390 px (defaulting to Chinese)');

  // The new user signs in on a phone and sees their organisation.
  const newUser = await open('new user (phone)', PHONE);
  await signIn(newUser, userName, userPassword);
  await newUser.locator('[data-testid="org"]', { hasText: orgName }).waitFor();
  await newUser.locator('[data-testid="overview"] h2', { hasText: orgName }).waitFor();
  if (!(await newUser.locator('[data-testid="overview"]').innerText()).includes(licenceId)) throw new Error('the overview misses the licence');
  if (await newUser.locator('nav a[href="#/orgs"]').count()) problems.push('a brand user sees the platform screens');
  const navText = await newUser.locator('nav').innerText();
  if (!navText.includes('概览')) problems.push(`the phone does not default to Chinese: ${navText}`);
  await fits(newUser, 'overview (phone)');
  await shot(newUser, 'console-overview-phone.png');
  const key = await newUser.evaluate(() => fetch('/console/api/session').then((r) => r.json()).then((s) => s.key));
  step(`${userName} signs in and sees ${orgName}`);

  // Signing out ends the session.
  await newUser.getByRole('button', { name: '退出登录' }).click();
  await newUser.locator('#signin-name').waitFor();
  const after = await newUser.evaluate(() => fetch('/console/api/session').then((r) => r.json()));
  if (after.signed_in) problems.push('the session outlived sign-out');
  step('sign-out ends the session');

  if (problems.length) throw new Error(`problems:\n${problems.join('\n')}`);
  console.log(JSON.stringify({ org: orgId, user: userName, key, tx: txHash, licence: licenceId }));
} finally {
  await browser.close();
}
