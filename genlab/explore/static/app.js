// genlab explore: the page. One plain ES module, no framework, no build step, nothing from another
// origin. Views (hash routes, each a permalink that restores its parameters):
//   #/                                  runs: every run under the folder
//   #/run/<id>/<tab>?seed=3&n=64&...    one run: overview | sample | walk | conditions
//   #/lab?data=ring8&loss=ns&k=1&...    the live 2-D lab
// Images are fetched (same origin, the auth cookie goes along) and shown as blob: URLs. Controls
// that fire often (sliders, drags, typing) go through `Latest`: one request in flight, latest wins.

// -- DOM helpers ---------------------------------------------------------------------------------
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c);
  return el;
}

let uid = 0;
/** A labelled control: <div class="field"><label for=id>label</label>control</div>. */
function field(label, control, ...extra) {
  if (!control.id) control.id = `f${++uid}`;
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, ...extra);
}

/** A <button type="button">: quiet (a link's look) unless told otherwise. */
function button(label, testid, onclick = null, { cls = 'quiet', aria = null } = {}) {
  return h('button', { type: 'button', class: cls, testid, onclick, 'aria-label': aria }, label);
}

/** A checkbox (or radio) followed by its label. */
function checkField(label, input) {
  if (!input.id) input.id = `f${++uid}`;
  return h('div', { class: 'field inline' }, input, h('label', { for: input.id }, label));
}

function select(options, value, props = {}) {
  const el = h('select', props);
  for (const o of options) {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    el.append(h('option', { value: v, selected: String(v) === String(value) }, String(text)));
  }
  return el;
}

/** A range slider with its value shown beside it. */
function slider({ min, max, step, value, testid, format = (v) => v }) {
  const input = h('input', { type: 'range', min, max, step, value, testid });
  const out = h('output', { class: 'slider-value' }, format(Number(value)));
  input.addEventListener('input', () => { out.textContent = format(Number(input.value)); });
  return { input, out, set(v) { input.value = v; out.textContent = format(Number(v)); } };
}

function fmt(v) {
  if (typeof v !== 'number') return v == null ? '' : String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en');
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

const intOr = (text, dflt) => (text != null && /^\d+$/.test(text) ? Number(text) : dflt);
const numOr = (text, dflt) => (text != null && text !== '' && Number.isFinite(Number(text)) ? Number(text) : dflt);

// -- messages ------------------------------------------------------------------------------------
const errorBar = document.getElementById('error-bar');
const errorText = document.getElementById('error-text');
let errorOwner = null;

function showError(message, owner = null) {
  errorText.textContent = message;
  errorOwner = owner;
  errorBar.hidden = false;
}
/** Hide the message; with an owner, only if that owner showed it (a later success clears its own error). */
function clearError(owner = null) {
  if (owner !== null && owner !== errorOwner) return;
  errorBar.hidden = true;
  errorText.textContent = '';
  errorOwner = null;
}
document.getElementById('error-close').addEventListener('click', () => clearError());

// -- the API -------------------------------------------------------------------------------------
async function request(url, opts = {}) {
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin', ...opts });
  } catch (e) {
    throw new Error(`the server did not answer (${e.message}): is genlab explore still running?`);
  }
  if (!res.ok) { // the API's {"error": ...}, or the guard's plain "error: ..." line
    const text = (await res.text().catch(() => '')).trim();
    let msg = text.replace(/^error:\s*/, '').split('\n')[0] || `${res.status} ${res.statusText}`.trim();
    try { msg = JSON.parse(text).error || msg; } catch { /* plain text */ }
    throw new Error(msg);
  }
  return res;
}
const getJSON = async (url) => (await request(url)).json();
const sendJSON = async (url, body, method = 'POST') => (await request(url, {
  method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}),
})).json();

const runPath = (id) => id.split('/').map(encodeURIComponent).join('/');
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, String(v));
  return q.toString();
}
const runUrl = (id, endpoint, params = {}) =>
  `/api/v1/runs/${runPath(id)}/${endpoint}${Object.keys(params).length ? `?${query(params)}` : ''}`;

/** An image response: its blob and the command line the server says reproduces it. */
async function getImage(url) {
  const res = await request(url);
  return { blob: await res.blob(), command: res.headers.get('X-Genlab-Command'), url };
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

/**
 * One request in flight, latest wins: request(p) while busy only remembers p; when the response
 * comes back, the newest remembered parameters (if any) are sent next and older ones are dropped.
 */
class Latest {
  constructor(fetcher, apply, { onBusy = () => {} } = {}) {
    Object.assign(this, { fetcher, apply, onBusy, busy: false, pending: null, dead: false });
  }
  request(params) {
    this.pending = { params };
    if (!this.busy) this.pump();
  }
  async pump() {
    this.busy = true;
    this.onBusy(true);
    while (this.pending && !this.dead) {
      const { params } = this.pending;
      this.pending = null;
      try {
        const result = await this.fetcher(params);
        if (this.dead) break;
        this.apply(result, params);
        clearError(this);
      } catch (e) {
        if (!this.dead) showError(e.message, this);
      }
    }
    this.busy = false;
    if (!this.dead) this.onBusy(false);
  }
  dispose() { this.dead = true; }
}

// -- small components ----------------------------------------------------------------------------
/** A command line with a copy button (falls back to selecting the text). */
function commandBox(testid, label = 'Copy as command') {
  const code = h('code', { class: 'command', testid });
  const note = h('span', { class: 'note', 'aria-live': 'polite' });
  const copy = button(label, `${testid}-copy`);
  copy.disabled = true;
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(code.textContent);
      note.textContent = 'Copied';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      note.textContent = 'Selected: press Ctrl+C to copy';
    }
    setTimeout(() => { note.textContent = ''; }, 2500);
  });
  const el = h('div', { class: 'command-box' }, copy, note, code);
  return { el, set(text) { code.textContent = text || ''; copy.disabled = !text; } };
}

/**
 * A figure showing a PNG blob, with "save as PNG" and the command reproducing it. Small pictures
 * are enlarged by a whole factor (crisp pixels) up to about fit = [width, height] CSS pixels.
 */
class ImagePanel {
  constructor({ testid, alt, filename, caption, save = true, command = true, fit = [512, 512] }) {
    this.filename = filename;
    this.img = h('img', { testid, alt, class: 'picture' });
    this.img.addEventListener('load', () => {
      const { naturalWidth: w, naturalHeight: hgt } = this.img;
      const zoom = Math.max(1, Math.min(Math.floor(fit[0] / w), Math.floor(fit[1] / hgt)));
      this.img.style.width = `${w * zoom}px`;
    });
    this.cmd = command ? commandBox(`${testid}-command`) : null;
    this.saveButton = save ? h('button', { type: 'button', class: 'quiet', testid: `${testid}-save`, disabled: true,
      onclick: () => this.blob && download(this.blob, this.filename()) }, 'Save as PNG') : null;
    this.el = h('figure', { class: 'panel' },
      h('div', { class: 'picture-frame' }, this.img),
      h('figcaption', {}, caption ? h('span', { class: 'caption' }, caption) : null, this.saveButton, this.cmd?.el));
  }
  show({ blob, command, url }) {
    const next = URL.createObjectURL(blob);
    if (this.url) URL.revokeObjectURL(this.url);
    Object.assign(this, { url: next, blob });
    this.img.src = next;
    this.img.dataset.query = url;
    if (this.saveButton) this.saveButton.disabled = false;
    this.cmd?.set(command);
  }
  busy(on) { this.el.classList.toggle('busy', on); this.el.setAttribute('aria-busy', String(on)); }
  dispose() { if (this.url) URL.revokeObjectURL(this.url); this.url = null; }
}

/** An ImagePanel fed by a Latest loader; load(params) is cheap to call on every input event. */
function imageLoader(scope, panel, makeUrl) {
  const loader = new Latest((p) => getImage(makeUrl(p)), (r) => panel.show(r), { onBusy: (b) => panel.busy(b) });
  scope.add(() => { loader.dispose(); panel.dispose(); });
  return loader;
}

// -- charts on <canvas> --------------------------------------------------------------------------
const PALETTE = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b83280', '#4a5568'];

function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  const extra = Math.abs(step / mag - 2.5) < 1e-9 ? 1 : 0; // 0.25, 2.5, ... need one more decimal
  const decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9) + extra));
  const big = Math.max(...ticks.map(Math.abs)) >= 1e5;
  ticks.label = (t) => (big ? t.toExponential(2) : t.toFixed(decimals));
  return ticks;
}

