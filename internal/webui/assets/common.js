// Shared by the pages: the API client (with the bearer-token form),
// formatting in human units, UTC times, time ranges and bucket steps.

/** Statuses, best to worst, as "lagtrail query status" orders them. */
export const STATUS_ORDER = ['NODATA', 'OK', 'WARN', 'REWIND', 'STALL', 'STOP'];

/** Colours of the statuses, shared by the table chips and the chart bands. */
export const STATUS_COLORS = {
  NODATA: '#9aa0a6',
  OK: '#2e9d57',
  WARN: '#e3a008',
  REWIND: '#8e5bd6',
  STALL: '#e8710a',
  STOP: '#d93025',
};

/** What each status means, for tooltips. */
export const STATUS_HELP = {
  NODATA: 'no successful poll recently',
  OK: 'no lag, or the lag went down in the window',
  WARN: 'the lag was never zero and never went down in the window',
  REWIND: 'the consumer offset went back in the window',
  STALL: 'lag, and the consumer offset unchanged for 3 polls',
  STOP: 'lag, and no consumer progress for longer than the window',
};

/** The test hook: charts drawn, requests made, renders finished. */
export const hook = (window.lagtrail = window.lagtrail || { charts: {}, requests: {}, loaded: 0, errors: 0 });

const TOKEN_KEY = 'lagtrail.token';

/** APIError is an error response of the API. */
export class APIError extends Error {
  constructor(status, message, parameter) {
    super(message);
    this.status = status;
    this.parameter = parameter || '';
  }
}

/** apiURL returns the absolute URL of an API endpoint with its parameters. */
export function apiURL(endpoint, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return new URL('api/v1/' + endpoint + (s ? '?' + s : ''), document.baseURI).href;
}

/**
 * api fetches an endpoint's JSON. On 401 it asks for a token, keeps it in
 * sessionStorage and tries again; other errors throw an APIError.
 */
export async function api(endpoint, params, signal) {
  const url = apiURL(endpoint, params);
  for (;;) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const resp = await fetch(url, { headers, cache: 'no-store', signal });
    if (resp.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      await askToken(token ? 'The server did not accept that token.' : 'This server requires an API token.');
      continue;
    }
    let body;
    try {
      body = await resp.json();
    } catch (e) {
      throw new APIError(resp.status, `${endpoint}: unreadable response (HTTP ${resp.status})`);
    }
    if (!resp.ok) throw new APIError(resp.status, body.error || `HTTP ${resp.status}`, body.parameter);
    return body;
  }
}

let tokenPromise = null;

/** askToken shows the token form once, however many requests wait on it. */
function askToken(message) {
  if (tokenPromise) return tokenPromise;
  tokenPromise = new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.className = 'token-dialog';
    dlg.dataset.testid = 'token-dialog';
    dlg.innerHTML = `<form method="dialog">
      <h2>API token</h2>
      <p class="msg"></p>
      <label>Bearer token <input type="password" name="token" autocomplete="off" required data-testid="token-input"></label>
      <p class="hint">Kept in this tab's session storage only.</p>
      <div class="actions"><button type="submit" data-testid="token-submit">Use token</button></div>
    </form>`;
    dlg.querySelector('.msg').textContent = message;
    const form = dlg.querySelector('form');
    dlg.addEventListener('cancel', (e) => e.preventDefault());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const tok = form.token.value.trim();
      if (!tok) return;
      sessionStorage.setItem(TOKEN_KEY, tok);
      dlg.close();
      dlg.remove();
      tokenPromise = null;
      updateTokenLink();
      resolve();
    });
    document.body.append(dlg);
    dlg.showModal();
    form.token.focus();
  });
  return tokenPromise;
}

/** updateTokenLink shows "forget token" in the header while one is kept. */
export function updateTokenLink() {
  const el = document.getElementById('forget-token');
  if (!el) return;
  el.hidden = !sessionStorage.getItem(TOKEN_KEY);
}

/** initHeader wires the parts of the header every page has. */
export function initHeader() {
  const el = document.getElementById('forget-token');
  if (el) {
    el.addEventListener('click', (e) => {
      e.preventDefault();
      sessionStorage.removeItem(TOKEN_KEY);
      updateTokenLink();
      location.reload();
    });
  }
  updateTokenLink();
}

// ---- the address ---------------------------------------------------------

/** $ returns the element with id. */
export const $ = (id) => document.getElementById(id);

/**
 * readSelection reads the group and range a group or incident page shows
 * from its address; the range defaults to the last 24 hours.
 */
