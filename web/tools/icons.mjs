// Draws the app's icons (run once by hand, output committed in web/icons): a white check mark
// on Jitrace green. `icon-*.png` are rounded squares; `maskable-512.png` fills the square and
// keeps the mark inside the central safe zone (80%), as launchers crop it to their own shape.
import { writeFileSync, mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const GREEN = [0x1a, 0x7f, 0x37];
const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function png(size, pixel) {
  const rows = Buffer.alloc(size * (1 + size * 4));
  for (let y = 0; y < size; y++) {
    rows[y * (1 + size * 4)] = 0;
    for (let x = 0; x < size; x++) rows.set(pixel(x + 0.5, y + 0.5), y * (1 + size * 4) + 1 + x * 4);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
function segmentDistance(px, py, [ax, ay], [bx, by]) {
  const [dx, dy] = [bx - ax, by - ay];
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}
// The mark in unit coordinates (0..1), drawn at `scale` around the centre.
function icon(size, { rounded, scale }) {
  const check = [[0.28, 0.52], [0.44, 0.68], [0.74, 0.36]].map(([x, y]) => [0.5 + (x - 0.5) * scale, 0.5 + (y - 0.5) * scale]);
  const stroke = 0.075 * scale;
  return png(size, (x, y) => {
    const [u, v] = [x / size, y / size];
    if (rounded) {
      const r = 0.18;
      const [cx, cy] = [Math.min(Math.max(u, r), 1 - r), Math.min(Math.max(v, r), 1 - r)];
      if (Math.hypot(u - cx, v - cy) > r) return [0, 0, 0, 0];
    }
    const d = Math.min(segmentDistance(u, v, check[0], check[1]), segmentDistance(u, v, check[1], check[2]));
    return d < stroke ? [255, 255, 255, 255] : [...GREEN, 255];
  });
}
mkdirSync('icons', { recursive: true });
writeFileSync('icons/icon-192.png', icon(192, { rounded: true, scale: 1 }));
writeFileSync('icons/icon-512.png', icon(512, { rounded: true, scale: 1 }));
writeFileSync('icons/maskable-512.png', icon(512, { rounded: false, scale: 0.7 }));