/** Fit a canvas's backing store to its CSS size (style.css) and the device pixel ratio: a 2-D context in CSS pixels. */
function fitCanvas(canvas, fallbackHeight = 180) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300;
  const hgt = canvas.clientHeight || fallbackHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h: hgt };
}

/** Line chart of series [{name, points: [[x, y], ...]}] with axes, ticks and a legend. */
function drawChart(canvas, series, { xLabel = 'step' } = {}) {
  const { ctx, w, h: H } = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, H);
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#555';
  if (!pts.length) { ctx.fillText('no data yet', 10, H / 2); return; }
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of pts) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
  if (x1 - x0 < 1e-12) x1 = x0 + 1;
  const yt = niceTicks(y0, y1, 4), xt = niceTicks(x0, x1, 5);
  y0 = Math.min(y0, yt[0]); y1 = Math.max(y1, yt.at(-1));
  const m = { l: 8 + Math.max(...yt.map((t) => ctx.measureText(yt.label(t)).width)), r: 10, t: 20, b: 30 };
  const px = (x) => m.l + ((x - x0) / (x1 - x0 || 1)) * (w - m.l - m.r);
  const py = (y) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  ctx.strokeStyle = '#e2e2e2';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
  for (const t of yt) {
    ctx.beginPath(); ctx.moveTo(m.l, py(t)); ctx.lineTo(w - m.r, py(t)); ctx.stroke();
    ctx.fillText(yt.label(t), m.l - 4, py(t));
  }
  ctx.textAlign = 'center'; ctx.textBaseline = 'top';
  for (const t of xt) if (t >= x0 && t <= x1) ctx.fillText(xt.label(t), px(t), H - m.b + 4);
  ctx.fillText(xLabel, (m.l + w - m.r) / 2, H - 13);
  ctx.strokeStyle = '#999';
  ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, H - m.b); ctx.lineTo(w - m.r, H - m.b); ctx.stroke();
  let lx = m.l;
  series.forEach((s, i) => {
    const colour = s.colour || PALETTE[i % PALETTE.length];
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5;
    ctx.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) { started = false; continue; }
      if (started) ctx.lineTo(px(x), py(y)); else ctx.moveTo(px(x), py(y));
      started = true;
    }
    if (s.points.length === 1) ctx.arc(px(s.points[0][0]), py(s.points[0][1]), 2, 0, 7);
    ctx.stroke();
    ctx.fillStyle = colour; ctx.textAlign = 'left'; ctx.textBaseline = 'top';
    ctx.fillRect(lx, 6, 10, 3);
    ctx.fillText(s.name, lx + 14, 2);
    lx += 24 + ctx.measureText(s.name).width;
  });
}

// -- routing -------------------------------------------------------------------------------------
const TABS = ['overview', 'sample', 'walk', 'conditions'];

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const cut = raw.indexOf('?');
  const path = cut < 0 ? raw : raw.slice(0, cut);
  const params = new URLSearchParams(cut < 0 ? '' : raw.slice(cut + 1));
  let segs;
  try { segs = path.split('/').filter(Boolean).map(decodeURIComponent); } catch { segs = []; }
  if (segs[0] === 'run' && segs.length >= 2) {
    const idSegs = segs.slice(1);
    const tab = idSegs.length > 1 && TABS.includes(idSegs.at(-1)) ? idSegs.pop() : 'overview';
    return { view: 'run', id: idSegs.join('/'), tab, params };
  }
  if (segs[0] === 'lab') return { view: 'lab', params };
  return { view: 'runs', params };
}

const runHash = (id, tab = 'overview', params = {}) => {
  const q = query(params);
  return `#/run/${runPath(id)}/${tab}${q ? `?${q}` : ''}`;
};

/** Put the view's parameters in the address (a permalink) without re-rendering or a history entry. */
function setHashParams(params) {
  const raw = location.hash || '#/';
  const cut = raw.indexOf('?');
  const q = query(params);
  history.replaceState(history.state, '', `${cut < 0 ? raw : raw.slice(0, cut)}${q ? `?${q}` : ''}`);
}

/** Cleanups of the current view, run when it is left. */
class Scope {
  constructor() { this.fns = []; this.dead = false; }
  add(fn) { this.fns.push(fn); }
  dispose() { this.dead = true; for (const fn of this.fns.splice(0)) { try { fn(); } catch (e) { console.warn(e); } } }
}

const main = document.getElementById('view');
let scope = null;

function route() {
  scope?.dispose();
  scope = new Scope();
  clearError();
  const r = parseHash();
  for (const a of document.querySelectorAll('[data-nav]')) {
    const on = a.dataset.nav === (r.view === 'lab' ? 'lab' : 'runs');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  main.dataset.view = r.view;
  const render = { runs: renderRuns, run: renderRun, lab: renderLab }[r.view];
  render(main, r, scope).catch((e) => { if (!scope.dead) showError(e.message); });
}

// -- view: runs ----------------------------------------------------------------------------------
const EVAL_PREFERRED = ['fid', 'kid', 'precision', 'recall', 'nll', 'elbo', 'recon_mse', 'modes', 'hq', 'reverse_kl',
  'cluster_accuracy', 'accuracy', 'class_accuracy', 'tag_accuracy'];
const EVAL_SKIP = new Set(['step', 'k', 'n_test', 'n_samples', 'seed', 'kid_std', 'n_tag_samples']);

function evalColumns(runs) {
  const seen = new Set();
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.eval || {})) if (typeof v === 'number' && !EVAL_SKIP.has(k)) seen.add(k);
  }
  const others = [...seen].filter((k) => !EVAL_PREFERRED.includes(k)).sort();
  const ordered = [...EVAL_PREFERRED.filter((k) => seen.has(k)), ...others];
  return ordered.slice(0, 6);
}

async function renderRuns(root, route, scope) {
  document.title = 'Runs · genlab explore';
  const heading = h('h1', {}, 'Runs');
  root.append(heading);
  const data = await getJSON('/api/v1/runs');
  if (scope.dead) return;
  const count = `${data.runs.length} run${data.runs.length === 1 ? '' : 's'} under `;
  heading.after(h('p', { class: 'muted' }, count, h('code', {}, data.root)));
  if (!data.runs.length) {
    root.append(h('p', {}, 'No runs here yet. Train one, e.g. ',
      h('code', {}, `genlab train vae --data digits --out ${data.root}/vae-digits`),
      ', or open the ', h('a', { href: '#/lab' }, 'lab'), ' and export a run from it.'));
    return;
  }
  const evals = evalColumns(data.runs);
  const columns = [
    ['id', 'Run'], ['model', 'Model'], ['data', 'Data'], ['step', 'Step'], ['condition', 'Condition'],
    ...evals.map((k) => [`eval.${k}`, k]),
  ];
  const value = (run, key) => (key.startsWith('eval.') ? run.eval?.[key.slice(5)] : run[key]);
  let sortKey = route.params.get('sort') || 'id';
  let desc = route.params.get('desc') === '1';
  const filter = h('input', { type: 'search', testid: 'runs-filter', placeholder: 'model, data, id…',
    value: route.params.get('q') || '' });
  const tbody = h('tbody');
  const headRow = h('tr');
  const table = h('table', { class: 'runs', testid: 'runs-table' },
    h('caption', { class: 'sr-only' }, 'Runs, click one to open it'),
    h('thead', {}, headRow), tbody);

  function fill() {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const rows = data.runs
      .filter((r) => words.every((w) => [r.id, r.model, r.data, r.condition || ''].join(' ').toLowerCase().includes(w)))
      .sort((a, b) => {
        const [va, vb] = [value(a, sortKey), value(b, sortKey)];
        const c = va == null ? 1 : vb == null ? -1
          : typeof va === 'number' ? va - vb : String(va).localeCompare(String(vb));
        return desc ? -c : c;
      });
    headRow.replaceChildren(...columns.map(([key, label]) => {
      const active = key === sortKey;
      const sort = active ? (desc ? 'descending' : 'ascending') : null;
      const num = key.startsWith('eval.') || key === 'step';
      return h('th', { scope: 'col', 'aria-sort': sort, class: num ? 'num' : null },
        h('button', { type: 'button', class: 'sort', 'data-key': key, onclick: () => {
          desc = active ? !desc : false; sortKey = key; fill();
          headRow.querySelector(`[data-key="${key}"]`).focus(); // the header was redrawn: keep the keyboard's place
        } },
          label, active ? (desc ? ' ▼' : ' ▲') : ''));
    }));
    tbody.replaceChildren(...rows.map((run) => {
      const link = h('a', { href: runHash(run.id), testid: 'run-link' }, run.id);
      if (run.error) {
        return h('tr', { 'data-run': run.id, class: 'damaged' }, h('th', { scope: 'row' }, run.id),
          h('td', { colspan: columns.length - 1, class: 'muted' }, `cannot be read: ${run.error}`));
      }
      const cells = columns.map(([key]) => {
        if (key === 'id') return h('th', { scope: 'row' }, link);
        const v = value(run, key);
        return h('td', { class: typeof v === 'number' ? 'num' : null }, v == null ? '–' : fmt(v));
      });
      const open = (e) => { if (e.target !== link) location.hash = runHash(run.id); };
      return h('tr', { 'data-run': run.id, onclick: open }, cells);
    }));
    setHashParams({ q: filter.value, sort: sortKey === 'id' ? null : sortKey, desc: desc ? 1 : null });
  }
  filter.addEventListener('input', fill);
  root.append(field('Filter', filter), h('div', { class: 'table-wrap' }, table));
  fill();
}

