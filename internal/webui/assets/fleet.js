// The fleet view: every group's status, lag, time lag, ETA, rates and last
// poll from /api/v1/fleet, in one request, sortable and filterable, and
// refreshed every 30 seconds.
//
// A fleet can have thousands of groups: the rows are built once per fetch,
// as one HTML string parsed in one go; sorting or filtering only puts those
// row elements back in a new order; and past VIRTUAL_MIN rows only those in
// view (and a margin) are in the table, between two spacer rows, so that
// the browser lays out tens of rows, not thousands. The table has fixed
// column widths and row heights for that.

import {
  $,
  api,
  apiURL,
  errorText,
  esc,
  fmtAgo,
  fmtClock,
  fmtCount,
  fmtDuration,
  fmtRate,
  fmtTimeLag,
  fmtUTC,
  hook,
  initHeader,
  parseTime,
  showError,
  STATUS_HELP,
  STATUS_ORDER,
} from './common.js';

/** How often the table refreshes, in ms: 30s, or ?refresh=SECONDS (at least 2). */
const REFRESH_MS = (() => {
  const s = Number(new URLSearchParams(location.search).get('refresh'));
  return Number.isFinite(s) && s >= 2 ? s * 1000 : 30_000;
})();

/** Row height in px; app.css gives table.fleet rows this height. */
const ROW_H = 40;
/** Up to this many rows, every row is in the table. */
const VIRTUAL_MIN = 150;
/** Rows kept in the table above and below those in view. */
const OVERSCAN = 20;

const severity = (s) => STATUS_ORDER.indexOf(s);

// ETA sorts "not draining" (null, with lag) after every finite ETA.
const etaKey = (r) => (r.eta_seconds !== null ? r.eta_seconds : r.lag > 0 ? Infinity : null);

/** The columns: key, heading, numeric, sort key of a row, title. */
const COLUMNS = [
  { key: 'status', label: 'Status', width: 88, sort: (r) => severity(r.status), desc: true },
  { key: 'group', label: 'Group', sort: (r) => r.group.toLowerCase() },
  { key: 'lag', width: 76, label: 'Lag', num: true, sort: (r) => r.lag, desc: true, title: 'total lag at the last successful poll, messages' },
  { key: 'time_lag', width: 80, label: 'Time lag', num: true, sort: (r) => r.time_lag_seconds, desc: true, title: 'largest partition time lag; ~ estimated, ≥ lower bound' },
  { key: 'eta', width: 100, label: 'ETA', num: true, sort: etaKey, desc: true, title: 'time to drain the lag at the last 15 minutes\' pace' },
  { key: 'consume', width: 84, label: 'Consume', num: true, sort: (r) => r.consume_rate, desc: true, title: 'messages/s over the last 15 minutes' },
  { key: 'produce', width: 84, label: 'Produce', num: true, sort: (r) => r.produce_rate, desc: true, title: 'messages/s over the last 15 minutes' },
  { key: 'slope', width: 82, label: 'Trend', num: true, sort: (r) => r.slope, desc: true, title: 'how fast the lag grows (+) or shrinks (−), messages/s' },
  { key: 'partitions', width: 92, label: 'Partitions', num: true, sort: (r) => r.partition_count, desc: true },
  { key: 'last_poll', width: 150, label: 'Last poll (UTC)', sort: (r) => parseTime(r.last_poll_at), desc: true },
  { key: 'reason', width: '18%', label: 'Reason', sort: (r) => (r.reason || '').toLowerCase() },
];

const view = {
  rows: [], // fleet rows, each with its element _el and search text _text
  shown: [], // the rows that pass the filter, in order
  at: NaN, // the server's time of the fleet
  sort: 'status',
  desc: true,
  filter: '',
  paused: false,
  timer: 0,
  loading: false,
};

/** groupHref links a row to its group view. */
function groupHref(r, page = 'group') {
  const q = new URLSearchParams({ group: r.group, region: r.region, instance: r.instance });
  return `${page}?${q}`;
}

