// The screens every user has (overview, explorer, nodes) and the platform's (organisations,
// new organisation with its first user, licences and quotas).

import { payload, fromHex } from '../tx.js';
import { currentLanguage, t } from './i18n.js';
import { api, checkReceipt, field, h, notice, query, sendTransaction, serverTable, session, shortHex, time } from './ui.js';

const ROLES = ['platform', 'brand', 'manufacturer', 'supplier', 'distributor', 'retailer', 'logistics'];
const roleNames = (roles) => roles.map((r) => t(`role.${r}`)).join(currentLanguage() === 'zh' ? '、' : ', ');

function heading(main, key, params) {
  main.append(h('h1', {}, t(key, params)));
}

/** The signed-in user's organisation. */
async function overview(main) {
  heading(main, 'overview.title');
  const s = session.current;
  const box = h('div', { class: 'card', 'data-testid': 'overview' }, t('common.loading'));
  main.append(box);
  try {
    const org = await api('GET', `/v1/orgs/${encodeURIComponent(s.org)}`);
    box.replaceChildren(
      h('h2', {}, org.name, ' ', h('code', {}, org.id)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, t('orgs.roles')),
        h('dd', {}, roleNames(org.roles)),
        h('dt', {}, t('orgs.region')),
        h('dd', {}, org.region ?? '—'),
        h('dt', {}, t('overview.members')),
        h('dd', {}, String(org.members.length)),
        h('dt', {}, t('overview.licences')),
        h('dd', {}, org.licences.join(', ') || '—'),
        h('dt', {}, t('overview.products')),
        h('dd', {}, String(org.product_count)),
        h('dt', {}, t('overview.your_key')),
        h('dd', {}, shortHex(s.key)),
        h('dt', {}, t('overview.may_send')),
        h('dd', {}, s.may_send.length ? s.may_send.map((k) => h('code', { class: 'kind' }, k)) : t('overview.none')),
      ),
    );
  } catch {
    box.replaceChildren(h('p', {}, t('overview.missing')));
  }
}

function orgTable({ initialQuery = '' } = {}) {
  const filter = h('input', { id: 'org-filter', name: 'q', type: 'search', value: initialQuery });
  const role = h('select', { id: 'org-role', name: 'role' }, h('option', { value: '' }, t('table.any_role')), ROLES.map((r) => h('option', { value: r }, t(`role.${r}`))));
  const controls = h(
    'div',
    { class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: 'org-filter' }, t('table.filter')), filter),
    h('div', { class: 'field' }, h('label', { for: 'org-role' }, t('table.role')), role),
  );
  const table = serverTable({
    caption: t('orgs.title'),
    testid: 'orgs',
    controls: [controls],
    initialSort: { sort: 'registered', order: 'desc' },
    columns: [
      { key: 'id', label: t('orgs.id'), sort: 'id', cell: (o) => h('code', {}, o.id) },
      { key: 'name', label: t('orgs.name'), sort: 'name' },
      { key: 'roles', label: t('orgs.roles'), cell: (o) => roleNames(o.roles) },
      { key: 'region', label: t('orgs.region') },
      { key: 'members', label: t('orgs.members') },
      {
        key: 'licences',
        label: t('orgs.licences'),
        sort: 'licences',
        cell: (o) => h('a', { href: `#/licences/${encodeURIComponent(o.id)}` }, String(o.licences)),
      },
      { key: 'registered_height', label: t('orgs.registered'), sort: 'registered' },
    ],
    load: (params) => api('GET', `/console/api/orgs${query(params)}`),
  });
  return h('div', {}, controls, table.el);
}

function orgs(main, [initialQuery]) {
  heading(main, 'orgs.title');
  main.append(h('p', {}, h('a', { class: 'button', href: '#/new-org' }, t('orgs.new'))), orgTable({ initialQuery }));
}