// -- view: one run -------------------------------------------------------------------------------
const infoCache = new Map();
async function loadInfo(id, fresh = false) {
  if (fresh || !infoCache.has(id)) infoCache.set(id, getJSON(runUrl(id, 'info')));
  try {
    return await infoCache.get(id);
  } catch (e) {
    infoCache.delete(id);
    throw e;
  }
}

const hasConditions = (info) => Boolean(info.classes?.length || info.tags || info.codes || info.directions?.length);

async function renderRun(root, route, scope) {
  const { id } = route;
  document.title = `${id} · genlab explore`;
  root.append(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Runs'), ' / ', id));
  const loading = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading the run…');
  root.append(loading);
  const info = await loadInfo(id, route.tab === 'overview').finally(() => loading.remove());
  if (scope.dead) return;
  const tabs = [['overview', 'Overview', true], ['sample', 'Sample', info.can.sample],
    ['walk', 'Walk', info.kind === 'image' && (info.can.sample || info.can.encode)],
    ['conditions', 'Conditions', hasConditions(info)]]
    .filter(([, , on]) => on);
  const tab = tabs.some(([t]) => t === route.tab) ? route.tab : 'overview';
  root.append(
    h('h1', {}, id),
    h('p', { class: 'muted' }, `${info.model} on ${info.data}, step ${fmt(info.step)}`,
      info.shape ? `, ${info.kind === 'image' ? 'images' : 'points'} of shape ${info.shape.join('×')}` : ''),
    h('nav', { class: 'tabs', 'aria-label': 'Run views' }, tabs.map(([t, label]) => h('a', {
      href: runHash(id, t), testid: `tab-${t}`, 'aria-current': t === tab ? 'page' : null,
    }, label))),
  );
  const body = h('section', { class: 'tab-body', testid: `view-${tab}` });
  root.append(body);
  const render = { overview: renderOverview, sample: renderSample, walk: renderWalk,
    conditions: renderConditions }[tab];
  render(body, info, route.params, scope);
}

function configTable(obj, prefix = '') {
  const rows = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) rows.push(...configTable(v, key));
    else {
      const text = Array.isArray(v) ? JSON.stringify(v) : v == null ? '–' : fmt(v);
      rows.push(h('tr', {}, h('th', { scope: 'row' }, key), h('td', { class: v == null ? 'muted' : null }, text)));
    }
  }
  return rows;
}

function renderOverview(root, info, params, scope) {
  const cmd = commandBox('train-command');
  cmd.set(info.command);
  const sections = Object.entries(info.config).map(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v)
    ? h('details', { open: true }, h('summary', {}, k), h('table', { class: 'kv' }, h('tbody', {}, configTable(v))))
    : h('table', { class: 'kv' }, h('tbody', {}, configTable({ [k]: v })))));
  const evalBlock = info.eval
    ? h('table', { class: 'kv', testid: 'eval-table' }, h('tbody', {}, configTable(info.eval)))
    : h('p', { class: 'muted' }, 'No evaluation yet: ', h('code', {}, `genlab eval ${info.id}`));
  const names = Object.keys(info.curves || {});
  const charts = names.map((name) => {
    const canvas = h('canvas', { class: 'chart', testid: `curve-${name}`, role: 'img',
      'aria-label': `${name} over training steps` });
    return { name, canvas, el: h('figure', { class: 'chart-box' }, h('figcaption', {}, name), canvas) };
  });
  root.append(
    h('div', { class: 'columns' },
      h('section', {}, h('h2', {}, 'Config'), h('div', { testid: 'config' }, sections),
        h('h3', {}, 'Reproduce'), cmd.el),
      h('section', {}, h('h2', {}, 'Last evaluation'), evalBlock,
        h('h2', {}, 'Training curves'),
        charts.length ? h('div', { class: 'charts' }, charts.map((c) => c.el))
          : h('p', { class: 'muted' }, 'No metrics.jsonl lines yet.'))),
  );
  const draw = () => charts.forEach((c) => drawChart(c.canvas, [{ name: c.name, points: info.curves[c.name] }]));
  requestAnimationFrame(draw);
  const ro = new ResizeObserver(() => draw());
  charts.forEach((c) => ro.observe(c.canvas));
  scope.add(() => ro.disconnect());
}

/** Seed and grid-size inputs shared by the sample and conditions tabs. */
function seedControls(state, onChange, { nLabel = 'Images', nChoices = [1, 4, 9, 16, 25, 36, 49, 64, 100, 144] } = {}) {
  const seed = h('input', { type: 'number', min: 0, max: 2 ** 32 - 1, step: 1, value: state.seed, testid: 'seed-input',
    inputmode: 'numeric' });
  seed.addEventListener('input', () => {
    const ok = /^\d+$/.test(seed.value) && Number(seed.value) < 2 ** 32;
    seed.setAttribute('aria-invalid', String(!ok));
    if (ok) { state.seed = Number(seed.value); onChange(); }
  });
  const setSeed = (v) => { state.seed = Math.min(2 ** 32 - 1, Math.max(0, v)); seed.value = state.seed; onChange(); };
  const choices = nChoices.includes(state.n) ? nChoices : [...nChoices, state.n].sort((a, b) => a - b);
  const n = select(choices, state.n, { testid: 'n-select' });
  n.addEventListener('change', () => { state.n = Number(n.value); onChange(); });
  return [
    field('Seed', seed,
      button('−', 'seed-prev', () => setSeed(state.seed - 1), { aria: 'Previous seed' }),
      button('+', 'seed-next', () => setSeed(state.seed + 1), { aria: 'Next seed' }),
      button('Random', 'seed-random', () => setSeed(Math.floor(Math.random() * 100000)))),
    field(nLabel, n),
  ];
}

function truncationControl(state, onChange) {
  const s = slider({ min: 0.05, max: 1, step: 0.05, value: state.truncation, testid: 'truncation-slider',
    format: (v) => (v >= 1 ? 'off' : v.toFixed(2)) });
  s.input.addEventListener('input', () => { state.truncation = Number(s.input.value); onChange(); });
  return field('Truncation ψ', s.input, s.out);
}

const trunc = (t) => (t != null && t < 1 ? t : null);
const runName = (info) => info.id.replaceAll('/', '-');