/** rowHTML renders one group's row. */
function rowHTML(r, at) {
  const st = r.status || 'NODATA';
  const title = [STATUS_HELP[st], r.partitions ? 'partitions: ' + r.partitions : ''].filter(Boolean).join('\n');
  const polled = parseTime(r.last_poll_at);
  let last = Number.isFinite(polled) ? `${esc(fmtClock(polled))} <span class="sub">${esc(fmtAgo(polled, at))}</span>` : '–';
  let lastCls = '';
  let lastTitle = `${fmtUTC(polled)} UTC`;
  if (r.last_poll_ok === false) {
    lastCls = ' bad';
    last = `${esc(fmtClock(polled))} <span class="sub">failed: ${esc(r.last_error || 'error')}</span>`;
    lastTitle += `: failed: ${r.last_error || 'error'}`;
  }
  let eta = '–';
  if (r.eta_seconds === 0) eta = '<span class="muted" title="no backlog">none</span>';
  else if (r.eta_seconds !== null) eta = esc(fmtDuration(r.eta_seconds));
  else if (r.lag > 0) eta = '<span class="muted">not draining</span>';
  let slope = '–';
  if (r.slope !== null && Math.abs(r.slope) < 0.05) slope = '<span class="muted">flat</span>';
  else if (r.slope !== null) slope = esc((r.slope > 0 ? '+' : '−') + fmtRate(Math.abs(r.slope)));
  return (
    `<tr data-testid="fleet-row" data-group="${esc(r.group)}" data-region="${esc(r.region)}" data-instance="${esc(r.instance)}" data-status="${esc(st)}">` +
    `<td><span class="chip s-${esc(st)}" title="${esc(title)}">${esc(st)}</span></td>` +
    `<td class="group"><a href="${esc(groupHref(r))}" data-testid="group-link">${esc(r.group)}</a>` +
    `<div class="sub" title="${esc(r.region)} · ${esc(r.instance)}">${esc(r.region)} · ${esc(r.instance)}</div></td>` +
    `<td class="num" title="${r.lag ?? ''}">${esc(fmtCount(r.lag))}</td>` +
    `<td class="num">${esc(fmtTimeLag(r.time_lag_seconds, r.time_lag_kind))}</td>` +
    `<td class="num">${eta}</td>` +
    `<td class="num">${esc(fmtRate(r.consume_rate))}</td>` +
    `<td class="num">${esc(fmtRate(r.produce_rate))}</td>` +
    `<td class="num" title="${r.slope ?? ''}">${slope}</td>` +
    `<td class="num">${r.partition_count ?? '–'}</td>` +
    `<td class="${lastCls}" title="${esc(lastTitle)}">${last}</td>` +
    `<td class="reason" title="${esc(r.reason)}">${st === 'OK' ? '' : esc(r.reason)}` +
    (st !== 'OK' && st !== 'NODATA' ? ` <a href="${esc(groupHref(r, 'incident'))}" data-testid="incident-link">report</a>` : '') +
    `</td></tr>`
  );
}

/** matcher compiles the filter: every word must match; status:X matches the status. */
function matcher(filter) {
  const terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length) return () => true;
  return (r) =>
    terms.every((t) => {
      if (t.startsWith('status:')) return r.status.toLowerCase() === t.slice(7);
      return r._text.includes(t);
    });
}

/** compare orders rows by the sort column; unknown values go last either way. */
function compare(col, desc) {
  return (a, b) => {
    const x = a._sort[col.key];
    const y = b._sort[col.key];
    const xn = x === null || x === undefined || Number.isNaN(x);
    const yn = y === null || y === undefined || Number.isNaN(y);
    if (xn || yn) return xn && yn ? a._i - b._i : xn ? 1 : -1;
    let c = x < y ? -1 : x > y ? 1 : 0;
    if (desc) c = -c;
    return c || a._i - b._i;
  };
}