function randomPassword() {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

function newOrg(main) {
  heading(main, 'neworg.title');
  const message = notice();
  const roles = h(
    'fieldset',
    { class: 'roles' },
    h('legend', {}, t('neworg.roles')),
    ROLES.filter((r) => r !== 'platform').map((r) =>
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'role', value: r }), ' ', t(`role.${r}`)),
    ),
  );
  const submit = h('button', { type: 'submit' }, t('neworg.submit'));
  const form = h(
    'form',
    { class: 'card form-grid', 'data-testid': 'new-org' },
    h('p', { class: 'muted wide' }, t('neworg.intro')),
    h(
      'fieldset',
      {},
      h('legend', {}, t('neworg.org')),
      field(t('neworg.id'), { name: 'id', required: true, pattern: '[a-z0-9][a-z0-9\\-]{1,62}', autocapitalize: 'none' }),
      field(t('neworg.name'), { name: 'name', required: true, maxlength: 200 }),
      roles,
      field(t('neworg.prefix'), { name: 'prefix', inputmode: 'numeric', pattern: '[0-9]{6,12}' }),
      field(t('neworg.region'), { name: 'region', pattern: '[A-Z]{2}(-[A-Z0-9]{1,3})?' }),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, t('neworg.user')),
      field(t('neworg.user_name'), { name: 'user', required: true, pattern: '[a-z0-9._@\\-]{3,64}', autocapitalize: 'none', autocomplete: 'off' }),
      field(t('neworg.display_name'), { name: 'display', required: true, maxlength: 100 }),
      field(t('neworg.password'), { name: 'password', required: true, minlength: 10, value: randomPassword(), autocomplete: 'new-password' }),
    ),
    h('div', { class: 'wide' }, submit, message.el),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const f = new FormData(form);
    const chosen = f.getAll('role');
    if (!chosen.length) return message.error(new Error(t('neworg.need_role')));
    submit.disabled = true;
    try {
      const id = f.get('id').trim();
      const user = await api('POST', '/console/api/users', {
        name: f.get('user').trim(),
        display_name: f.get('display').trim(),
        org: id,
        role: 'admin',
        password: f.get('password'),
      });
      const receipt = checkReceipt(
        await sendTransaction(
          payload.registerOrg({
            id,
            name: f.get('name').trim(),
            roles: chosen,
            gs1CompanyPrefix: f.get('prefix').trim() || null,
            region: f.get('region').trim() || null,
            admin: fromHex(user.key),
          }),
          (text) => message.info(text),
        ),
      );
      message.ok(t('neworg.done', { id, user: user.name }));
      message.el.append(' ', h('a', { href: `#/explorer/tx/${receipt.hash}`, 'data-tx': receipt.hash }, t('tx.hash', { hash: receipt.hash.slice(0, 12) })));
    } catch (e) {
      message.error(e);
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
}

