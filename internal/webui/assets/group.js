// The group view: a group's status timeline, lag by partition, consume and
// produce rates and time lag over a time range. The address holds the
// whole state (group, region, instance, from, to): reloading or sharing it
// shows the same view.
//
// The range is resolved here and widened to whole buckets of a step chosen
// for at most MAX_POINTS points a series (whole hours from 7 days on, which
// the server answers from its hourly rollups), so that every chart has the
// same buckets and each request can be repeated exactly.

import {
  $,
  alignedRange,
  api,
  apiURL,
  chooseStep,
  errorText,
  esc,
  fmtAxis,
  fmtCount,
  fmtDuration,
  fmtRate,
  fmtStep,
  fmtTimeLag,
  fmtUTC,
  hook,
  initHeader,
  isoUTC,
  parseTime,
  rangeBar,
  readSelection,
  setRange,
  showError,
} from './common.js';
import { DURATION_INCRS, makeChart, seriesColor, statusChart, statusLegend } from './charts.js';

/** Most buckets the status timeline is evaluated at (the response is intervals, so only the server's work grows). */
const STATUS_POINTS = 1500;
/** The shortest range a zoom goes to. */
const MIN_ZOOM_MS = 5 * 60e3;
/** Above this many partitions the legend scrolls. */
const MANY = 16;

let generation = 0;
let aborter = null;
let bar = null;

/** navigate puts a new range in the address and loads it. */
function navigate(from, to, push = true) {
  setRange(from, to, push);
  load();
}

/** zoomTo shows [a, b) (ms), at least MIN_ZOOM_MS long. */
function zoomTo(a, b) {
  if (b - a < MIN_ZOOM_MS) {
    const mid = (a + b) / 2;
    a = mid - MIN_ZOOM_MS / 2;
    b = mid + MIN_ZOOM_MS / 2;
  }
  navigate(isoUTC(Math.floor(a / 1000) * 1000), isoUTC(Math.ceil(b / 1000) * 1000));
}

/** keyLabel names a partition series. */
const keyLabel = (r) => `${r.topic}/${r.partition}`;

/**
 * pivot turns rows into uPlot data: the sorted bucket times (seconds), and
 * per key a column of values (null where the key has no row or no value).
 */