/** render shows the rows that pass the filter in the sort order. */
function render() {
  const began = performance.now();
  const col = COLUMNS.find((c) => c.key === view.sort) || COLUMNS[0];
  const match = matcher(view.filter);
  const shown = view.rows.filter(match).sort(compare(col, view.desc));
  view.shown = shown;
  paint();
  for (const th of $('head').children) {
    th.setAttribute('aria-sort', th.dataset.sort === view.sort ? (view.desc ? 'descending' : 'ascending') : 'none');
  }
  const empty = $('empty');
  empty.hidden = shown.length > 0 || view.loading;
  empty.textContent = view.rows.length ? 'No group matches the filter.' : 'No group recorded yet: run "lagtrail record".';
  $('count').textContent = `${shown.length} of ${view.rows.length} groups`;
  hook.fleet = {
    shown: shown.length,
    total: view.rows.length,
    sort: view.sort,
    desc: view.desc,
    filter: view.filter,
    renderMs: performance.now() - began,
    loadMs: hook.fleet?.loadMs,
  };
  hook.fleet.rendered = $('rows').querySelectorAll('[data-testid=fleet-row]').length;
}

let spacers = null;

/** paint puts the shown rows in view into the table. */
function paint() {
  const tb = $('rows');
  const rows = view.shown;
  if (rows.length <= VIRTUAL_MIN) {
    tb.replaceChildren(...rows.map((r) => r._el));
    return;
  }
  if (!spacers) {
    const mk = () => {
      const tr = document.createElement('tr');
      tr.className = 'gap-row';
      tr.setAttribute('aria-hidden', 'true');
      tr.innerHTML = `<td colspan="${COLUMNS.length}"></td>`;
      return tr;
    };
    spacers = [mk(), mk()];
  }
  const wrap = $('wrap');
  const top = Math.max(0, wrap.scrollTop - $('head').offsetHeight);
  const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  // Before the spacers give the table its height the wrapper is short:
  // fill at least a window's height.
  const height = Math.max(wrap.clientHeight, window.innerHeight);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
  spacers[0].firstChild.style.height = first * ROW_H + 'px';
  spacers[1].firstChild.style.height = (rows.length - last) * ROW_H + 'px';
  // Emptying first is faster than replaceChildren moving rows in place.
  tb.textContent = '';
  tb.append(spacers[0], ...rows.slice(first, last).map((r) => r._el), spacers[1]);
  if (hook.fleet) hook.fleet.rendered = last - first;
}

/** renderSummary counts the groups at each status, as filter buttons. */
function renderSummary() {
  const counts = {};
  for (const r of view.rows) counts[r.status] = (counts[r.status] || 0) + 1;
  $('summary').innerHTML = STATUS_ORDER.slice()
    .reverse()
    .filter((s) => counts[s])
    .map((s) => `<button type="button" data-status="${s}" title="show only ${s}" data-testid="summary-${s}"><span class="chip s-${s}">${s}</span>${counts[s]}</button>`)
    .join('');
}

/** saveURL keeps the sort and filter in the address. */
function saveURL() {
  const q = new URLSearchParams();
  const refresh = new URLSearchParams(location.search).get('refresh');
  if (refresh) q.set('refresh', refresh);
  if (view.filter) q.set('q', view.filter);
  if (view.sort !== 'status') q.set('sort', view.sort);
  if (view.sort === 'status' ? !view.desc : view.desc !== !!COLUMNS.find((c) => c.key === view.sort)?.desc) q.set('dir', view.desc ? 'desc' : 'asc');
  const s = q.toString();
  history.replaceState(null, '', s ? '?' + s : location.pathname);
}

/** showUpdated writes when the table was last refreshed. */
function showUpdated() {
  const el = $('updated');
  if (!Number.isFinite(view.at)) return;
  el.textContent = `Updated ${fmtClock(view.at)} UTC · ${view.paused ? 'auto-refresh paused' : `refreshes every ${REFRESH_MS / 1000}s`}`;
  el.classList.toggle('paused', view.paused);
}