function licences(main, [orgParam]) {
  heading(main, 'licences.title');
  const message = notice();
  const orgInput = h('input', { id: 'lic-org', name: 'org', value: orgParam ?? '', required: true, autocapitalize: 'none' });
  const list = h('div', { 'data-testid': 'licences' }, h('p', { class: 'muted' }, t('licences.pick')));
  let table = null;
  const show = () => {
    const org = orgInput.value.trim();
    if (!org) return;
    if (location.hash !== `#/licences/${encodeURIComponent(org)}`) history.replaceState(null, '', `#/licences/${encodeURIComponent(org)}`);
    table = serverTable({
      caption: `${t('licences.title')} · ${org}`,
      testid: 'licence-table',
      columns: [
        { key: 'id', label: t('licences.id'), cell: (l) => h('code', {}, l.id) },
        { key: 'quota', label: t('licences.quota'), cell: (l) => l.quota.toLocaleString() },
        { key: 'used', label: t('licences.used'), cell: (l) => l.used.toLocaleString() },
        { key: 'remaining', label: t('licences.remaining'), cell: (l) => l.remaining.toLocaleString() },
        { key: 'valid_until', label: t('licences.valid'), cell: (l) => time(l.valid_until * 1000).slice(0, 10) },
        { key: 'state', label: t('licences.state'), cell: (l) => (l.revoked ? t('licences.revoked') : t('licences.active')) },
        {
          key: 'actions',
          label: '',
          cell: (l) => (l.revoked || !session.current.may_send.includes('revoke_licence') ? '' : revokeForm(l.id)),
        },
      ],
      load: (params) => api('GET', `/console/api/licences${query({ org, offset: params.offset, limit: params.limit })}`),
    });
    list.replaceChildren(table.el);
  };
  const revokeForm = (id) => {
    const reasonId = `revoke-${id}`;
    return h(
      'form',
      {
        class: 'inline',
        onsubmit: async (event) => {
          event.preventDefault();
          const reason = event.target.elements.reason.value.trim() || 'revoked by the platform';
          try {
            checkReceipt(await sendTransaction(payload.revokeLicence(id, reason), (text) => message.info(text)));
            message.ok(t('licences.revoked_done', { id }));
            table?.reload();
          } catch (e) {
            message.error(e);
          }
        },
      },
      h('label', { for: reasonId, class: 'visually-hidden' }, t('licences.revoke_reason', { id })),
      h('input', { id: reasonId, name: 'reason', size: 12, placeholder: t('licences.revoke_reason', { id }) }),
      h('button', { type: 'submit', class: 'danger' }, t('licences.revoke')),
    );
  };
  const picker = h(
    'form',
    { class: 'filters', onsubmit: (e) => (e.preventDefault(), show()) },
    h('div', { class: 'field' }, h('label', { for: 'lic-org' }, t('licences.org')), orgInput),
    h('button', { type: 'submit', class: 'secondary' }, t('licences.show')),
  );
  main.append(picker, message.el, list);
  if (session.current.may_send.includes('issue_licence')) {
    const submit = h('button', { type: 'submit' }, t('licences.submit'));
    const issue = h(
      'form',
      { class: 'card form-grid', 'data-testid': 'issue-licence' },
      h('h2', { class: 'wide' }, t('licences.issue')),
      field(t('licences.new_id'), { name: 'id', required: true, pattern: '[a-z0-9][a-z0-9\\-]{1,62}', autocapitalize: 'none' }),
      field(t('licences.quota'), { name: 'quota', type: 'number', min: 1, required: true, value: 100000 }),
      field(t('licences.days'), { name: 'days', type: 'number', min: 1, max: 3650, required: true, value: 365 }),
      h('div', { class: 'wide' }, submit),
    );
    issue.addEventListener('submit', async (event) => {
      event.preventDefault();
      const org = orgInput.value.trim();
      if (!org) return orgInput.focus();
      const f = new FormData(issue);
      const id = f.get('id').trim();
      const now = Math.floor(Date.now() / 1000);
      submit.disabled = true;
      try {
        checkReceipt(
          await sendTransaction(
            payload.issueLicence({ id, org, quota: BigInt(f.get('quota')), validFrom: now - 60, validUntil: now + Number(f.get('days')) * 86400 }),
            (text) => message.info(text),
          ),
        );
        message.ok(t('licences.issued', { id }));
        show();
      } catch (e) {
        message.error(e);
      } finally {
        submit.disabled = false;
      }
    });
    main.append(issue);
  }
  if (orgParam) show();
}

function nodes(main) {
  heading(main, 'nodes.title');
  const box = h('div', { class: 'cards', 'data-testid': 'node' }, t('common.loading'));
  const validators = h('div', { class: 'card' });
  main.append(box, validators);
  const stat = (label, value, testid) => h('div', { class: 'stat' }, h('span', { class: 'label' }, label), h('span', { class: 'value', 'data-testid': testid }, value));
  async function refresh() {
    try {
      const n = await api('GET', '/console/api/node');
      const s = n.status;
      box.replaceChildren(
        stat(t('nodes.health'), h('span', { class: `health ${n.health}` }, t(`nodes.${n.health}`)), 'health'),
        stat(t('nodes.height'), s.height.toLocaleString(), 'height'),
        stat(t('nodes.peers'), String(s.peers ?? 0), 'peers'),
        stat(t('nodes.mempool'), String(s.mempool_size)),
        stat(t('nodes.txs'), s.tx_count.toLocaleString()),
        stat(t('nodes.view'), String(s.view)),
        stat(t('nodes.role'), s.role),
        stat(t('nodes.age'), n.tip_age_ms == null ? '—' : t('nodes.age_value', { s: (n.tip_age_ms / 1000).toFixed(1) })),
        stat(t('nodes.exec'), n.mean_block_execution_micros == null ? '—' : `${(n.mean_block_execution_micros / 1000).toFixed(2)} ms`),
      );
      validators.replaceChildren(
        h('h2', {}, t('nodes.validators')),
        h('p', {}, t('nodes.chain'), ' ', h('code', {}, s.chain_id)),
        h('ol', {}, s.validators.map((v) => h('li', {}, h('code', { class: 'wrap' }, v)))),
      );
    } catch (e) {
      box.textContent = e.message;
    }
  }
  refresh();
  const timer = setInterval(refresh, 3000);
  return () => clearInterval(timer);
}