function renderSample(root, info, params, scope) {
  const state = {
    seed: intOr(params.get('seed'), 0), n: intOr(params.get('n'), 64), truncation: numOr(params.get('truncation'), 1),
    x: numOr(params.get('x'), 0.5), y: numOr(params.get('y'), 0.5), pn: intOr(params.get('pn'), 16),
  };
  const permalink = () => setHashParams({ seed: state.seed, n: state.n, truncation: trunc(state.truncation),
    x: state.x.toFixed(2), y: state.y.toFixed(2), pn: state.pn });
  const panel = new ImagePanel({ testid: 'sample-image', alt: 'samples', caption: 'Samples',
    filename: () => `${runName(info)}-seed${state.seed}-n${state.n}.png` });
  const samples = imageLoader(scope, panel, (p) => runUrl(info.id, 'samples.png', p));
  const load = () => {
    permalink();
    samples.request({ seed: state.seed, n: state.n, truncation: trunc(state.truncation) });
  };
  const points = info.kind === 'points';
  const controls = h('form', { class: 'controls', testid: 'sample-controls', onsubmit: (e) => e.preventDefault() },
    ...seedControls(state, load, points ? { nLabel: 'Points', nChoices: [16, 64, 256, 1024] } : {}),
    info.can.truncation ? truncationControl(state, () => { load(); loadPlane(); }) : null);
  root.append(h('div', { class: 'work' }, controls, panel.el));

  let loadPlane = () => {};
  if (info.can.plane) {
    const planePanel = new ImagePanel({ testid: 'plane-image', alt: 'samples at the chosen point of the seed plane',
      caption: 'At this point of the plane', fit: [320, 320],
      filename: () => `${runName(info)}-plane-${state.x.toFixed(2)}-${state.y.toFixed(2)}.png` });
    const plane = imageLoader(scope, planePanel, (p) => runUrl(info.id, 'plane.png', p));
    const pad = seedPlanePad(state, () => { permalink(); loadPlane(); });
    loadPlane = () => plane.request({ x: state.x.toFixed(2), y: state.y.toFixed(2), n: state.pn,
      truncation: trunc(state.truncation) });
    const pn = select(points ? [16, 64, 256] : [1, 4, 9, 16, 25, 36, 64], state.pn, { testid: 'plane-n-select' });
    pn.addEventListener('change', () => { state.pn = Number(pn.value); permalink(); loadPlane(); });
    root.append(h('h2', {}, 'Seed plane'),
      h('p', { class: 'muted' }, 'Each whole point (x, y) is the seed y × 1000 + x; between them the four ',
        'neighbouring seeds are blended. Drag, or focus the pad and use the arrow keys (Shift: whole steps).'),
      h('div', { class: 'work' },
        h('div', { class: 'controls' }, pad.el, field(points ? 'Points' : 'Images', pn)), planePanel.el));
    scope.add(pad.dispose);
    loadPlane();
  }
  load();
}

/** The 2-D seed plane: a canvas over [0, SPAN]² to drag on (or arrow keys); calls onMove with state.x, state.y set. */
function seedPlanePad(state, onMove) {
  const SPAN = 6;
  const canvas = h('canvas', { class: 'pad', testid: 'plane-pad', tabindex: 0, role: 'application',
    'aria-label': 'Seed plane: drag, or use the arrow keys', width: 240, height: 240 });
  const readout = h('output', { class: 'readout', testid: 'plane-readout', 'aria-live': 'polite' });
  const clamp = (v) => Math.round(Math.min(SPAN, Math.max(0, v)) * 100) / 100; // 2 decimals, as requests carry
  const draw = () => {
    const { ctx, w, h: H } = fitCanvas(canvas, 240);
    const u = w / SPAN;
    ctx.clearRect(0, 0, w, H);
    ctx.fillStyle = '#fafafa'; ctx.fillRect(0, 0, w, H);
    ctx.strokeStyle = '#d8d8d8'; ctx.lineWidth = 1;
    ctx.font = '10px system-ui, sans-serif'; ctx.fillStyle = '#888';
    for (let i = 0; i <= SPAN; i++) {
      ctx.beginPath(); ctx.moveTo(i * u + 0.5, 0); ctx.lineTo(i * u + 0.5, H); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, H - i * u - 0.5); ctx.lineTo(w, H - i * u - 0.5); ctx.stroke();
    }
    for (let i = 0; i < SPAN; i++) {
      for (let j = 0; j < SPAN; j++) ctx.fillText(String(j * 1000 + i), i * u + 3, H - j * u - 4);
    }
    const [cx, cy] = [state.x * u, H - state.y * u];
    ctx.fillStyle = '#2b6cb0';
    ctx.beginPath(); ctx.arc(cx, cy, 6, 0, 2 * Math.PI); ctx.fill();
    ctx.strokeStyle = '#fff'; ctx.lineWidth = 2; ctx.stroke();
    const [ix, iy] = [Math.floor(state.x), Math.floor(state.y)];
    const seeds = [...new Set([[0, 0], [1, 0], [0, 1], [1, 1]]
      .filter(([i, j]) => (i ? state.x > ix : true) && (j ? state.y > iy : true))
      .map(([i, j]) => (iy + j) * 1000 + ix + i))];
    const where = seeds.length > 1 ? `seeds ${seeds.join(', ')} blended` : `seed ${seeds[0]}`;
    readout.textContent = `x ${state.x.toFixed(2)}, y ${state.y.toFixed(2)}: ${where}`;
  };
  const move = (x, y) => { state.x = clamp(x); state.y = clamp(y); draw(); onMove(); };
  const fromEvent = (e) => {
    const r = canvas.getBoundingClientRect();
    move(((e.clientX - r.left) / r.width) * SPAN, (1 - (e.clientY - r.top) / r.height) * SPAN);
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    canvas.focus();
    fromEvent(e);
  });
  canvas.addEventListener('pointermove', (e) => { if (canvas.hasPointerCapture(e.pointerId)) fromEvent(e); });
  canvas.addEventListener('keydown', (e) => {
    const d = e.shiftKey ? 1 : 0.1;
    const delta = { ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, d], ArrowDown: [0, -d] }[e.key];
    if (!delta) return;
    e.preventDefault();
    move(state.x + delta[0], state.y + delta[1]);
  });
  const ro = new ResizeObserver(draw);
  ro.observe(canvas);
  return { el: h('div', { class: 'pad-box' }, canvas, readout), dispose: () => ro.disconnect() };
}

function renderWalk(root, info, params, scope) {
  const parseEnd = (text, dflt) => (/^(seed|test):\d+$/.test(text || '') ? text : dflt);
  const state = {
    from: parseEnd(params.get('from'), info.can.sample ? 'seed:0' : 'test:0'),
    to: parseEnd(params.get('to'), info.can.sample ? 'seed:1' : 'test:1'),
    steps: intOr(params.get('steps'), 8), method: params.get('method') === 'lerp' ? 'lerp' : 'slerp',
    animate: params.get('animate') !== '0',
  };
  const strip = new ImagePanel({ testid: 'walk-strip', alt: 'the walk as a strip', caption: 'Strip',
    filename: () => `${runName(info)}-walk.png`, fit: [Infinity, 96] });
  const anim = new ImagePanel({ testid: 'walk-animation', alt: 'the walk as an animation', caption: 'Animation',
    filename: () => `${runName(info)}-walk-animated.png`, command: false, fit: [192, 192] });
  anim.el.hidden = !state.animate;
  const loader = new Latest(async ({ animate, ...p }) => {
    const a = await getImage(runUrl(info.id, 'walk.png', p));
    const b = animate ? await getImage(runUrl(info.id, 'walk.png', { ...p, animate: 1 })) : null;
    return [a, b];
  }, ([a, b]) => { strip.show(a); if (b) anim.show(b); }, { onBusy: (on) => { strip.busy(on); anim.busy(on); } });
  scope.add(() => { loader.dispose(); strip.dispose(); anim.dispose(); });
  const load = () => {
    const { from, to, steps: n, method: m, animate: a } = state;
    setHashParams({ from, to, steps: n, method: m, animate: a ? null : 0 });
    anim.el.hidden = !state.animate;
    loader.request({ from, to, steps: n, method: m, animate: a });
  };

  const kinds = [...(info.can.sample ? [['seed', 'seed']] : []), ...(info.can.encode ? [['test', 'test image']] : [])];
  const endInputs = {};
  const endControl = (which, label) => {
    const [kind, value] = state[which].split(':');
    const kindSel = select(kinds, kind, { testid: `walk-${which}-kind` });
    const num = h('input', { type: 'number', min: 0, step: 1, value, testid: `walk-${which}`, inputmode: 'numeric' });
    const update = () => {
      if (!/^\d+$/.test(num.value)) { num.setAttribute('aria-invalid', 'true'); return; }
      num.setAttribute('aria-invalid', 'false');
      state[which] = `${kindSel.value}:${num.value}`;
      load();
    };
    kindSel.addEventListener('change', update);
    num.addEventListener('input', update);
    endInputs[which] = { kindSel, num, set(k, v) { kindSel.value = k; num.value = v; update(); } };
    const numLabel = kinds.length > 1 ? 'Number' : kinds[0][0] === 'seed' ? 'Seed' : 'Test image';
    return h('fieldset', { class: 'end' }, h('legend', {}, label),
      kinds.length > 1 ? field('Kind', kindSel) : null, field(numLabel, num));
  };
  const method = select([['slerp', 'slerp (along the sphere)'], ['lerp', 'lerp (straight line)']], state.method,
    { testid: 'walk-method' });
  method.addEventListener('change', () => { state.method = method.value; load(); });
  const steps = slider({ min: 2, max: 32, step: 1, value: state.steps, testid: 'walk-steps' });
  steps.input.addEventListener('input', () => { state.steps = Number(steps.input.value); load(); });
  const animate = h('input', { type: 'checkbox', checked: state.animate, testid: 'walk-animate' });
  animate.addEventListener('change', () => { state.animate = animate.checked; load(); });
  const controls = h('form', { class: 'controls', onsubmit: (e) => e.preventDefault() },
    endControl('from', 'From'), endControl('to', 'To'), field('Method', method), field('Steps', steps.input, steps.out),
    checkField('Also as an animation', animate));
  root.append(h('div', { class: 'work' }, controls, h('div', { class: 'stack' }, strip.el, anim.el)));
  if (info.can.encode) root.append(testPicker(info, scope, (which, index) => endInputs[which].set('test', index)));
  load();
}