/** load fetches the fleet and renders it. */
async function load() {
  if (view.loading) return;
  view.loading = true;
  hook.busy = true;
  try {
    const body = await api('fleet', {});
    const at = parseTime(body.at) || Date.now();
    view.at = at;
    const began = performance.now();
    view.rows = body.rows.map((r, i) => {
      r.status = r.status || 'NODATA';
      r._i = i;
      r._sort = {};
      for (const c of COLUMNS) r._sort[c.key] = c.sort(r);
      r._text = `${r.region} ${r.instance} ${r.group} ${r.status} ${r.reason || ''} ${r.partitions || ''}`.toLowerCase();
      return r;
    });
    const parsed = document.createElement('tbody');
    parsed.innerHTML = view.rows.map((r) => rowHTML(r, at)).join('');
    const els = [...parsed.children];
    view.rows.forEach((r, i) => (r._el = els[i]));
    hook.requests.fleet = apiURL('fleet', {});
    showError(null);
    view.loading = false;
    renderSummary();
    render();
    showUpdated();
    hook.fleet.loadMs = performance.now() - began;
    hook.loaded++;
  } catch (e) {
    showError('Could not load the fleet: ' + errorText(e));
    $('updated').textContent = 'update failed';
  } finally {
    view.loading = false;
    hook.busy = false;
  }
}

/** schedule (re)arms the refresh timer. */
function schedule() {
  clearInterval(view.timer);
  if (view.paused) return;
  view.timer = setInterval(() => {
    if (!document.hidden) load();
  }, REFRESH_MS);
}

function init() {
  initHeader();
  const q = new URLSearchParams(location.search);
  view.filter = q.get('q') || '';
  const sort = q.get('sort');
  if (sort && COLUMNS.some((c) => c.key === sort)) view.sort = sort;
  const col = COLUMNS.find((c) => c.key === view.sort);
  view.desc = q.get('dir') ? q.get('dir') === 'desc' : !!col.desc;

  $('cols').innerHTML = COLUMNS.map((c) => `<col${c.width ? ` style="width:${typeof c.width === 'number' ? c.width + 'px' : c.width}"` : ''}>`).join('');
  let frame = 0;
  $('wrap').addEventListener(
    'scroll',
    () => {
      if (!frame && view.shown.length > VIRTUAL_MIN) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          paint();
        });
      }
    },
    { passive: true },
  );
  window.addEventListener('resize', () => view.shown.length > VIRTUAL_MIN && paint());
  $('head').innerHTML = COLUMNS.map(
    (c) => `<th data-sort="${c.key}" data-testid="sort-${c.key}" class="${c.num ? 'num' : ''}" title="${esc(c.title || 'sort by ' + c.label)}">${esc(c.label)}</th>`,
  ).join('');
  $('head').addEventListener('click', (e) => {
    const th = e.target.closest('th[data-sort]');
    if (!th) return;
    const c = COLUMNS.find((x) => x.key === th.dataset.sort);
    if (view.sort === c.key) view.desc = !view.desc;
    else {
      view.sort = c.key;
      view.desc = !!c.desc;
    }
    saveURL();
    render();
  });

  const filter = $('filter');
  filter.value = view.filter;
  let debounce = 0;
  filter.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      view.filter = filter.value.trim();
      saveURL();
      render();
    }, 80);
  });
  $('summary').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-status]');
    if (!b) return;
    const f = 'status:' + b.dataset.status;
    view.filter = view.filter === f ? '' : f;
    filter.value = view.filter;
    saveURL();
    render();
  });

  $('pause').addEventListener('click', () => {
    view.paused = !view.paused;
    $('pause').textContent = view.paused ? 'Resume' : 'Pause';
    $('pause').setAttribute('aria-pressed', String(view.paused));
    schedule();
    showUpdated();
    if (!view.paused) load();
  });
  $('refresh').addEventListener('click', () => load());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && !view.paused && Date.now() - view.at > REFRESH_MS) load();
  });
  schedule();
  load();
}

init();
