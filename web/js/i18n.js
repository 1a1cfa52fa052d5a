// The pages' two languages. Every text is in the page twice — `<span class="zh" lang="zh-CN">`
// and `<span class="en" lang="en">` — and CSS shows the one matching `<html lang>`. The server
// picks the first language from the visitor's cookie or Accept-Language; here the choice
// defaults to the browser's language (navigator.language) and the switch changes it at once,
// remembered in localStorage and in a cookie the server reads.

const ITEM = 'jitrace.lang';
const COOKIE = 'jitrace_lang';
const LANGS = ['zh-CN', 'en'];

/** The language shown now: `zh-CN` or `en`. */
export function currentLang() {
  return document.documentElement.lang === 'en' ? 'en' : 'zh-CN';
}

/** A text in both languages: two spans, of which CSS shows one. */
export function both(zh, en) {
  const a = document.createElement('span');
  a.className = 'zh';
  a.lang = 'zh-CN';
  a.textContent = zh;
  const b = document.createElement('span');
  b.className = 'en';
  b.lang = 'en';
  b.textContent = en;
  return [a, b];
}

/** The text of the language shown now, for attributes (`aria-label`) that cannot hold two. */
export function pick(zh, en) {
  return currentLang() === 'en' ? en : zh;
}

function browserLang() {
  for (const tag of navigator.languages ?? [navigator.language]) {
    const t = (tag ?? '').toLowerCase();
    if (t === 'zh' || t.startsWith('zh-')) return 'zh-CN';
    if (t === 'en' || t.startsWith('en-')) return 'en';
  }
  return null;
}

function apply(lang) {
  document.documentElement.lang = lang;
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === lang));
  }
  document.dispatchEvent(new CustomEvent('jitrace:lang', { detail: lang }));
}

/** Switches to `lang` and remembers it. */
export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  localStorage.setItem(ITEM, lang);
  document.cookie = `${COOKIE}=${lang}; path=/; max-age=31536000; samesite=lax`;
  apply(lang);
}

/** The remembered choice, else the browser's language, else the server's; wires the switch. */
export function initLang() {
  const stored = localStorage.getItem(ITEM);
  apply(LANGS.includes(stored) ? stored : (browserLang() ?? currentLang()));
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.addEventListener('click', () => setLang(button.dataset.lang));
  }
}
