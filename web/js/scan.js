// The scan button: the camera (qr-scanner, its worker decoding frames) or, where the camera is
// not allowed (a phone over plain http), a photo taken or chosen. A Jitrace code opens its page;
// other callers (restoring a key from its QR code) pass their own handler.
import { cameraAvailable, loadQrScanner, startCamera } from './camera.js';
import { both } from './i18n.js';

/** A printed code's path on this node (`/01/{gtin}/21/{serial}?8030=…`), or null. */
export function codePath(text) {
  try {
    const url = new URL(text.trim(), location.href);
    if (/^\/01\/\d{8,14}\/21\/[^/]+$/.test(url.pathname)) return url.pathname + url.search;
  } catch {
    // Not a URL.
  }
  return null;
}

const dialog = document.getElementById('scanner');
const video = document.getElementById('scanner-video');
const status = document.getElementById('scanner-status');
/** Stops the running camera, if one runs. */
let stopCamera = null;
/** What to do with a decoded text: true when it was used (the dialog closes). */
let handler = openCode;

function say(zh, en, kind = 'muted') {
  status.className = kind;
  status.replaceChildren(...both(zh, en));
}

function openCode(text) {
  const path = codePath(text);
  if (!path) {
    say('这不是 Jitrace 商品码。', 'This is not a Jitrace product code.', 'error');
    return false;
  }
  say('已识别，正在打开…', 'Code found, opening it…', 'owned');
  location.assign(path);
  return true;
}

function stop() {
  stopCamera?.();
  stopCamera = null;
}

function found(text) {
  if (handler(text)) {
    stop();
    if (dialog.open) dialog.close();
  }
}

/** Opens the scan dialog; `onText` gets each decoded text (default: open a Jitrace code). */
export async function openScanner(onText = openCode) {
  handler = onText;
  say('将二维码对准取景框。', 'Point the camera at the QR code.');
  if (!dialog.open) dialog.showModal();
  if (!(await cameraAvailable())) {
    say('无法使用相机：请拍照或选择图片。', 'No camera available here: take or choose a photo instead.');
    return;
  }
  stop();
  try {
    stopCamera = await startCamera(video, found);
    // Closed (or a code used) while the camera was opening.
    if (!dialog.open) stop();
  } catch {
    say('无法打开相机：请拍照或选择图片。', 'Could not open the camera: take or choose a photo instead.');
  }
}

export function initScanner() {
  if (!dialog) return;
  for (const id of ['scan-open', 'scan-start']) {
    document.getElementById(id)?.addEventListener('click', () => openScanner());
  }
  document.getElementById('scanner-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', stop);
  document.getElementById('scanner-file').addEventListener('change', async (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    const QrScanner = await loadQrScanner();
    try {
      const result = await QrScanner.scanImage(file, { returnDetailedScanResult: true });
      found(result.data);
    } catch {
      say('图片中没有找到二维码。', 'No QR code found in the photo.', 'error');
    }
    event.target.value = '';
  });
}