function txFacts(tx) {
  return h(
    'dl',
    { class: 'facts', 'data-testid': 'tx', 'data-status': tx.status },
    h('dt', {}, t('explorer.hash')),
    h('dd', {}, h('code', { class: 'wrap' }, tx.hash)),
    h('dt', {}, t('explorer.kind')),
    h('dd', {}, tx.kind ?? '—'),
    h('dt', {}, t('explorer.status')),
    h('dd', {}, h('span', { class: `status ${tx.status}` }, t(`tx.${tx.status}`))),
    tx.reason ? [h('dt', {}, t('explorer.reason')), h('dd', {}, `${tx.reason} ${tx.detail ?? ''}`)] : [],
    h('dt', {}, t('explorer.signer')),
    h('dd', {}, tx.signer ? h('code', { class: 'wrap' }, tx.signer) : '—'),
    h('dt', {}, t('explorer.position')),
    h('dd', {}, tx.height == null ? '—' : h('a', { href: `#/explorer/block/${tx.height}` }, `${tx.height} / ${tx.index}`)),
  );
}

function explorer(main, [view, arg]) {
  heading(main, 'explorer.title');
  const message = notice();
  const input = h('input', { id: 'search', name: 'q', type: 'search', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const result = h('div', { 'data-testid': 'result' });
  const form = h(
    'form',
    {
      role: 'search',
      class: 'search',
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        try {
          const found = await api('GET', `/console/api/search${query({ q: input.value.trim() })}`);
          if (found.kind === 'tx') location.hash = `#/explorer/tx/${found.tx.hash}`;
          else if (found.kind === 'block') location.hash = `#/explorer/block/${found.height}`;
          else if (found.kind === 'org') {
            result.replaceChildren(
              h('div', { class: 'card' }, h('h2', {}, t('explorer.org', { id: found.id })), h('a', { href: `#/orgs/${encodeURIComponent(found.id)}` }, t('explorer.open_org'))),
            );
          } else if (found.kind === 'code') {
            result.replaceChildren(
              h(
                'div',
                { class: 'card' },
                h('h2', {}, t('explorer.code', { gtin: found.gtin, serial: found.serial })),
                h('a', { href: found.path, target: '_blank', rel: 'noopener' }, t('explorer.open_code')),
              ),
            );
          }
        } catch (e) {
          if (e.status === 404) message.info(t('explorer.not_found'));
          else message.error(e);
        }
      },
    },
    h('label', { for: 'search' }, t('explorer.search')),
    h('div', { class: 'row' }, input, h('button', { type: 'submit' }, t('explorer.go'))),
  );
  main.append(form, message.el, result);
  if (view === 'tx' && arg) {
    api('GET', `/v1/tx/${arg}`)
      .then((tx) => result.replaceChildren(h('div', { class: 'card' }, h('h2', {}, t('explorer.tx')), txFacts(tx))))
      .catch((e) => message.error(e));
  } else if (view === 'block' && arg) {
    block(result, Number(arg), message);
  } else {
    latestBlocks(result, message);
  }
}

function latestBlocks(result, message) {
  let before = null;
  const tbody = h('tbody');
  const older = h('button', { type: 'button', class: 'secondary' }, t('explorer.older'));
  const newest = h('button', { type: 'button', class: 'secondary' }, t('explorer.newer'));
  async function load() {
    try {
      const page = await api('GET', `/console/api/blocks${query({ before, limit: 15 })}`);
      tbody.replaceChildren(
        ...page.rows.map((b) =>
          h(
            'tr',
            {},
            h('td', { 'data-label': t('explorer.height') }, h('a', { href: `#/explorer/block/${b.height}` }, String(b.height))),
            h('td', { 'data-label': t('explorer.hash') }, shortHex(b.hash)),
            h('td', { 'data-label': t('explorer.time') }, time(b.time_ms)),
            h('td', { 'data-label': t('explorer.txs') }, String(b.txs)),
          ),
        ),
      );
      older.disabled = page.next_before == null;
      older.onclick = () => {
        before = page.next_before;
        load();
      };
      newest.disabled = before == null;
    } catch (e) {
      message.error(e);
    }
  }
  newest.onclick = () => {
    before = null;
    load();
  };
  result.replaceChildren(
    h(
      'div',
      { class: 'table-block' },
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { 'data-testid': 'blocks' },
          h('caption', {}, t('explorer.blocks')),
          h('thead', {}, h('tr', {}, [t('explorer.height'), t('explorer.hash'), t('explorer.time'), t('explorer.txs')].map((c) => h('th', { scope: 'col' }, c)))),
          tbody,
        ),
      ),
      h('div', { class: 'pager' }, newest, older),
    ),
  );
  load();
}

