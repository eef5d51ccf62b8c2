// Charts on uPlot (assets/vendor/uPlot.iife.min.js, loaded before the
// pages' modules as the global uPlot): time series in UTC, the status
// band, markers, drag-to-zoom and a shared cursor.

import { STATUS_ORDER, STATUS_COLORS, fmtUTC } from './common.js';

const uPlot = window.uPlot;

// Tableau 10, then evenly spread hues for groups with many partitions.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** seriesColor returns the colour of the i-th of n series. */
export function seriesColor(i, n) {
  if (n <= PALETTE.length) return PALETTE[i];
  const hue = (i * 137.508) % 360;
  const light = 38 + ((i * 7) % 3) * 10;
  return `hsl(${hue.toFixed(1)} 65% ${light}%)`;
}

/**
 * withAlpha returns a colour of seriesColor (#rrggbb or hsl(h s% l%)) made
 * translucent: alpha from 0 to 1.
 */
export function withAlpha(color, alpha) {
  if (/^#[0-9a-f]{6}$/i.test(color)) return color + Math.round(alpha * 255).toString(16).padStart(2, '0');
  const hsl = /^hsl\((.*)\)$/.exec(color);
  if (hsl && !hsl[1].includes('/')) return `hsl(${hsl[1]} / ${alpha})`;
  return color;
}

/** Opacity of a max band: the series' colour, light enough to read the lines over it. */
export const MAX_BAND_ALPHA = 0.22;

/** utcDate makes uPlot label its time axis in UTC. */
const utcDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n) => String(n).padStart(2, '0');

/**
 * timeTicks labels the time axis in UTC, 24-hour: 14:05, with the date
 * (Dec 6) under the first tick of each day; days alone for daily ticks.
 */
function timeTicks(u, splits, axisIdx, space, incr) {
  let prevDay = '';
  return splits.map((s) => {
    if (s === null || s === undefined) return '';
    const d = new Date(s * 1000);
    const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
    let label = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
    if (incr < 60) label += ':' + pad2(d.getUTCSeconds());
    if (incr >= 86400) label = day;
    else if (day !== prevDay) label += '\n' + day;
    prevDay = day;
    return label;
  });
}

/** DURATION_INCRS are tick steps for an axis of seconds. */
export const DURATION_INCRS = [
  0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
];

/** dragSource is the chart the mouse went down on: only its selection zooms. */
let dragSource = null;

/** xValue formats the cursor's time in the legend. */
const xValue = (u, v) => (v === null || v === undefined ? '–' : fmtUTC(v * 1000) + ' UTC');

/**
 * makeChart draws a time-series chart into el.
 *
 * spec: {series: [{label, color?, width?, value?, dash?, show?, maxOf?}],
 * data: [xs(seconds), ...ys], yFmt(v) for the axis and legend, yLabel,
 * height, range: [fromMs, toMs] the x extent, sync: a cursor sync key,
 * onZoom(fromMs, toMs) called on a drag-select, draw(u): extra drawing,
 * yMin: lowest y.}
 *
 * A series with maxOf: j (the index in spec.series of another series) holds
 * the bucket maxima of series j, whose values are each bucket's last: the
 * chart shades the band from series j up to it in j's colour and draws it as
 * a hairline, so that a peak between two bucket ends is never hidden. It
 * has no legend entry of its own: j's entry shows and hides both, and its
 * value reads "last ↑max" where the maximum is higher.
 */