export function readSelection() {
  const q = new URLSearchParams(location.search);
  return {
    group: q.get('group') || '',
    region: q.get('region') || '',
    instance: q.get('instance') || '',
    from: q.get('from') || '-24h',
    to: q.get('to') || 'now',
  };
}

/**
 * setRange puts a range in the address, as a new history entry when push
 * is true, so that Back returns to the previous one.
 */
export function setRange(from, to, push = true) {
  const q = new URLSearchParams(location.search);
  q.set('from', from);
  q.set('to', to);
  history[push ? 'pushState' : 'replaceState'](null, '', '?' + q.toString());
}

// ---- formatting ----------------------------------------------------------

const SI = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** fmtCount writes a count in k/M/G: 987, 12.3k, 4.56M; null is "–". */
export function fmtCount(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const a = Math.abs(n);
  for (const [v, s] of SI) {
    if (a >= v) return trim3(n / v) + s;
  }
  return a >= 10 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
}

/** fmtAxis writes an axis tick: 0.25, 2.5, 50, 1.2k. */
export function fmtAxis(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '';
  if (Math.abs(n) >= 1000) return fmtCount(n);
  return String(Number(n.toFixed(2)));
}

/** fmtRate writes messages per second: 0.25/s, 61.2/s, 1.29k/s. */
export function fmtRate(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1000) return fmtCount(n) + '/s';
  if (a >= 100) return n.toFixed(0) + '/s';
  if (a >= 10) return n.toFixed(1) + '/s';
  return (a === 0 ? '0' : n.toFixed(2)) + '/s';
}

/** trim3 keeps three significant digits: 1.23, 12.3, 123. */
function trim3(x) {
  const a = Math.abs(x);
  const s = a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** fmtDuration writes seconds as 850ms, 4.2s, 45s, 2m5s, 1h2m, 3d4h. */
export function fmtDuration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '–';
  if (sec < 0) return '-' + fmtDuration(-sec);
  if (sec === 0) return '0s';
  if (sec < 1) return Math.round(sec * 1000) + 'ms';
  if (sec < 10) return sec.toFixed(1).replace(/\.0$/, '') + 's';
  if (sec < 60) return Math.round(sec) + 's';
  const units = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  let rest = Math.round(sec);
  const parts = [];
  for (const [v, u] of units) {
    if (rest >= v || parts.length) {
      const n = Math.floor(rest / v);
      rest -= n * v;
      parts.push([n, u]);
    }
    if (parts.length === 2) break;
  }
  return parts
    .filter(([n], i) => i === 0 || n > 0)
    .map(([n, u]) => n + u)
    .join('');
}

/** fmtTimeLag writes a time lag with its kind: ~ estimated, ≥ lower bound. */
export function fmtTimeLag(sec, kind) {
  if (sec === null || sec === undefined) return '–';
  const prefix = kind === 'estimated' ? '~' : kind === 'lower_bound' ? '≥' : '';
  return prefix + fmtDuration(sec);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** fmtUTC writes a time (ms or ISO string) as 2025-01-06 02:10:04, in UTC. */
export function fmtUTC(t, { seconds = true } = {}) {
  const ms = typeof t === 'number' ? t : parseTime(t);
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  const s = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return seconds ? s + ':' + pad(d.getUTCSeconds()) : s;
}

/** fmtClock writes the time of day, in UTC: 02:10:04. */
export function fmtClock(t) {
  const ms = typeof t === 'number' ? t : parseTime(t);
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** fmtAgo writes how long ago a time was: 12s ago, 5m ago, 2h3m ago. */
export function fmtAgo(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, (now - ms) / 1000);
  return (s < 1 ? 'just now' : fmtDuration(Math.floor(s)) + ' ago');
}

/** isoUTC writes ms as RFC3339 in UTC, without a fraction when whole. */
export function isoUTC(ms) {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** esc escapes text for HTML. */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// ---- times and ranges ----------------------------------------------------

/** parseTime reads an RFC3339 time (any fraction) as ms since the epoch. */
export function parseTime(s) {
  if (s === null || s === undefined || s === '') return NaN;
  // Date.parse takes at most millisecond fractions everywhere: cut the rest.
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return NaN;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '';
  return Date.parse(m[1] + frac + m[3]);
}

// The API's times and durations, read here as lagtrail reads them in Go
// (query.ParseTime and strictyaml.ParseDuration): the range in the address
// is resolved in the page, so the page must take what the CLI and API take.
// TestWebTimeInputs checks these functions against the Go parsers.

/** TIME_FORMS lists what a range bound may be, for error messages. */
export const TIME_FORMS = 'RFC3339 (2006-01-02T15:04:05Z), a date (2006-01-02, midnight UTC), now, or relative (-24h, -90m, -7d, -2w, -1d12h)';

/** goTrim trims what Go's strings.TrimSpace trims (unicode.IsSpace). */
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');
const goTrim = (s) => s.replace(GO_TRIM, '');

const isDigit = (c) => c >= '0' && c <= '9';

/** Nanoseconds of Go's duration units. */
const GO_UNITS = { ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1000000n, s: 1000000000n, m: 60000000000n, h: 3600000000000n };
const TWO63 = 1n << 63n;
const MAX_NS = TWO63 - 1n;
/** The most days (weeks included) of a duration: strictyaml's maxDays. */
const MAX_DAYS = 100000;

/**
 * goDuration reads an unsigned Go duration (time.ParseDuration: 90s, 1.5h,
 * 2h45m, 0) as nanoseconds, a BigInt, or null when it is not one.
 */
function goDuration(s) {
  if (s === '0') return 0n;
  if (s === '') return null;
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) return null;
    let i = 0;
    let v = 0n;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > TWO63 / 10n) return null;
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > TWO63) return null;
    }
    const pre = i > 0;
    s = s.slice(i);
    let post = false;
    let f = 0n;
    let scale = 1;
    if (s[0] === '.') {
      s = s.slice(1);
      let overflow = false;
      let j = 0;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > MAX_NS / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > MAX_NS) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) return null;
    let k = 0;
    while (k < s.length && s[k] !== '.' && !isDigit(s[k])) k++;
    if (k === 0) return null;
    const unit = GO_UNITS[s.slice(0, k)];
    s = s.slice(k);
    if (unit === undefined) return null;
    if (v > TWO63 / unit) return null;
    v *= unit;
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > TWO63) return null;
    }
    d += v;
    if (d > TWO63) return null;
  }
  return d > MAX_NS ? null : d;
}

