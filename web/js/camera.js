// Reading QR codes with the camera through the vendored qr-scanner (its worker decodes the
// frames), so a browser without a native BarcodeDetector (Chromium on Linux, Firefox) scans
// too. The consumer page's scan button and the console's scanners share this module.

/** The qr-scanner class, loaded on first use (through the import map). */
export async function loadQrScanner() {
  return (await import('qr-scanner')).default;
}

/** Whether a camera can be used here: a secure context (or localhost) with a camera. */
export async function cameraAvailable() {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) return false;
  return (await loadQrScanner()).hasCamera();
}

/**
 * Shows the camera in `video` and calls `onText(text)` for every QR code it decodes (up to
 * ten times a second, so the same code is heard again while it stays in view). Resolves to a
 * function that stops the camera; rejects when the camera cannot be opened.
 */
export async function startCamera(video, onText) {
  const QrScanner = await loadQrScanner();
  const scanner = new QrScanner(video, (result) => onText(result.data), {
    returnDetailedScanResult: true,
    preferredCamera: 'environment',
    maxScansPerSecond: 10,
    onDecodeError: () => {},
  });
  try {
    await scanner.start();
  } catch (e) {
    scanner.destroy();
    throw e;
  }
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    scanner.stop();
    scanner.destroy();
  };
}