function pivot(rows, keyOf, valueOf, keys) {
  const times = [...new Set(rows.map((r) => parseTime(r.time)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const cols = new Map(keys.map((k) => [k, new Array(times.length).fill(null)]));
  for (const r of rows) {
    const col = cols.get(keyOf(r));
    if (col) col[index.get(parseTime(r.time))] = valueOf(r) ?? null;
  }
  return [times.map((t) => t / 1000), ...keys.map((k) => cols.get(k))];
}

/** partitionKeys lists the topic/partition keys of rows, by topic then partition number. */
function partitionKeys(rows) {
  const seen = new Map();
  for (const r of rows) seen.set(keyLabel(r), [r.topic, r.partition]);
  return [...seen.entries()]
    .sort((a, b) => (a[1][0] < b[1][0] ? -1 : a[1][0] > b[1][0] ? 1 : a[1][1] - b[1][1]))
    .map(([k]) => k);
}

/** destroyCharts removes the charts of the previous range. */
function destroyCharts() {
  for (const u of Object.values(hook.charts)) u?.destroy();
  hook.charts = {};
}

/** load fetches the range in the address and draws every chart. */
async function load() {
  const s = readSelection();
  bar.show(s.from, s.to);
  document.title = `${s.group || 'Group'} · lagtrail`;
  $('group-name').textContent = s.group || '(no group)';
  $('crumb-group').textContent = s.group || 'group';
  $('group-where').textContent = [s.region, s.instance].filter(Boolean).join(' · ');
  const inc = new URLSearchParams({ group: s.group, from: s.from, to: s.to });
  if (s.region) inc.set('region', s.region);
  if (s.instance) inc.set('instance', s.instance);
  $('incident-link').href = 'incident?' + inc;
  if (!s.group) {
    showError('No group given: open a group from the fleet.');
    return;
  }
  let r;
  try {
    r = alignedRange(s.from, s.to);
  } catch (e) {
    showError(e.message);
    return;
  }
  const my = ++generation;
  aborter?.abort();
  aborter = new AbortController();
  const signal = aborter.signal;
  const step = fmtStep(r.step);
  // The status is evaluated at each bucket's last poll and never read from
  // the rollups: its steps stay fine on long ranges too, or a stop shorter
  // than an hour would fall between two evaluations.
  const statusStep = fmtStep(Math.min(r.step, chooseStep(r.to - r.from, STATUS_POINTS, false)));
  const base = { group: s.group, region: s.region, instance: s.instance, from: isoUTC(r.from), to: isoUTC(r.to) };
  const params = {
    lag: { ...base, by: 'partition', step },
    lagGroup: { ...base, by: 'group', step },
    rates: { ...base, by: 'group', step },
    status: { ...base, step: statusStep },
  };
  hook.requests = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, apiURL(k === 'lagGroup' ? 'lag' : k, p)]));
  hook.requests.timeLag = hook.requests.lagGroup;
  hook.state = { ...s, fromMs: r.from, toMs: r.to, step: r.step, statusStep };
  hook.busy = true;
  $('range-text').textContent = `${fmtUTC(r.from, { seconds: false })} → ${fmtUTC(r.to, { seconds: false })} UTC (${fmtDuration((r.to - r.from) / 1000)}), ${step} buckets`;
  $('main').classList.add('loading');
  // The status timeline is evaluated at every poll of the range, which is
  // slower than the bucketed charts: draw the charts when their data
  // arrives, and the status band when its own does.
  const statusReq = api('status', params.status, signal);
  statusReq.catch(() => {}); // awaited below; keep an early failure from going unhandled
  let lag, lagGroup, rates, status;
  try {
    [lag, lagGroup, rates] = await Promise.all([
      api('lag', params.lag, signal),
      api('lag', params.lagGroup, signal),
      api('rates', params.rates, signal),
    ]);
  } catch (e) {
    if (my !== generation) return;
    $('main').classList.remove('loading');
    hook.busy = false;
    showError(`Could not load ${s.group}: ${errorText(e)}`);
    return;
  }
  if (my !== generation) return;
  showError(null);
  $('main').classList.remove('loading');
  destroyCharts();
  const row = lag.rows[0] || lagGroup.rows[0];
  if (row && !s.region && !s.instance) $('group-where').textContent = `${row.region} · ${row.instance}`;
  const range = [r.from, r.to];
  const common = { range, sync: 'lagtrail-group', onZoom: zoomTo };
  $('card-status').classList.add('loading');
  $('group-status').textContent = '';

  // Lag by partition, with the group's total (hidden until asked for). A
  // bucket's line is its last poll; its peak (lag_max) is shaded above the
  // line, so that a stall that drained before the bucket's last poll still
  // shows its height.
  const keys = partitionKeys(lag.rows);
  const lagData = pivot(lag.rows, keyLabel, (x) => x.lag, keys);
  const maxData = pivot(lag.rows, keyLabel, (x) => x.lag_max, keys);
  const total = pivot(lagGroup.rows, () => 'total', (x) => x.lag, ['total']);
  const totalMax = pivot(lagGroup.rows, () => 'total', (x) => x.lag_max, ['total']);
  const totalCol = alignTo(lagData[0], total[0], total[1]);
  const totalMaxCol = alignTo(lagData[0], totalMax[0], totalMax[1]);
  $('card-lag').classList.toggle('many', keys.length > MANY);
  hook.charts.lag = makeChart($('chart-lag'), {
    ...common,
    height: 300,
    yFmt: fmtCount,
    yMin: 0,
    yLabel: 'messages',
    data: [lagData[0], ...lagData.slice(1), totalCol, ...maxData.slice(1), totalMaxCol],
    series: [
      ...keys.map((k, i) => ({ label: k, color: seriesColor(i, keys.length), width: 1.25 })),
      { label: 'total', color: '#1f2328', width: 2, dash: [6, 4], show: false },
      ...keys.map((k, i) => ({ label: `${k} max`, maxOf: i })),
      { label: 'total max', maxOf: keys.length },
    ],
  });
  if (!keys.length) $('chart-lag').insertAdjacentHTML('beforeend', '<p class="empty">No samples in this range.</p>');

  // Rates.
  const rateData = pivot(rates.rows, () => 'g', (x) => x.consume_rate, ['g']);
  const prodData = pivot(rates.rows, () => 'g', (x) => x.produce_rate, ['g']);
  hook.charts.rates = makeChart($('chart-rates'), {
    ...common,
    height: 220,
    yFmt: fmtAxis,
    yMin: 0,
    yLabel: 'messages/s',
    data: [rateData[0], rateData[1], prodData[1]],
    series: [
      { label: 'consume', color: '#1a5fb4', width: 1.75, value: (u, v) => fmtRate(v) },
      { label: 'produce', color: '#e66100', width: 1.75, dash: [5, 3], value: (u, v) => fmtRate(v) },
    ],
  });

  drawTimeLag(lagGroup, common, my);
  hook.marks = { ...(hook.marks || {}), charts: performance.now() };

  try {
    status = await statusReq;
  } catch (e) {
    if (my !== generation) return;
    $('card-status').classList.remove('loading');
    hook.busy = false;
    showError(`Could not load the status of ${s.group}: ${errorText(e)}`);
    return;
  }
  if (my !== generation) return;
  $('card-status').classList.remove('loading');
  // Status.
  const intervals = status.rows.map((x) => ({ ...x, from: parseTime(x.from), to: parseTime(x.to) }));
  // The header shows the status now, or at the end of a past range: that
  // of the last interval begun by then. A range ending in the future has
  // buckets after the last poll, NODATA once the poll is too old for them,
  // which say nothing of now.
  const nowMs = Date.now();
  const last = intervals.findLast((x) => x.from <= nowMs) ?? intervals[intervals.length - 1];
  $('group-status').innerHTML = last
    ? `<span class="chip s-${esc(last.status)}" title="${esc(last.reason)}">${esc(last.status)}</span> <span class="muted">${
        last.to >= nowMs ? 'now' : 'at ' + esc(fmtUTC(last.to, { seconds: false })) + ' UTC'
      }</span>`
    : '';
  hook.charts.status = statusChart($('chart-status'), intervals, common);

  hook.busy = false;
  hook.loaded++;
}