/** Test images to pick walk ends from: one test.png grid (ceil(sqrt(n)) a row, 2 px padding) cut into buttons. */
function testPicker(info, scope, onPick) {
  const PAGE = 16, PAD = 2;
  let start = 0;
  let target = 'from';
  const grid = h('div', { class: 'test-grid', testid: 'test-images', role: 'group', 'aria-label': 'Test images' });
  const which = h('fieldset', { class: 'row pick-for' }, h('legend', {}, 'A click picks the walk’s'),
    ...['from', 'to'].map((w) => {
      const r = h('input', { type: 'radio', name: 'pick-for', value: w, checked: w === target, testid: `pick-${w}` });
      r.addEventListener('change', () => { target = w; });
      return checkField(w === 'from' ? 'start (from)' : 'end (to)', r);
    }));
  const count = h('span', { class: 'muted' });
  const total = info.test_count ?? Infinity; // unknown: pages until the server says the end is passed
  const prev = button('‹ Previous', 'test-prev', () => { start = Math.max(0, start - PAGE); load(); });
  const next = button('Next ›', 'test-next', () => {
    start = Math.min(Math.max(0, total - PAGE), start + PAGE);
    load();
  });
  const loader = new Latest(async (s) => {
    const n = Math.min(PAGE, total - s);
    const { blob } = await getImage(runUrl(info.id, 'test.png', { start: s, n }));
    const bitmap = await createImageBitmap(blob);
    const [, ih, iw] = info.shape;
    const nrow = Math.ceil(Math.sqrt(n));
    const cells = [];
    for (let i = 0; i < n; i++) {
      const [r, c] = [Math.floor(i / nrow), i % nrow];
      const canvas = h('canvas', { width: iw, height: ih, class: 'thumb' });
      canvas.getContext('2d').drawImage(bitmap, PAD + c * (iw + PAD), PAD + r * (ih + PAD), iw, ih, 0, 0, iw, ih);
      cells.push(h('button', { type: 'button', class: 'thumb-button', testid: 'test-image', 'data-index': s + i,
        'aria-label': `test image ${s + i}`, onclick: () => onPick(target, s + i) }, canvas));
    }
    bitmap.close();
    return { s, n, cells };
  }, ({ s, n, cells }) => {
    grid.replaceChildren(...cells);
    count.textContent = `${s}–${s + n - 1}${info.test_count ? ` of ${fmt(info.test_count)}` : ''}`;
    prev.disabled = s === 0;
    next.disabled = s + n >= total;
  });
  scope.add(() => loader.dispose());
  const load = () => loader.request(start);
  if (!(info.test_count === 0)) load();
  return h('section', {}, h('h2', {}, 'Encode test images'),
    h('p', { class: 'muted' }, 'Click a test image to walk from or to its code.'), which, grid,
    h('div', { class: 'pager' }, prev, count, next));
}

function renderConditions(root, info, params, scope) {
  const codes = info.codes;
  const state = {
    seed: intOr(params.get('seed'), 0), n: intOr(params.get('n'), 16), truncation: numOr(params.get('truncation'), 1),
    cls: params.get('class') || '',
    tags: new Set((params.get('tags') || '').split(',').map((t) => t.trim()).filter(Boolean)),
    prompt: params.get('prompt') || '',
    code: (params.get('code') || '').split(',').filter(Boolean).map(Number),
    edits: new Map(),
    gridN: intOr(params.get('gn'), 8),
  };
  for (const e of (params.get('edit') || '').split(',').filter(Boolean)) {
    const i = e.lastIndexOf(':');
    if (i > 0 && Number.isFinite(Number(e.slice(i + 1)))) state.edits.set(e.slice(0, i), Number(e.slice(i + 1)));
  }
  if (codes && (state.code.length !== 1 + codes.continuous || state.code.some((v) => !Number.isFinite(v)))) {
    state.code = [0, ...Array(codes.continuous).fill(0)];
  }
  const request = () => ({
    seed: state.seed, n: state.n, truncation: trunc(state.truncation),
    class: info.classes && state.cls ? state.cls : null,
    prompt: info.tags && state.prompt.trim() ? state.prompt.trim() : null,
    tags: info.tags && !state.prompt.trim() && state.tags.size ? [...state.tags].join(',') : null,
    code: codes && codes.categorical > 0 ? state.code.map((v) => Number(v.toFixed(3))).join(',') : null,
    edit: [...state.edits].filter(([, s]) => s !== 0).map(([k, s]) => `${k}:${s}`).join(',') || null,
  });
  const panel = new ImagePanel({ testid: 'condition-image', alt: 'samples under the chosen condition',
    caption: 'Samples',
    filename: () => `${runName(info)}-conditioned-seed${state.seed}.png` });
  const samples = imageLoader(scope, panel, (p) => runUrl(info.id, 'samples.png', p));
  let loadGrid = () => {};
  const load = () => {
    const r = request();
    setHashParams({ ...r, gn: info.can.class_grid ? state.gridN : null });
    samples.request(r);
  };
  const controls = h('form', { class: 'controls', onsubmit: (e) => e.preventDefault() },
    ...seedControls(state, () => { load(); loadGrid(); }),
    info.can.truncation ? truncationControl(state, load) : null);

  if (info.classes?.length) {
    const cls = select([['', 'any (random classes)'], ...info.classes.map((c) => [c, c])], state.cls,
      { testid: 'class-select' });
    cls.addEventListener('change', () => { state.cls = cls.value; load(); });
    controls.append(field('Class', cls));
  }
  if (info.tags) controls.append(tagChips(info.tags, state, load));
  if (codes) controls.append(codeSliders(codes, state, load));
  if (info.directions?.length) controls.append(directionSliders(info.directions, state, load));
  root.append(h('div', { class: 'work' }, controls, panel.el));

  if (info.can.class_grid) {
    const gridPanel = new ImagePanel({ testid: 'class-grid', alt: 'a row of samples for each class',
      caption: info.classes ? 'One row a class, one column a noise'
        : `One row a tag of “${largestGroup(info.tags)}”, one column a noise`,
      filename: () => `${runName(info)}-classes-seed${state.seed}.png`, fit: [512, 1200] });
    const grid = imageLoader(scope, gridPanel, (p) => runUrl(info.id, 'classes.png', p));
    loadGrid = () => grid.request({ seed: state.seed, n: state.gridN });
    const gn = select([4, 6, 8, 10, 12, 16], state.gridN, { testid: 'class-grid-n' });
    gn.addEventListener('change', () => { state.gridN = Number(gn.value); load(); loadGrid(); });
    root.append(h('h2', {}, 'Class grid'), h('div', { class: 'controls row' }, field('Columns', gn)), gridPanel.el);
    loadGrid();
  }
  load();
}

/** The exclusive tag group with the most members (the first such): the rows of a tag run's class grid. */
function largestGroup(tags) {
  const groups = tags?.groups || [];
  return groups.length ? groups.reduce((a, g) => (g.members.length > a.members.length ? g : a)).name : 'each tag';
}

