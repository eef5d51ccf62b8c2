// The incident view: "lagtrail report incident" for a group and window as
// a page. Each incident's start, peak, recovery and cause, the partitions it
// affected and its timeline, and the group's lag at every poll with the
// incidents marked on it.

import {
  $,
  api,
  apiURL,
  errorText,
  esc,
  fmtClock,
  fmtCount,
  fmtDuration,
  fmtRate,
  fmtTimeLag,
  fmtUTC,
  hook,
  initHeader,
  isoUTC,
  parseTime,
  rangeBar,
  readSelection,
  resolveTime,
  setRange,
  showError,
  TIME_FORMS,
} from './common.js';
import { makeChart, markerDraw, statusChart, statusLegend } from './charts.js';

/** Colours of the marks. */
const MARK = { start: '#1a5fb4', peak: '#c01c28', recovered: '#26a269' };

let generation = 0;
let bar = null;

/** navigate puts a new window in the address and loads it. */
function navigate(from, to) {
  setRange(from, to);
  load();
}

/** when writes a time as its date and clock in UTC. */
const when = (t) => (t ? `${esc(fmtUTC(t))} UTC` : '–');

/** incidentHTML renders one incident's card. */
function incidentHTML(inc, i) {
  const aff = (inc.affected || [])
    .map(
      (a) =>
        `<tr data-testid="affected-row"><td>${esc(a.topic)}</td><td class="num">${a.partition}</td><td class="num" title="${a.peak_lag}">${esc(fmtCount(a.peak_lag))}</td><td>${esc(fmtClock(a.peak_at))}</td><td>${esc(a.why)}</td></tr>`,
    )
    .join('');
  const timeline = (inc.timeline || [])
    .map((e) => `<li data-testid="timeline-entry"><span>${esc(fmtClock(e.at))}</span><span class="kind">${esc(e.kind.replaceAll('_', ' '))}</span><span>${esc(e.text)}</span></li>`)
    .join('');
  const recovered = inc.recovered
    ? `${when(inc.recovered)} <span class="muted">(${esc(fmtDuration(inc.recovery_seconds))} after the start, drained in ${esc(fmtDuration(inc.drain_seconds))} from the peak)</span>`
    : '<b>not recovered</b> by the end of the window';
  const c = inc.cause || {};
  const rates =
    c.produce_before !== undefined && c.produce_before !== null
      ? `<dt>Rates</dt><dd>production ${esc(fmtRate(c.produce_before))} → ${esc(fmtRate(c.produce_after))}, consumption ${esc(fmtRate(c.consume_before))} → ${esc(fmtRate(c.consume_after))}</dd>`
      : '';
  return `<section class="card incident" data-testid="incident">
    <h2>Incident ${i + 1}: ${esc((c.kind || 'unknown').replaceAll('_', ' '))}</h2>
    <p class="cause" data-testid="incident-cause">${esc(c.text || '')}</p>
    <dl class="facts">
      <dt>Start</dt><dd data-testid="incident-start">${when(inc.start)}${inc.started_before ? ' <span class="pill">began before the window</span>' : ''}</dd>
      <dt>Detected</dt><dd>${when(inc.detected)}</dd>
      <dt>Peak</dt><dd data-testid="incident-peak">${when(inc.peak)}: lag <b title="${inc.peak_lag}">${esc(fmtCount(inc.peak_lag))}</b>${
        inc.peak_time_lag_seconds !== null && inc.peak_time_lag_seconds !== undefined
          ? `, time lag <b>${esc(fmtTimeLag(inc.peak_time_lag_seconds, inc.peak_time_lag_kind))}</b>${inc.peak_time_lag_at && inc.peak_time_lag_at !== inc.peak ? ` at ${esc(fmtClock(inc.peak_time_lag_at))}` : ''}`
          : ''
      }</dd>
      <dt>Recovered</dt><dd data-testid="incident-recovered">${recovered}</dd>
      ${rates}
    </dl>
    <div class="cols">
      <div><h2>Affected partitions <small>${(inc.affected || []).length}${inc.unaffected?.length ? `; ${inc.unaffected.length} unaffected` : ''}</small></h2>
        <table class="small"><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Peak lag</th><th>Peak at (UTC)</th><th>Why</th></tr></thead><tbody>${aff}</tbody></table></div>
      <div><h2>Timeline <small>UTC</small></h2><ol class="timeline">${timeline}</ol></div>
    </div>
  </section>`;
}

/** load fetches the report of the window in the address and renders it. */
async function load() {
  const s = readSelection();
  bar.show(s.from, s.to);
  document.title = `Incident report: ${s.group || '?'} · lagtrail`;
  $('title').textContent = `Incident report: ${s.group || '(no group)'}`;
  $('where').textContent = [s.region, s.instance].filter(Boolean).join(' · ');
  const gq = new URLSearchParams({ group: s.group, from: s.from, to: s.to });
  if (s.region) gq.set('region', s.region);
  if (s.instance) gq.set('instance', s.instance);
  $('crumb-group').href = 'group?' + gq;
  $('crumb-group').textContent = s.group || 'group';
  if (!s.group) {
    showError('No group given: open a group from the fleet.');
    return;
  }
  // Resolve the window once, so the request can be repeated exactly.
  const now = Date.now();
  const from = resolveTime(s.from, now);
  const to = resolveTime(s.to, now);
  if (!Number.isFinite(from) || !Number.isFinite(to) || !(to > from)) {
    showError(`bad window from ${JSON.stringify(s.from)} to ${JSON.stringify(s.to)}: want ${TIME_FORMS}, from before to`);
    return;
  }
  const params = { group: s.group, region: s.region, instance: s.instance, from: isoUTC(from), to: isoUTC(to), format: 'json' };
  const my = ++generation;
  hook.requests = { incident: apiURL('incident', params) };
  hook.busy = true;
  $('main').classList.add('loading');
  let rep;
  try {
    rep = await api('incident', params);
  } catch (e) {
    if (my !== generation) return;
    hook.busy = false;
    $('main').classList.remove('loading');
    showError(`Could not load the report: ${errorText(e)}`);
    return;
  }
  if (my !== generation) return;
  showError(null);
  $('main').classList.remove('loading');
  render(rep);
  hook.busy = false;
  hook.loaded++;
}