/** alignTo places values at times xs onto the times of axis (both seconds). */
function alignTo(axis, xs, values) {
  const at = new Map(xs.map((x, i) => [x, values[i]]));
  return axis.map((x) => at.get(x) ?? null);
}

/**
 * drawTimeLag draws the time lag from a group-level lag response. The
 * hourly rollups keep no time lag: when the response came from them, a
 * button fetches the same buckets from the raw samples.
 */
function drawTimeLag(body, common, my) {
  const data = pivot(body.rows, () => 'g', (x) => x.time_lag_seconds, ['g']);
  const kinds = new Map(body.rows.map((x) => [parseTime(x.time) / 1000, x.time_lag_kind]));
  hook.charts.timeLag?.destroy();
  hook.charts.timeLag = makeChart($('chart-timelag'), {
    ...common,
    height: 200,
    yFmt: fmtDuration,
    yIncrs: DURATION_INCRS,
    yMin: 0,
    yLabel: 'time lag',
    data,
    series: [
      {
        label: 'time lag',
        color: '#7b2cbf',
        width: 1.75,
        value: (u, v, si, idx) => (idx === null || idx === undefined ? '–' : fmtTimeLag(v, kinds.get(u.data[0][idx]))),
      },
    ],
  });
  const note = $('timelag-note');
  const known = data[1].some((v) => v !== null);
  if (body.tier === 'rollup' && !known && body.rows.length) {
    note.hidden = false;
    note.innerHTML = 'The hourly rollups this range is read from keep no time lag. <button type="button" data-testid="timelag-raw">Compute it from the raw samples</button> (slower), or zoom in to less than 7 days.';
    note.querySelector('button').addEventListener('click', async (e) => {
      e.target.disabled = true;
      const url = new URL(hook.requests.lagGroup);
      const p = Object.fromEntries(url.searchParams);
      p.tier = 'raw';
      hook.busy = true;
      try {
        const raw = await api('lag', p);
        if (my !== generation) return;
        hook.requests.timeLag = apiURL('lag', p);
        drawTimeLag(raw, common, my);
        hook.loaded++;
      } catch (err) {
        showError('Could not load the time lag: ' + errorText(err));
      } finally {
        hook.busy = false;
      }
    });
  } else {
    note.hidden = true;
    note.textContent = '';
  }
}

function init() {
  initHeader();
  statusLegend($('status-key'));
  bar = rangeBar($('rangebar'), (from, to) => navigate(from, to));
  $('zoom-out').addEventListener('click', () => {
    const st = hook.state;
    if (!st) return;
    const span = st.toMs - st.fromMs;
    const mid = (st.fromMs + st.toMs) / 2;
    const now = Date.now();
    if (mid + span >= now) navigate(isoUTC(Math.floor((now - 2 * span) / 1000) * 1000), 'now');
    else zoomTo(mid - span, mid + span);
  });
  window.addEventListener('popstate', load);
  load();
}

init();
