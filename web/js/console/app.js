// The console (PC and phone): sign-in for visitors, then a shell with the screens of the
// user's roles. Screens register themselves with `registerScreen`; the platform's are in
// platform.js, and brand, manufacturer and channel screens plug in the same way.

import { LANGUAGES, currentLanguage, setLanguage, t } from './i18n.js';
import { ApiError, api, h, notice, session } from './ui.js';
import { registerPlatformScreens } from './platform.js';
import { registerMakerScreens } from './maker.js';
import { registerBrandScreens } from './brand.js';
import { registerChannelScreens } from './channel.js';

/**
 * The screens: `{id, nav (i18n key), roles (org roles that see it; empty: everyone), hidden?,
 * home? (org roles that land on it), render(main, params)}`. `render` may return a function run when the screen is left.
 */
const screens = [];

/** Adds a screen at `#/{id}`; `#/{id}/{a}/{b}` passes `['a','b']` as its params. */
export function registerScreen(screen) {
  screens.push(screen);
}

const app = document.getElementById('app');
let leave = null;

function visible(screen) {
  const roles = session.current?.org_roles ?? [];
  return !screen.roles?.length || screen.roles.some((r) => roles.includes(r));
}

function languageSwitch() {
  return h(
    'div',
    { class: 'lang', role: 'group', 'aria-label': t('lang.label') },
    Object.entries(LANGUAGES).map(([code, name]) =>
      h(
        'button',
        {
          type: 'button',
          lang: code === 'zh' ? 'zh-CN' : 'en',
          'aria-pressed': String(currentLanguage() === code),
          'data-lang': code,
          onclick: () => {
            setLanguage(code);
            draw();
          },
        },
        name,
      ),
    ),
  );
}

function signIn() {
  document.title = t('signin.title');
  const message = notice();
  const name = h('input', { id: 'signin-name', name: 'name', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, t('signin.submit'));
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        message.info(t('signin.busy'));
        try {
          session.current = await api('POST', '/console/api/session', { name: name.value.trim(), password: password.value });
          location.hash = '#/';
          draw();
        } catch (e) {
          password.value = '';
          if (e instanceof ApiError && e.status === 401) {
            message.el.className = 'notice error';
            message.el.setAttribute('role', 'alert');
            message.el.dataset.outcome = 'error';
            message.el.textContent = t('signin.failed');
          } else message.error(e);
          password.focus();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', {}, t('signin.title')),
    h('p', { class: 'muted' }, t('signin.intro')),
    h('div', { class: 'field' }, h('label', { for: 'signin-name' }, t('signin.name')), name),
    h('div', { class: 'field' }, h('label', { for: 'signin-password' }, t('signin.password')), password),
    submit,
    message.el,
  );
  app.replaceChildren(h('header', { class: 'topbar' }, h('span', { class: 'brand' }, t('app.title')), languageSwitch()), h('main', { id: 'main', class: 'signin-main' }, form));
  name.focus();
}

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const mine = screens.filter(visible);
  // A screen may be the home of some roles (`home: [...]`), e.g. the channels' scanner.
  const roles = session.current?.org_roles ?? [];
  const home = mine.find((s) => s.home?.some((r) => roles.includes(r)));
  const screen = mine.find((s) => s.id === parts[0]) ?? home ?? mine.find((s) => !s.hidden);
  return { screen, params: parts.slice(1), mine };
}

function shell() {
  const s = session.current;
  const { screen, params, mine } = route();
  document.title = `${t(screen.nav)} · ${t('app.title')}`;
  const main = h('main', { id: 'main', tabindex: '-1' });
  const nav = h(
    'nav',
    { class: 'nav', 'aria-label': t('shell.nav') },
    h(
      'ul',
      {},
      mine
        .filter((x) => !x.hidden)
        .map((x) => h('li', {}, h('a', { href: `#/${x.id}`, 'aria-current': x.id === screen.id ? 'page' : null }, t(x.nav)))),
    ),
  );
  const top = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip', href: '#main', onclick: (e) => (e.preventDefault(), main.focus()) }, t('app.skip')),
    h('span', { class: 'brand' }, t('app.title')),
    h(
      'span',
      { class: 'who' },
      h('span', { class: 'org', title: t('shell.org'), 'data-testid': 'org' }, s.org_name ?? `${s.org} (${t('shell.pending_org')})`),
      h('span', { class: 'user', title: t('shell.user') }, `${s.display_name} · ${t(`crole.${s.role}`)}`),
    ),
    languageSwitch(),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: async () => {
          await api('DELETE', '/console/api/session').catch(() => {});
          session.current = null;
          location.hash = '';
          draw();
        },
      },
      t('shell.signout'),
    ),
  );
  app.replaceChildren(top, h('div', { class: 'layout' }, nav, main));
  leave = screen.render(main, params) ?? null;
}

/** Draws the current screen (after sign-in, a route change or a language switch). */
function draw() {
  if (typeof leave === 'function') leave();
  leave = null;
  document.documentElement.lang = currentLanguage() === 'zh' ? 'zh-CN' : 'en';
  if (session.current) shell();
  else signIn();
}

registerPlatformScreens(registerScreen);
registerMakerScreens(registerScreen);
registerBrandScreens(registerScreen);
registerChannelScreens(registerScreen);
window.addEventListener('hashchange', () => {
  if (session.current) {
    draw();
    document.getElementById('main')?.focus();
  }
});

try {
  const current = await api('GET', '/console/api/session');
  session.current = current.signed_in ? current : null;
} catch {
  session.current = null;
}
draw();