/** render draws a report. */
function render(rep) {
  if (rep.group) $('where').textContent = [rep.group.region, rep.group.instance_id].filter(Boolean).join(' · ');
  const from = parseTime(rep.from);
  const to = parseTime(rep.to);
  const incs = rep.incidents || [];
  $('range-text').textContent = `${fmtUTC(from, { seconds: false })} → ${fmtUTC(to, { seconds: false })} UTC (${fmtDuration((to - from) / 1000)})`;
  $('summary').textContent =
    incs.length === 0 ? 'No incident in this window' : incs.length === 1 ? '1 incident in this window' : `${incs.length} incidents in this window`;
  const n = rep.normal || {};
  const pf = rep.poll_failures || {};
  const codes = (pf.by_code || []).map((c) => `${c.code} ×${c.count}`).join(', ');
  const rebalances = (rep.rebalances || []).length;
  $('facts').innerHTML = `
    <dt>Normal</dt><dd>lag up to ${esc(fmtCount(n.lag_p95))} (95th percentile of the ${esc(fmtDuration(rep.baseline_seconds))} before the window), production ${esc(fmtRate(n.produce_rate))}</dd>
    <dt>Polls</dt><dd>every ${esc(fmtDuration(rep.poll_interval_seconds))}; ${pf.failed || 0} of ${pf.attempts || 0} failed${codes ? ` (${esc(codes)})` : ''}${(pf.gaps || []).length ? `; ${(pf.gaps || []).length} gaps` : ''}${
      rep.polls_per_point > 1 ? `; the chart shows every ${rep.polls_per_point}th poll` : ''
    }</dd>
    <dt>Rebalances</dt><dd>${rebalances}</dd>`;

  for (const u of Object.values(hook.charts)) u?.destroy();
  hook.charts = {};
  const series = rep.series || [];
  const start = Math.min(from, series.length ? parseTime(series[0].at) : from);
  const range = [start, to];
  const onZoom = (a, b) => navigate(isoUTC(Math.floor(a / 1000) * 1000), isoUTC(Math.ceil(b / 1000) * 1000));
  const common = { range, sync: 'lagtrail-incident', onZoom };

  const intervals = (rep.statuses || []).map((x) => ({
    from: parseTime(x.from),
    to: parseTime(x.to),
    status: x.status,
    reason: x.reason,
  }));
  hook.charts.status = statusChart($('chart-istatus'), intervals, { ...common, height: 80 });

  const marks = [];
  incs.forEach((inc, i) => {
    const tag = incs.length > 1 ? `#${i + 1} ` : '';
    marks.push({ at: parseTime(inc.start), label: `${tag}start`, color: MARK.start, dash: [5, 4] });
    marks.push({ at: parseTime(inc.peak), label: `${tag}peak ${fmtCount(inc.peak_lag)}`, color: MARK.peak });
    if (inc.recovered) marks.push({ at: parseTime(inc.recovered), label: `${tag}recovered`, color: MARK.recovered, dash: [5, 4] });
  });
  hook.marks = marks.map((m) => ({ at: m.at, label: m.label }));
  const baselineShade = (u) => {
    const x0 = u.valToPos(start / 1000, 'x', true);
    const x1 = u.valToPos(from / 1000, 'x', true);
    if (x1 - x0 < 1) return;
    const { top, height } = u.bbox;
    u.ctx.fillStyle = 'rgba(120,130,140,0.10)';
    u.ctx.fillRect(x0, top, x1 - x0, height);
  };
  hook.charts.lag = makeChart($('chart-ilag'), {
    ...common,
    height: 300,
    yFmt: fmtCount,
    yMin: 0,
    yLabel: 'lag (messages)',
    // With more polls than points, each point is the last of several
    // polls: the band up to lag_max shows their peak.
    data: rep.polls_per_point > 1
      ? [series.map((p) => parseTime(p.at) / 1000), series.map((p) => p.lag ?? null), series.map((p) => p.lag_max ?? null)]
      : [series.map((p) => parseTime(p.at) / 1000), series.map((p) => p.lag ?? null)],
    series: rep.polls_per_point > 1
      ? [{ label: 'group lag', color: '#1f2328', width: 1.75 }, { label: 'group lag max', maxOf: 0 }]
      : [{ label: 'group lag', color: '#1f2328', width: 1.75 }],
    draw: markerDraw(marks),
    drawClear: baselineShade,
  });

  $('incidents').innerHTML = incs.map(incidentHTML).join('');
}

function init() {
  initHeader();
  statusLegend($('status-key'));
  bar = rangeBar($('rangebar'), (from, to) => navigate(from, to));
  window.addEventListener('popstate', load);
  load();
}

init();