async function block(result, height, message) {
  try {
    const b = await api('GET', `/console/api/blocks/${height}?limit=1`);
    const facts = h(
      'dl',
      { class: 'facts' },
      h('dt', {}, t('explorer.hash')),
      h('dd', {}, h('code', { class: 'wrap' }, b.hash)),
      h('dt', {}, t('explorer.parent')),
      h('dd', {}, height > 1 ? h('a', { href: `#/explorer/block/${height - 1}` }, shortHex(b.parent)) : shortHex(b.parent)),
      h('dt', {}, t('explorer.time')),
      h('dd', {}, time(b.time_ms)),
      h('dt', {}, t('explorer.state_root')),
      h('dd', {}, shortHex(b.state_root)),
      h('dt', {}, t('explorer.tx_root')),
      h('dd', {}, shortHex(b.tx_root)),
      h('dt', {}, t('explorer.certified')),
      h('dd', {}, b.certified ? t('explorer.yes') : t('explorer.no')),
    );
    const txs = serverTable({
      caption: t('explorer.txs'),
      testid: 'block-txs',
      columns: [
        { key: 'hash', label: t('explorer.hash'), cell: (x) => h('a', { href: `#/explorer/tx/${x.hash}` }, shortHex(x.hash)) },
        { key: 'kind', label: t('explorer.kind') },
        { key: 'signer', label: t('explorer.signer'), cell: (x) => (x.signer ? shortHex(x.signer) : '—') },
        { key: 'status', label: t('explorer.status'), cell: (x) => h('span', { class: `status ${x.status}` }, t(`tx.${x.status}`)) },
        { key: 'reason', label: t('explorer.reason') },
      ],
      load: (p) => api('GET', `/console/api/blocks/${height}${query({ offset: p.offset, limit: p.limit })}`).then((d) => d.txs),
    });
    result.replaceChildren(h('div', { class: 'card' }, h('h2', {}, t('explorer.block', { height })), facts), txs.el);
  } catch (e) {
    message.error(e);
  }
}

/** Registers the screens of this file. */
export function registerPlatformScreens(register) {
  register({ id: 'overview', nav: 'nav.overview', roles: [], render: overview });
  register({ id: 'orgs', nav: 'nav.orgs', roles: ['platform'], render: orgs });
  register({ id: 'new-org', nav: 'nav.new_org', roles: ['platform'], render: newOrg });
  register({ id: 'licences', nav: 'nav.licences', roles: ['platform'], render: licences });
  register({ id: 'nodes', nav: 'nav.nodes', roles: [], render: nodes });
  register({ id: 'explorer', nav: 'nav.explorer', roles: [], render: explorer });
}