/** Tag chips (toggle buttons): in an exclusive group choosing one unselects the others; plus a prompt box. */
function tagChips(tags, state, onChange) {
  const chips = [];
  const refresh = () => {
    const prompting = Boolean(state.prompt.trim());
    for (const c of chips) {
      c.setAttribute('aria-pressed', String(state.tags.has(c.dataset.tag)));
      c.disabled = prompting;
    }
    note.hidden = !prompting;
  };
  const chip = (name, group) => {
    const b = h('button', { type: 'button', class: 'chip', testid: 'tag-chip', 'data-tag': name,
      'aria-pressed': 'false' }, name);
    b.addEventListener('click', () => {
      if (state.tags.has(name)) state.tags.delete(name);
      else {
        for (const other of group || []) state.tags.delete(other);
        state.tags.add(name);
      }
      refresh();
      onChange();
    });
    chips.push(b);
    return b;
  };
  const groups = tags.groups.map((g) => h('fieldset', { class: 'chips', 'data-group': g.name },
    h('legend', {}, `${g.name} (one of)`), g.members.map((m) => chip(m, g.members))));
  const singles = tags.single.length
    ? h('fieldset', { class: 'chips' }, h('legend', {}, 'Other tags'), tags.single.map((m) => chip(m, null))) : null;
  const prompt = h('input', { type: 'text', testid: 'prompt-input', value: state.prompt,
    placeholder: 'e.g. girl with red hair and blue eyes' });
  let typing = null; // a prompt is sent once typing pauses: half-typed words are not tags
  prompt.addEventListener('input', () => {
    state.prompt = prompt.value;
    refresh();
    clearTimeout(typing);
    typing = setTimeout(onChange, 350);
  });
  const clear = button('Clear tags', 'tags-clear', () => {
    state.tags.clear();
    state.prompt = prompt.value = '';
    refresh();
    onChange();
  });
  const note = h('p', { class: 'muted small' }, 'The prompt is used instead of the chips while it is not empty.');
  refresh();
  return h('div', { class: 'tag-box' }, groups, singles, field('Prompt', prompt), note, clear);
}

function codeSliders(codes, state, onChange) {
  const box = h('fieldset', { class: 'sliders' }, h('legend', {}, 'InfoGAN codes'));
  if (codes.categorical > 0) {
    const cat = select([...Array(codes.categorical).keys()], state.code[0], { testid: 'code-category' });
    cat.addEventListener('change', () => { state.code[0] = Number(cat.value); onChange(); });
    box.append(field('Category', cat));
  }
  const [lo, hi] = codes.range || [-2, 2];
  for (let i = 0; i < codes.continuous; i++) {
    const s = slider({ min: lo, max: hi, step: 0.05, value: state.code[i + 1], testid: `code-slider-${i}`,
      format: (v) => v.toFixed(2) });
    s.input.addEventListener('input', () => { state.code[i + 1] = Number(s.input.value); onChange(); });
    box.append(field(`Continuous code ${i + 1}`, s.input, s.out));
  }
  return box;
}

function directionSliders(names, state, onChange) {
  const sliders = [];
  const box = h('fieldset', { class: 'sliders' }, h('legend', {}, 'Attribute directions'));
  for (const name of names) {
    const s = slider({ min: -4, max: 4, step: 0.1, value: state.edits.get(name) ?? 0,
      testid: `direction-slider-${name.replace(/\s+/g, '-')}`, format: (v) => (v > 0 ? '+' : '') + v.toFixed(1) });
    s.input.addEventListener('input', () => { state.edits.set(name, Number(s.input.value)); onChange(); });
    sliders.push([name, s]);
    box.append(field(name, s.input, s.out));
  }
  box.append(button('Reset directions', 'directions-reset', () => {
    for (const [name, s] of sliders) { s.set(0); state.edits.set(name, 0); }
    onChange();
  }));
  return box;
}

// -- view: the 2-D lab ---------------------------------------------------------------------------
const PRESETS = [['gan', 'gan (the mode-covering recipe)'], ['dcgan', 'dcgan (the plain GAN)'], ['lsgan', 'lsgan'],
  ['wgan', 'wgan'], ['wgan-gp', 'wgan-gp']];
const LOSSES = [['', 'the preset’s'], 'ns', 'minimax', 'ls', 'wgan', 'wgan-gp', 'hinge'];
const DATASETS = [['ring8', 'ring8 (8 modes on a circle)'], ['grid25', 'grid25 (5×5 modes)'], ['spiral', 'spiral'],
  ['points', 'my points (draw or upload)']];
const DRAW_BOUNDS = [-2, 2, -2, 2]; // where drawn points go before a session has bounds of its own
const MIN_POINTS = 16;
const REAL = '#1f7a4d', FAKE = '#7b3fb5';
const MAX_HISTORY = 2000;
const CHART_METRICS = ['modes', 'hq', 'reverse_kl'];

// The session outlives its view (look at an exported run, come back): kept here, ended when the page goes.
const lab = { sid: null, frame: null, frames: 0, times: [], history: [], drawn: [], bounds: DRAW_BOUNDS };
const labUrl = (tail = '') => `/api/v1/lab/${encodeURIComponent(lab.sid)}${tail}`;
addEventListener('pagehide', () => {
  if (lab.sid) fetch(labUrl(), { method: 'DELETE', keepalive: true, credentials: 'same-origin' });
});

/** Colour of a field value t in [0, 1]: purple (fake side) through near-white to green (real side), kept light. */
function fieldColour(t) {
  const mid = [248, 248, 246];
  const [target, u] = t < 0.5 ? [[123, 63, 181], (0.5 - t) * 2] : [[31, 122, 77], (t - 0.5) * 2];
  const k = Math.min(1, Math.max(0, u)) * 0.6;
  return mid.map((m, i) => Math.round(m + (target[i] - m) * k));
}

/** A lab frame on the canvas: D's field, real points, G's gradient arrows, fake points. Returns the field's range. */
function drawLab(canvas, frame, drawn, setupBounds) {
  const { ctx, w, h: H } = fitCanvas(canvas, 480);
  const [x0, x1, y0, y1] = frame?.field?.bounds || setupBounds;
  const px = (x) => ((x - x0) / (x1 - x0)) * w;
  const py = (y) => H - ((y - y0) / (y1 - y0)) * H;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, H);
  const field = frame?.field;
  let range = null;
  if (field && field.n > 1 && field.values?.length === field.n * field.n) {
    const { n, values } = field;
    let [lo, hi] = field.label === 'D(x)' ? [0, 1] : [Infinity, -Infinity];
    if (field.label !== 'D(x)') for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!(hi > lo)) hi = lo + 1;
    range = [lo, hi];
    const off = drawLab.off || (drawLab.off = document.createElement('canvas'));
    off.width = n; off.height = n;
    const octx = off.getContext('2d');
    const img = octx.createImageData(n, n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const [R, G, B] = fieldColour((values[r * n + c] - lo) / (hi - lo));
        const k = ((n - 1 - r) * n + c) * 4; // row 0 is y min: the bottom
        img.data.set([R, G, B, 255], k);
      }
    }
    octx.putImageData(img, 0, 0);
    // values sit on the grid's points (bounds inclusive): each pixel of `off` is a cell centred on one
    const cw = w / (n - 1), ch = H / (n - 1);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, -cw / 2, -ch / 2, w + cw, H + ch);
  }
  ctx.strokeStyle = 'rgba(0,0,0,0.15)'; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(px(0), 0); ctx.lineTo(px(0), H); ctx.moveTo(0, py(0)); ctx.lineTo(w, py(0)); ctx.stroke();
  const dots = (points, colour, r) => {
    ctx.fillStyle = colour;
    for (const [x, y] of points) { ctx.beginPath(); ctx.arc(px(x), py(y), r, 0, 2 * Math.PI); ctx.fill(); }
  };
  if (!frame) { dots(drawn, REAL, 2.5); return range; }
  dots(frame.real || [], REAL, 2);
  const arrows = frame.arrows || [];
  const longest = Math.max(1e-12, ...arrows.map(([, , dx, dy]) => Math.hypot(dx, dy)));
  const scale = (0.07 * (x1 - x0)) / longest; // the longest arrow: 7% of the view
  ctx.strokeStyle = 'rgba(40,40,40,0.5)'; ctx.lineWidth = 1;
  ctx.beginPath();
  for (const [x, y, dx, dy] of arrows) {
    const [ax, ay, bx, by] = [px(x), py(y), px(x + dx * scale), py(y + dy * scale)];
    ctx.moveTo(ax, ay); ctx.lineTo(bx, by);
    if (Math.hypot(bx - ax, by - ay) > 4) {
      const ang = Math.atan2(by - ay, bx - ax);
      for (const s of [-0.5, 0.5]) {
        ctx.moveTo(bx, by);
        ctx.lineTo(bx - 4 * Math.cos(ang + s), by - 4 * Math.sin(ang + s));
      }
    }
  }
  ctx.stroke();
  dots(frame.fake || [], FAKE, 2);
  return range;
}

/** Points from a text file: one "x,y" (or "x y", "x;y", "x<TAB>y") a line; other lines (a header) skipped. */
function parsePoints(text) {
  const points = [];
  for (const line of text.split(/\r?\n/)) {
    const parts = line.trim().split(/[\s,;]+/).filter(Boolean);
    if (parts.length < 2) continue;
    const [x, y] = [Number(parts[0]), Number(parts[1])];
    if (Number.isFinite(x) && Number.isFinite(y)) points.push([x, y]);
  }
  return points;
}

