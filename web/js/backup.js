// The owner's key backup: the seed ownership.js keeps in localStorage (one key per item is derived
// from it) shown as a BIP-39 recovery phrase (24 English words with a checksum) and as a QR code
// of that phrase, and restored from either in another browser. The seed never leaves the browser.
import { both } from './i18n.js';
import { el } from './dom.js';
import { saveSeed, storedSeed } from './ownership.js';
import { openScanner } from './scan.js';

const root = document.getElementById('backup');

async function bip39() {
  const [{ entropyToMnemonic, mnemonicToEntropy }, { wordlist }] = await Promise.all([
    import('@scure/bip39'),
    import('@scure/bip39/wordlists/english.js'),
  ]);
  return {
    toPhrase: (seed) => entropyToMnemonic(seed, wordlist),
    /** The seed of a phrase; throws on an unknown word or a wrong checksum. */
    toSeed: (phrase) => mnemonicToEntropy(phrase.trim().toLowerCase().split(/\s+/).join(' '), wordlist),
  };
}

const p = (zh, en, attrs = {}) => el('p', attrs, ...both(zh, en));
const button = (zh, en, action, onclick, secondary = true) =>
  el('button', { type: 'button', class: secondary ? 'action secondary' : 'action', 'data-backup': action, onclick }, ...both(zh, en));

function idle(message = null) {
  root.replaceChildren(
    ...(message ? [message] : []),
    button('显示恢复短语', 'Show recovery phrase', 'export', showPhrase),
    button('从恢复短语恢复', 'Restore from a recovery phrase', 'import', showRestore),
  );
}

async function showPhrase() {
  const seed = storedSeed();
  if (!seed) {
    idle(p('此浏览器还没有密钥：认领商品时会自动生成。', 'This browser has no key yet: one is made when you claim an item.', { class: 'muted' }));
    return;
  }
  const [{ toPhrase }, { renderSVG }] = await Promise.all([bip39(), import('uqr')]);
  const phrase = toPhrase(seed);
  const qr = el('div', { class: 'qr', role: 'img', 'aria-label': 'QR' });
  // The library's own SVG of the phrase: no text from elsewhere.
  qr.innerHTML = renderSVG(phrase, { border: 2 });
  root.replaceChildren(
    p('任何人拿到这些单词就拥有您的商品：请抄写保存，不要发给别人。', 'Anyone with these words owns your items: write them down and share them with no one.', { class: 'error' }),
    el('ol', { class: 'phrase', 'data-phrase': phrase }, ...phrase.split(' ').map((w) => el('li', {}, w))),
    qr,
    p('在另一部手机上选择“从恢复短语恢复”，输入这些单词或扫描此二维码。', "On another phone choose 'Restore from a recovery phrase' and type these words or scan this QR code.", { class: 'muted' }),
    button('隐藏', 'Hide', 'hide', () => idle()),
  );
}

function showRestore() {
  const input = el('textarea', { id: 'phrase-input', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const message = el('p', { 'aria-live': 'polite' });
  const restore = async (text) => {
    const { toSeed } = await bip39();
    let seed;
    try {
      seed = toSeed(text);
    } catch {
      seed = null;
    }
    if (!seed || seed.length !== 32) {
      message.className = 'error';
      message.replaceChildren(...both('恢复短语无效：请检查每个单词（共 24 个）。', 'That recovery phrase is not valid: check every word (there are 24).'));
      return false;
    }
    saveSeed(seed);
    // Reload, so the page shows what this key owns.
    sessionStorage.setItem('jitrace.restored', '1');
    location.reload();
    return true;
  };
  root.replaceChildren(
    p('恢复后，此浏览器原有的密钥将被替换。', "Restoring replaces this browser's current key.", { class: 'muted' }),
    el('label', { for: 'phrase-input' }, ...both('恢复短语（24 个英文单词）', 'Recovery phrase (24 English words)')),
    input,
    message,
    button('恢复密钥', 'Restore key', 'restore', () => restore(input.value), false),
    button('扫描备份二维码', 'Scan the backup QR code', 'scan', () =>
      openScanner((text) => {
        input.value = text;
        restore(text);
        return true;
      }),
    ),
    button('取消', 'Cancel', 'cancel', () => idle()),
  );
  input.focus();
}

export function initBackup() {
  if (!root) return;
  const restored = sessionStorage.getItem('jitrace.restored');
  sessionStorage.removeItem('jitrace.restored');
  idle(restored ? p('密钥已恢复。', 'Your key is restored.', { class: 'owned', 'data-restored': '' }) : null);
}