/**
 * durationNs reads a duration as the CLI, the API and config files do: a Go
 * duration optionally led by whole weeks (w, 7 days) then whole days (d, 24
 * hours), one sign allowed: 90m, 1d12h, 2w, 1w3d, -1d12h. It returns
 * nanoseconds as a BigInt, or null.
 */
export function durationNs(s) {
  let rest = goTrim(String(s ?? ''));
  let neg = false;
  if (rest !== '' && (rest[0] === '-' || rest[0] === '+')) {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  let days = 0;
  let whole = false;
  for (const [unit, per] of [
    ['w', 7],
    ['d', 1],
  ]) {
    const i = rest.indexOf(unit);
    if (i <= 0) continue;
    const digits = rest.slice(0, i);
    if (!/^[0-9]+$/.test(digits)) return null;
    const n = Number(digits);
    if (n > Math.floor(MAX_DAYS / per) || days + n * per > MAX_DAYS) return null;
    days += n * per;
    rest = rest.slice(i + 1);
    whole = true;
  }
  let d = 0n;
  if (rest !== '' || !whole) {
    d = goDuration(rest);
    if (d === null) return null;
  }
  const dd = BigInt(days) * 86400n * 1000000000n;
  if (d > MAX_NS - dd) return null;
  return neg ? -(dd + d) : dd + d;
}

/** parseDuration reads a duration as durationNs does, in ms; NaN when it is not one. */
export function parseDuration(s) {
  const ns = durationNs(s);
  return ns === null ? NaN : Number(ns) / 1e6;
}

/** floorMs turns nanoseconds (BigInt) into whole ms, rounded down as Go's UnixMilli does. */
function floorMs(ns) {
  const q = ns / 1000000n;
  return Number(ns < 0n && q * 1000000n !== ns ? q - 1n : q);
}

/** daysIn is the number of days of a month (1-12) of a year. */
function daysIn(year, month) {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** utcMs is the instant of a UTC date and time, years 0-9999, or NaN when out of range. */
function utcMs(y, mo, d, h = 0, mi = 0, sec = 0) {
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59) return NaN;
  const t = new Date(Date.UTC(2000, 0, 1, h, mi, sec));
  t.setUTCFullYear(y, mo - 1, d); // Date.UTC takes years 0-99 as 1900-1999
  return t.getTime();
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * resolveTime reads a range bound as the API does (query.ParseTime):
 * RFC3339 with any fraction, a date alone (midnight UTC), "now", or a
 * signed duration relative to now as durationNs reads it (-24h, -90m, -7d,
 * -2w, -1d12h, +15m). It returns ms since the epoch, or NaN.
 */
export function resolveTime(s, now = Date.now()) {
  s = goTrim(String(s ?? ''));
  if (s === '') return NaN;
  if (s === 'now') return now;
  if (s[0] === '-' || s[0] === '+') {
    const ns = durationNs(s);
    return ns === null ? NaN : now + floorMs(ns);
  }
  const date = DATE_ONLY.exec(s);
  if (date) return utcMs(+date[1], +date[2], +date[3]);
  const m = RFC3339.exec(s);
  if (!m) return NaN;
  const ms = utcMs(+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]);
  const frac = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offset = 0;
  if (m[8]) {
    const oh = +m[9];
    const om = +m[10];
    if (oh > 23 || om > 59) return NaN;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * 60e3;
  }
  return ms + frac - offset;
}

/** Bucket widths the pages choose from, in ms; each divides a day. */
export const STEPS = [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3];

/** Most points a chart series gets. */
export const MAX_POINTS = 800;

/** Ranges at least this long use whole-hour steps, which hourly rollups answer. */
export const ROLLUP_RANGE = 7 * 86400e3;

/**
 * chooseStep picks the bucket width of a range: the smallest step that
 * cuts it into at most maxPoints buckets; from 7 days on, whole hours only,
 * so that the server reads its hourly rollups, unless rollups is false (for
 * requests the rollups do not answer).
 */
export function chooseStep(spanMs, maxPoints = MAX_POINTS, rollups = true) {
  const minStep = rollups && spanMs >= ROLLUP_RANGE ? 3600e3 : 0;
  for (const s of STEPS) {
    if (s >= minStep && spanMs / s <= maxPoints) return s;
  }
  return Math.ceil(spanMs / maxPoints / 86400e3) * 86400e3;
}

/** fmtStep writes a step for the API: 2m, 1h, 24h. */
export function fmtStep(ms) {
  const s = ms / 1000;
  if (s % 3600 === 0) return s / 3600 + 'h';
  if (s % 60 === 0) return s / 60 + 'm';
  return s + 's';
}

/**
 * alignedRange resolves a range's bounds and widens them to whole steps, so
 * that every bucket is whole and the same for every chart (and for hourly
 * steps the rollups can answer). It returns {from, to, step, span} in ms, or
 * throws an Error naming the bad bound.
 */
export function alignedRange(fromStr, toStr, now = Date.now(), maxPoints = MAX_POINTS) {
  const from = resolveTime(fromStr, now);
  const to = resolveTime(toStr, now);
  if (!Number.isFinite(from)) throw new Error(`bad "from" time ${JSON.stringify(fromStr)}: want ${TIME_FORMS}`);
  if (!Number.isFinite(to)) throw new Error(`bad "to" time ${JSON.stringify(toStr)}: want ${TIME_FORMS}`);
  if (!(to > from)) throw new Error(`the range is empty: "from" ${fmtUTC(from)} is not before "to" ${fmtUTC(to)} UTC`);
  const step = chooseStep(to - from, maxPoints);
  const aFrom = Math.floor(from / step) * step;
  const aTo = Math.ceil(to / step) * step;
  return { from: aFrom, to: aTo, step, span: to - from, rawFrom: from, rawTo: to };
}

/** Range presets of the range bars. */
export const PRESETS = [
  ['1h', '-1h'],
  ['6h', '-6h'],
  ['24h', '-24h'],
  ['7d', '-7d'],
  ['30d', '-30d'],
];

/**
 * rangeBar wires a page's range bar: preset buttons, the custom from/to
 * inputs and their Apply button. onPick(from, to) is called with the new
 * bounds as the API takes them.
 */
export function rangeBar(root, onPick) {
  const presets = root.querySelector('.presets');
  presets.innerHTML = PRESETS.map(
    ([label, from]) => `<button type="button" data-from="${from}" data-testid="range-${label}">${label}</button>`,
  ).join('');
  presets.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-from]');
    if (b) onPick(b.dataset.from, 'now');
  });
  const form = root.querySelector('form.custom');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onPick(form.from.value.trim(), form.to.value.trim() || 'now');
  });
  return {
    /** show marks the preset in use and fills the inputs. */
    show(from, to) {
      for (const b of presets.querySelectorAll('button')) {
        b.classList.toggle('active', to === 'now' && b.dataset.from === from);
      }
      form.from.value = from;
      form.to.value = to;
    },
  };
}

/** showError puts a message in the page's error banner; null clears it. */
export function showError(msg) {
  const el = document.getElementById('error');
  if (!el) return;
  el.hidden = !msg;
  el.textContent = msg || '';
  if (msg) hook.errors++;
}

/** errorText says what went wrong with a request, for the banner. */
export function errorText(e) {
  if (e instanceof APIError) {
    return `${e.message}${e.status === 404 ? '' : ` (HTTP ${e.status})`}`;
  }
  return e && e.message ? e.message : String(e);
}
