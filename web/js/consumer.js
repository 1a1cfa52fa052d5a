// The consumer pages' one module: language switch, QR scanner, the path's map, the distance
// (only after the visitor asks), the owner's actions (ownership.js), the key's backup, and the
// service worker that makes the app installable.
import { both, initLang } from './i18n.js';
import { initScanner } from './scan.js';
import { initBackup } from './backup.js';
import './ownership.js';

document.documentElement.classList.add('js');
initLang();
initScanner();
initBackup();

const figure = document.getElementById('map');
function draw(me = null) {
  if (!figure) return;
  // The map is an addition: the path is listed beside it whatever happens.
  import('./map.js')
    .then(({ drawMap }) => drawMap(figure, me))
    .catch((e) => figure.setAttribute('data-error', e.message));
}
draw();

const locateButton = document.getElementById('locate');
const distance = document.getElementById('distance');
const sellers = document.getElementById('sellers');

function role(name) {
  if (name === 'distributor') return both('经销商', 'distributor');
  if (name === 'retailer') return both('零售商', 'retailer');
  return [name];
}

function showSellers(list) {
  if (!sellers) return;
  sellers.replaceChildren(
    ...list.map((s) => {
      const li = document.createElement('li');
      const name = document.createElement('strong');
      name.textContent = s.name;
      li.append(name, ' (', ...role(s.role), `) · ${s.territory.join(', ')}`);
      if (s.distance_km != null) li.append(` · ≈${s.distance_km} km`);
      return li;
    }),
  );
}

function say(zh, en, kind = '') {
  distance.className = kind;
  distance.replaceChildren(...both(zh, en));
}

async function locate() {
  if (!navigator.geolocation) {
    say('此浏览器不能提供位置。', 'This browser cannot tell its position.', 'error');
    return;
  }
  locateButton.disabled = true;
  say('正在获取您的位置…', 'Finding your position…', 'muted');
  navigator.geolocation.getCurrentPosition(
    async (position) => {
      const { latitude, longitude } = position.coords;
      const url = new URL(location.pathname + location.search, location.origin);
      url.searchParams.set('lat', latitude.toFixed(4));
      url.searchParams.set('lon', longitude.toFixed(4));
      try {
        const response = await fetch(url, { headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const verdict = await response.json();
        if (verdict.distance_km != null) {
          say(`距您约 ${verdict.distance_km} 公里`, `About ${verdict.distance_km} km from you`, 'big-status');
          distance.dataset.km = verdict.distance_km;
        } else {
          say('无法计算距离。', 'The distance cannot be worked out.', 'muted');
        }
        showSellers(verdict.authorised_sellers ?? []);
        draw({ lat: latitude, lon: longitude });
      } catch {
        say('无法读取距离，请稍后再试。', 'Could not get the distance; try again later.', 'error');
      }
      locateButton.disabled = false;
    },
    () => {
      say('未获得位置权限：距离不会显示。', 'No permission to use your position, so no distance is shown.', 'muted');
      locateButton.disabled = false;
    },
    { enableHighAccuracy: false, timeout: 15_000, maximumAge: 600_000 },
  );
}
locateButton?.addEventListener('click', locate);

if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js').catch(() => {
    // The pages work without it; only installing and the offline page need it.
  });
}