export function makeChart(el, spec) {
  const height = spec.height || 220;
  const yFmt = spec.yFmt || ((v) => String(v));
  const n = spec.series.length;
  const colorOf = (s, i) => s.color || seriesColor(i, n);
  // uPlot's series index (1-based, after x) of each series' max, by series.
  const maxIdx = new Map();
  spec.series.forEach((s, i) => {
    if (s.maxOf !== undefined) maxIdx.set(s.maxOf + 1, i + 1);
  });
  const fmtV = (v) => (v === null || v === undefined ? '–' : yFmt(v));
  const lastAndMax = (u, v, si, idx) => {
    const mi = maxIdx.get(si);
    const m = mi === undefined || idx === null || idx === undefined ? null : u.data[mi][idx];
    return m !== null && m !== undefined && v !== null && v !== undefined && m > v ? `${fmtV(v)} ↑${fmtV(m)}` : fmtV(v);
  };
  const opts = {
    width: Math.max(320, el.clientWidth),
    height,
    tzDate: utcDate,
    cursor: {
      drag: { x: true, y: false, setScale: false },
      sync: spec.sync ? { key: spec.sync } : undefined,
      points: { size: 6 },
    },
    select: { show: true },
    scales: {
      x: { time: true, range: spec.range ? () => [spec.range[0] / 1000, spec.range[1] / 1000] : undefined },
      y: {
        range: (u, min, max) => {
          const lo = spec.yMin !== undefined ? Math.min(spec.yMin, min ?? 0) : min ?? 0;
          let hi = max ?? 1;
          if (!(hi > lo)) hi = lo + 1;
          return [lo, hi + (hi - lo) * 0.05];
        },
      },
    },
    axes: [
      {
        label: 'time (UTC)',
        labelSize: 18,
        labelFont: '12px system-ui, sans-serif',
        font: '11px system-ui, sans-serif',
        stroke: '#555',
        size: 44,
        values: timeTicks,
      },
      {
        label: spec.yLabel || '',
        labelSize: 18,
        labelFont: '12px system-ui, sans-serif',
        font: '11px system-ui, sans-serif',
        stroke: '#555',
        size: 64,
        values: (u, splits) => splits.map((v) => yFmt(v)),
        ...(spec.yIncrs ? { incrs: spec.yIncrs } : {}),
      },
    ],
    legend: { live: true, show: spec.legend !== false },
    series: [
      { value: xValue },
      ...spec.series.map((s, i) => {
        if (s.maxOf !== undefined) {
          const of = spec.series[s.maxOf];
          return {
            label: s.label,
            stroke: withAlpha(colorOf(of, s.maxOf), 0.6),
            width: 0.5,
            show: of.show !== false,
            spanGaps: false,
            points: { show: false },
            value: (u, v) => fmtV(v),
          };
        }
        return {
          label: s.label,
          stroke: colorOf(s, i),
          width: s.width || 1.5,
          dash: s.dash,
          show: s.show !== false,
          spanGaps: false,
          ...(s.points === undefined ? {} : { points: { show: s.points } }),
          value: s.value || (maxIdx.has(i + 1) ? lastAndMax : (u, v) => fmtV(v)),
        };
      }),
    ],
    bands: [...maxIdx].map(([lo, hi]) => ({ series: [hi, lo], fill: withAlpha(colorOf(spec.series[lo - 1], lo - 1), MAX_BAND_ALPHA) })),
    hooks: {
      setSelect: [
        (u) => {
          const { left, width } = u.select;
          // Charts that share the cursor mirror the selection: only the
          // chart dragged on zooms.
          if (width < 4 || !spec.onZoom || dragSource !== u) return;
          dragSource = null;
          const a = u.posToVal(left, 'x');
          const b = u.posToVal(left + width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          spec.onZoom(a * 1000, b * 1000);
        },
      ],
      draw: spec.draw ? [spec.draw] : [],
      drawClear: spec.drawClear ? [spec.drawClear] : [],
      // A series' max follows it when its legend entry shows or hides it.
      setSeries: [
        (u, si, o) => {
          const mi = maxIdx.get(si);
          if (mi !== undefined && o && o.show !== undefined && u.series[mi].show !== o.show) u.setSeries(mi, { show: o.show }, false);
        },
      ],
      ready: [
        (u) => {
          const rows = u.root.querySelectorAll('.u-legend .u-series');
          for (const mi of maxIdx.values()) if (rows[mi]) rows[mi].style.display = 'none';
        },
      ],
    },
  };
  if (spec.configure) spec.configure(opts);
  el.replaceChildren();
  const u = new uPlot(opts, spec.data, el);
  u.over.addEventListener('mousedown', () => (dragSource = u));
  const ro = new ResizeObserver(() => {
    const w = Math.max(320, el.clientWidth);
    if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
  });
  ro.observe(el);
  const destroy = u.destroy.bind(u);
  u.destroy = () => {
    ro.disconnect();
    destroy();
  };
  return u;
}

/**
 * statusData turns status intervals [{from, to, status}] (times in ms) into
 * the status chart's data: each interval's start, then the last end; the
 * status's index in STATUS_ORDER, the last repeated.
 */
export function statusData(intervals) {
  const xs = [];
  const ys = [];
  for (const iv of intervals) {
    xs.push(iv.from / 1000);
    ys.push(STATUS_ORDER.indexOf(iv.status));
  }
  if (intervals.length) {
    xs.push(intervals[intervals.length - 1].to / 1000);
    ys.push(ys[ys.length - 1]);
  }
  return [xs, ys];
}

/**
 * statusChart draws status intervals as coloured bands. intervals carry
 * from/to in ms, status, reason and partitions.
 */
export function statusChart(el, intervals, spec) {
  const data = statusData(intervals);
  return makeChart(el, {
    ...spec,
    height: spec.height || 90,
    data,
    series: [
      {
        label: 'status',
        color: 'rgba(0,0,0,0)',
        width: 0,
        points: false,
        value: (u, v, si, idx) => {
          if (idx === null || idx === undefined || v === null || v === undefined) return '–';
          const iv = intervals[Math.min(idx, intervals.length - 1)];
          return iv ? `${iv.status}: ${iv.reason || ''}` : '–';
        },
      },
    ],
    configure(opts) {
      // The bands are the picture: the series only feeds the legend, and
      // the empty axis keeps the plot aligned with the other charts.
      opts.scales.y = { range: [0, STATUS_ORDER.length] };
      opts.axes[0].label = undefined;
      opts.axes[1] = { label: '', labelSize: 18, size: 64, stroke: 'transparent', grid: { show: false }, ticks: { show: false }, values: (u, splits) => splits.map(() => '') };
      opts.axes[0].grid = { show: false };
      opts.cursor.points = { show: false };
    },
    drawClear: (u) => {
      const ctx = u.ctx;
      const [xs] = u.data;
      const { left, top, width, height } = u.bbox;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      for (let i = 0; i < intervals.length; i++) {
        const x0 = u.valToPos(xs[i], 'x', true);
        const x1 = u.valToPos(xs[i + 1], 'x', true);
        ctx.fillStyle = STATUS_COLORS[intervals[i].status] || '#ccc';
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      }
      ctx.restore();
    },
  });
}

/**
 * markerDraw returns a draw hook that marks times with vertical lines and
 * labels: marks are [{at (ms), label, color, dash}].
 */
export function markerDraw(marks) {
  return (u) => {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    for (const [i, m] of marks.entries()) {
      const x = u.valToPos(m.at / 1000, 'x', true);
      if (!(x >= left && x <= left + width)) continue;
      ctx.strokeStyle = m.color;
      ctx.lineWidth = 1.5 * dpr;
      ctx.setLineDash(m.dash ? m.dash.map((d) => d * dpr) : []);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.setLineDash([]);
      const tw = ctx.measureText(m.label).width;
      const tx = x + 4 * dpr + tw > left + width ? x - 4 * dpr - tw : x + 4 * dpr;
      const ty = top + 4 * dpr + (i % 3) * 14 * dpr;
      ctx.fillStyle = 'rgba(255,255,255,0.7)';
      ctx.fillRect(tx - 2 * dpr, ty - 1 * dpr, tw + 4 * dpr, 13 * dpr);
      ctx.fillStyle = m.color;
      ctx.fillText(m.label, tx, ty);
    }
    ctx.restore();
  };
}

/** statusLegend writes the colour key of the statuses into el. */
export function statusLegend(el) {
  el.innerHTML = STATUS_ORDER.map(
    (s) => `<span class="key"><i style="background:${STATUS_COLORS[s]}"></i>${s}</span>`,
  ).join('');
}