async function renderLab(root, route, scope) {
  document.title = 'Lab · genlab explore';
  const p = route.params;
  const pick = (name, options, dflt) => (options.some((o) => (Array.isArray(o) ? o[0] : o) === p.get(name))
    ? p.get(name) : dflt);
  const form = {
    data: pick('data', DATASETS, 'ring8'), preset: pick('preset', PRESETS, 'gan'), loss: pick('loss', LOSSES, ''),
    k: p.get('k') ? intOr(p.get('k'), null) : null, seed: intOr(p.get('seed'), 0), spf: intOr(p.get('spf'), 3),
  };
  const permalink = () => setHashParams({ data: form.data, preset: form.preset, loss: form.loss, k: form.k,
    seed: form.seed, spf: form.spf });

  // controls
  const dataSel = select(DATASETS, form.data, { testid: 'lab-data' });
  const presetSel = select(PRESETS, form.preset, { testid: 'lab-preset' });
  const lossSel = select(LOSSES, form.loss, { testid: 'lab-loss' });
  const kInput = h('input', { type: 'number', min: 1, max: 10, step: 1, value: form.k ?? '', placeholder: 'preset’s',
    testid: 'lab-k' });
  const seedInput = h('input', { type: 'number', min: 0, step: 1, value: form.seed, testid: 'lab-seed' });
  const spfInput = h('input', { type: 'number', min: 1, max: 100, step: 1, value: form.spf, testid: 'lab-spf' });
  const upload = h('input', { type: 'file', accept: '.csv,.txt,text/csv,text/plain', testid: 'lab-upload' });
  const clearPoints = button('Clear points', 'lab-clear-points');
  const pointsCount = h('span', { class: 'muted', testid: 'lab-points-count' });
  const pointsBox = h('fieldset', { class: 'points-box' }, h('legend', {}, 'Your points'),
    h('p', { class: 'muted small' },
      `Drag on the canvas to draw points (at least ${MIN_POINTS}), or upload a text file of x,y lines.`),
    field('Upload', upload), h('div', { class: 'row' }, clearPoints, pointsCount));
  const btn = (testid, label, cls = null) => button(label, testid, null, { cls });
  const start = btn('lab-start', 'Start', 'primary');
  const stop = btn('lab-stop', 'Stop');
  const pause = btn('lab-pause', 'Pause');
  const stepD = btn('lab-step-d', 'Step D');
  const stepG = btn('lab-step-g', 'Step G');
  const reset = btn('lab-reset', 'Reset');
  const exportConfig = btn('lab-export-config', 'Export config');
  const exportRun = btn('lab-export-run', 'Export run');
  const exportName = h('input', { type: 'text', testid: 'lab-export-name', placeholder: 'optional' });
  const exportResult = h('p', { testid: 'lab-export-result', 'aria-live': 'polite' });
  const liveButtons = [stop, pause, stepD, stepG, reset, exportConfig, exportRun];

  // readouts
  const fps = h('output', { testid: 'lab-fps' }, '0.0');
  const frames = h('output', { testid: 'lab-frames' }, '0');
  const stepOut = h('output', { testid: 'lab-step' }, '–');
  const metricsOut = h('dl', { class: 'metrics', testid: 'lab-metrics' });
  const status = h('span', { testid: 'lab-status', class: 'muted' }, 'not started');
  const note = h('p', { testid: 'lab-note', class: 'muted small', 'aria-live': 'polite' });
  const legend = h('p', { class: 'legend small', testid: 'lab-legend' });
  const canvas = h('canvas', { class: 'lab-canvas', testid: 'lab-canvas', role: 'img',
    'aria-label': 'Real points (green) and generated points (purple) over the discriminator’s field' });
  const lossChart = h('canvas', { class: 'chart', testid: 'lab-loss-chart', role: 'img',
    'aria-label': 'losses over steps' });
  const metricCharts = CHART_METRICS.map((k) => h('canvas', { class: 'chart small-chart', testid: `lab-metric-${k}`,
    role: 'img', 'aria-label': `${k} over steps` }));

  root.append(h('h1', {}, '2-D lab'),
    h('p', { class: 'muted' }, 'A GAN on points, trained live in the server with genlab’s own code. Real points ',
      'are green, generated ones purple, over D’s field; the arrows show where G’s gradient moves each fake.'),
    h('div', { class: 'lab' },
      h('form', { class: 'controls', testid: 'lab-controls', onsubmit: (e) => e.preventDefault() },
        field('Data', dataSel), pointsBox, field('Model', presetSel), field('Loss', lossSel),
        field('D steps per G step (K)', kInput), field('Seed', seedInput), field('Steps per frame', spfInput),
        h('div', { class: 'buttons' }, start, stop),
        h('div', { class: 'buttons' }, pause, stepD, stepG, reset),
        h('div', { class: 'buttons' }, exportConfig), field('Run name', exportName),
        h('div', { class: 'buttons' }, exportRun), exportResult),
      h('div', { class: 'lab-stage' },
        h('div', { class: 'readouts' }, h('span', {}, 'Step ', stepOut), h('span', {}, 'Frames ', frames),
          h('span', {}, fps, ' frames/s'), status),
        canvas, legend, note, metricsOut),
      h('div', { class: 'lab-charts' },
        h('figure', { class: 'chart-box' }, h('figcaption', {}, 'Losses'), lossChart),
        CHART_METRICS.map((k, i) => h('figure', { class: 'chart-box' }, h('figcaption', {}, k), metricCharts[i])))));

  // drawing: the canvas at most once an animation frame, the charts at most 4 times a second
  let painting = false;
  const paint = () => {
    painting = false;
    const f = lab.sid ? lab.frame : null;
    const range = drawLab(canvas, f, lab.drawn, lab.bounds);
    const span = range ? `, from ${fmt(range[0])} (purple) to ${fmt(range[1])} (green)` : '';
    legend.textContent = f?.field ? `Field: ${f.field.label}${span}` : '';
    const m = f?.metrics || {};
    metricsOut.replaceChildren(...CHART_METRICS.filter((k) => k in m).flatMap((k) => [h('dt', {}, k),
      h('dd', { 'data-metric': k }, k === 'modes' && m.n_modes ? `${m.modes} of ${m.n_modes}` : fmt(m[k]))]));
  };
  const schedule = () => { if (!painting) { painting = true; requestAnimationFrame(paint); } };
  let chartsAt = 0;
  const drawCharts = (force = false) => {
    if (!force && performance.now() - chartsAt < 250) return;
    chartsAt = performance.now();
    const keys = [...new Set(lab.history.flatMap((r) => Object.keys(r.losses)))];
    drawChart(lossChart, keys.map((k) => ({ name: k, points: lab.history.map((r) => [r.step, r.losses[k] ?? NaN]) })));
    CHART_METRICS.forEach((k, i) => { // the sets with known modes (ring8, grid25) have these
      const points = lab.history.filter((r) => r.metrics[k] != null).map((r) => [r.metrics.step ?? r.step, r.metrics[k]]);
      metricCharts[i].parentElement.hidden = !points.length;
      if (points.length) drawChart(metricCharts[i], [{ name: k, colour: PALETTE[2], points }]);
    });
  };
  const updateFps = () => {
    const now = performance.now();
    while (lab.times.length && lab.times[0] < now - 2000) lab.times.shift();
    // frames received in the last 2 s over the window (not over their own spread: frames that a busy
    // page takes in a burst would count as thousands a second)
    const span = Math.min(2000, now - (lab.since ?? now));
    const rate = lab.times.length < 2 ? 0 : lab.times.length / (Math.max(span, 250) / 1000);
    fps.textContent = rate.toFixed(1);
    drawCharts();
  };
  const timer = setInterval(updateFps, 500);
  scope.add(() => clearInterval(timer));

  const setMode = () => {
    const live = Boolean(lab.sid);
    if (live) canvas.dataset.session = lab.sid; else delete canvas.dataset.session;
    for (const b of liveButtons) b.disabled = !live;
    start.textContent = live ? 'Restart' : 'Start';
    for (const el of [dataSel, presetSel, seedInput, upload, clearPoints]) el.disabled = live;
    pointsBox.hidden = form.data !== 'points';
    canvas.classList.toggle('drawing', !live && form.data === 'points');
    pointsCount.textContent = `${lab.drawn.length} points`;
    const running = lab.frame?.running;
    pause.textContent = live && running === false ? 'Resume' : 'Pause';
    status.textContent = !live ? 'not started' : running === false ? 'paused' : 'training';
  };

  const onFrame = (frame) => {
    if (lab.frame && frame.seq <= lab.frame.seq) return; // a control's answer after the stream's newer frame
    if (lab.frame && frame.step < lab.frame.step) lab.history = []; // a reset
    lab.frame = frame;
    lab.frames += 1;
    lab.times.push(performance.now());
    lab.since ??= performance.now();
    if (lab.times.length === 2) updateFps(); // the first reading at once, then on the timer
    if (lab.history.at(-1)?.step !== frame.step) {
      lab.history.push({ step: frame.step, losses: frame.losses || {}, metrics: frame.metrics || {} });
      if (lab.history.length > MAX_HISTORY) { // thin the oldest half
        lab.history = lab.history.filter((_, i) => i % 2 === 0 || i === lab.history.length - 1);
      }
    }
    if (frame.error) showError(frame.error, lab); else clearError(lab);
    frames.textContent = String(lab.frames);
    stepOut.textContent = fmt(frame.step);
    const s = frame.settings || {};
    if (s.loss && document.activeElement !== lossSel && form.loss) lossSel.value = s.loss;
    if (s.d_steps && document.activeElement !== kInput) kInput.value = s.d_steps;
    if (s.steps_per_frame && document.activeElement !== spfInput) spfInput.value = s.steps_per_frame;
    setMode();
    schedule();
    drawCharts();
  };

  let es = null;
  const connect = () => {
    es?.close();
    const sid = lab.sid;
    const source = new EventSource(labUrl('/events'));
    es = source;
    source.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { showError('the lab sent a frame that is not JSON'); return; }
      onFrame(frame);
    };
    source.onerror = async () => { // EventSource reconnects by itself: only a session that is gone ends it
      try {
        await getJSON(`/api/v1/lab/${encodeURIComponent(sid)}/frame`);
      } catch (e) {
        if (source !== es) return;
        source.close();
        showError(`the lab stream stopped: ${e.message}`);
        if (lab.sid === sid) { lab.sid = null; setMode(); }
      }
    };
  };
  scope.add(() => es?.close());

  const control = async (action, extra = {}) => {
    try {
      const frame = await sendJSON(labUrl('/control'), { action, ...extra });
      clearError(control);
      note.textContent = frame.note || '';
      if (!scope.dead && frame.seq != null) onFrame(frame);
    } catch (e) { showError(e.message, control); }
  };
  const endSession = async () => {
    const sid = lab.sid;
    es?.close(); es = null;
    Object.assign(lab, { sid: null, frame: null, frames: 0, times: [], since: null, history: [] });
    if (sid) {
      try {
        await request(`/api/v1/lab/${encodeURIComponent(sid)}`, { method: 'DELETE' });
      } catch (e) { showError(e.message); }
    }
  };

  // the settings: data, model and seed need a new session; loss, K and steps per frame change a live one
  const wholeIn = (input, lo, hi) => {
    const ok = /^\d+$/.test(input.value) && Number(input.value) >= lo && Number(input.value) <= hi;
    input.setAttribute('aria-invalid', String(!ok));
    return ok ? Number(input.value) : null;
  };
  dataSel.addEventListener('change', () => { form.data = dataSel.value; permalink(); setMode(); schedule(); });
  presetSel.addEventListener('change', () => { form.preset = presetSel.value; permalink(); });
  seedInput.addEventListener('change', () => {
    const v = wholeIn(seedInput, 0, 2 ** 31);
    if (v != null) { form.seed = v; permalink(); }
  });
  lossSel.addEventListener('change', () => {
    form.loss = lossSel.value; permalink();
    if (lab.sid && form.loss) control('set', { loss: form.loss });
  });
  kInput.addEventListener('change', () => {
    if (kInput.value === '' && !lab.sid) { // back to the preset's K
      form.k = null;
      kInput.setAttribute('aria-invalid', 'false');
      permalink();
      return;
    }
    const v = wholeIn(kInput, 1, 10);
    if (v == null) return;
    form.k = v; permalink();
    if (lab.sid) control('set', { d_steps: v });
  });
  spfInput.addEventListener('change', () => {
    const v = wholeIn(spfInput, 1, 100);
    if (v == null) return;
    form.spf = v; permalink();
    if (lab.sid) control('set', { steps_per_frame: v });
  });

  start.addEventListener('click', async () => {
    if (form.data === 'points' && lab.drawn.length < MIN_POINTS) {
      showError(`draw or upload at least ${MIN_POINTS} points first (you have ${lab.drawn.length})`);
      return;
    }
    start.disabled = true;
    await endSession();
    setMode();
    status.textContent = 'starting…';
    const body = { data: form.data, preset: form.preset, loss: form.loss || null, d_steps: form.k, seed: form.seed,
      steps_per_frame: form.spf, ...(form.data === 'points' ? { points: lab.drawn } : {}) };
    try {
      const res = await sendJSON('/api/v1/lab', body);
      lab.sid = res.id;
      exportResult.replaceChildren();
      clearError();
      if (!scope.dead) connect();
    } catch (e) { showError(e.message); }
    start.disabled = false;
    setMode();
  });
  stop.addEventListener('click', async () => { await endSession(); setMode(); schedule(); drawCharts(true); });
  pause.addEventListener('click', () => control(lab.frame?.running === false ? 'resume' : 'pause'));
  stepD.addEventListener('click', () => control('step_d'));
  stepG.addEventListener('click', () => control('step_g'));
  reset.addEventListener('click', () => control('reset'));
  exportConfig.addEventListener('click', async () => {
    try {
      const res = await request(labUrl('/config.yaml'));
      download(await res.blob(), `lab-${form.preset}-${form.data}.yaml`);
    } catch (e) { showError(e.message); }
  });
  exportRun.addEventListener('click', async () => {
    exportRun.disabled = true;
    exportResult.textContent = 'Exporting…';
    try {
      const name = exportName.value.trim();
      const res = await sendJSON(labUrl('/export'), name ? { name } : {});
      infoCache.delete(res.run);
      const link = h('a', { href: runHash(res.run), testid: 'lab-export-link' }, res.run);
      exportResult.replaceChildren('Saved as run ', link);
    } catch (e) { exportResult.textContent = ''; showError(e.message); }
    exportRun.disabled = !lab.sid;
  });

  // drawn points: a spray of a few jittered points for each pointer move
  let drawing = false;
  const addAt = (e) => {
    const r = canvas.getBoundingClientRect();
    const [x0, x1, y0, y1] = lab.bounds;
    const x = x0 + ((e.clientX - r.left) / r.width) * (x1 - x0);
    const y = y1 - ((e.clientY - r.top) / r.height) * (y1 - y0);
    const s = 0.015 * (x1 - x0);
    for (let i = 0; i < 3; i++) {
      const g = Math.sqrt(-2 * Math.log(Math.random() || 1e-9)), a = 2 * Math.PI * Math.random();
      lab.drawn.push([Number((x + s * g * Math.cos(a)).toFixed(4)), Number((y + s * g * Math.sin(a)).toFixed(4))]);
    }
    pointsCount.textContent = `${lab.drawn.length} points`;
    schedule();
  };
  canvas.addEventListener('pointerdown', (e) => {
    if (lab.sid || form.data !== 'points') return;
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    addAt(e);
  });
  canvas.addEventListener('pointermove', (e) => { if (drawing) addAt(e); });
  canvas.addEventListener('pointerup', () => { drawing = false; });
  clearPoints.addEventListener('click', () => {
    Object.assign(lab, { drawn: [], bounds: DRAW_BOUNDS });
    setMode();
    schedule();
  });
  upload.addEventListener('change', async () => {
    const file = upload.files?.[0];
    if (!file) return;
    const points = parsePoints(await file.text());
    if (points.length < MIN_POINTS) {
      showError(`${file.name}: ${points.length} x,y line(s) found; the lab needs at least ${MIN_POINTS} points`);
      return;
    }
    const half = Math.max(2, ...points.flat().map(Math.abs)) * 1.1;
    Object.assign(lab, { drawn: points, bounds: [-half, half, -half, half] });
    clearError();
    setMode(); schedule();
  });

  const ro = new ResizeObserver(() => { schedule(); drawCharts(true); });
  ro.observe(canvas);
  scope.add(() => ro.disconnect());
  setMode();
  if (lab.sid) connect(); // back to a live session
  schedule();
}

// -- start ---------------------------------------------------------------------------------------
addEventListener('hashchange', route);
route();
