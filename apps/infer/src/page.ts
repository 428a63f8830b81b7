/**
 * The web page served at `/`: one self-contained HTML file (no CDN, no build step). Without an
 * upload it shows the served model, a paged grid of the index and, when the server has
 * `GET /v1/index/map`, the feature-space map. Dropping or choosing an image (or clicking an
 * indexed one) shows DINO's per-head attention with the threshold masks, the nearest indexed
 * images and the k-NN vote. Light/dark follows the system; layout holds from 375 px up.
 * The browser script is plain ES2020 in a template string: no backticks or `${` inside it.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>ssl-infer</title>
<style>
  :root {
    --bg: #fafafa; --fg: #1d1d1f; --muted: #5c5c66; --card: #ffffff; --line: #d9d9de;
    --accent: #2453c7; --accent-fg: #ffffff; --focus: #f0a500; --bad-bg: #fdecec; --bad-fg: #8a1414;
    --dup: #a3400b; --bar: #2453c7;
  }
  @media (prefers-color-scheme: dark) {
    :root {
      --bg: #141417; --fg: #ececf1; --muted: #a4a4b0; --card: #1e1e23; --line: #3a3a42;
      --accent: #7ea2ff; --accent-fg: #0d1020; --focus: #ffc94d; --bad-bg: #3b1616; --bad-fg: #ffb4b4;
      --dup: #ffab70; --bar: #7ea2ff;
    }
  }
  * { box-sizing: border-box; }
  html { -webkit-text-size-adjust: 100%; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
  a { color: var(--accent); }
  :focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
  .sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
  header { padding: 16px 24px; border-bottom: 1px solid var(--line); background: var(--card); }
  header h1 { margin: 0 0 4px; font-size: 1.5rem; }
  header p { margin: 0; color: var(--muted); }
  .facts { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 10px 0 0; padding: 0; }
  .facts div { display: flex; gap: 6px; }
  .facts dt { color: var(--muted); }
  .facts dd { margin: 0; font-weight: 600; }
  main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; display: grid; gap: 20px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; min-width: 0; }
  section > h2 { margin: 0 0 10px; font-size: 1.15rem; }
  h3 { margin: 16px 0 8px; font-size: 1rem; }
  p { margin: 0 0 8px; }
  .hint { color: var(--muted); }
  #drop { border: 2px dashed var(--line); border-radius: 10px; padding: 20px; display: flex; flex-wrap: wrap; align-items: center; gap: 12px 16px; }
  #drop.over { border-color: var(--accent); background: color-mix(in srgb, var(--accent) 10%, transparent); }
  #drop p { margin: 0; flex: 1 1 220px; }
  button { font: inherit; color: inherit; cursor: pointer; }
  .primary { background: var(--accent); color: var(--accent-fg); border: 0; border-radius: 8px; padding: 8px 16px; font-weight: 600; }
  .plain { background: transparent; border: 1px solid var(--line); border-radius: 8px; padding: 6px 12px; }
  .plain:disabled { opacity: 0.5; cursor: default; }
  #status { margin: 12px 0 0; }
  #error { margin: 12px 0 0; padding: 10px 12px; border-radius: 8px; background: var(--bad-bg); color: var(--bad-fg); }
  .query { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; margin-top: 12px; }
  figure { margin: 0; }
  .tile .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 4px; }
  .tile img, .query img { width: 100%; height: auto; display: block; border-radius: 4px; image-rendering: pixelated; background: var(--line); }
  .query figure { width: 160px; }
  figcaption { font-size: 0.85rem; color: var(--muted); margin-top: 4px; }
  ol.thumbs, ul.thumbs { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(104px, 1fr)); gap: 10px; }
  .thumbs li { min-width: 0; }
  .entry { width: 100%; display: block; padding: 4px; border: 1px solid var(--line); border-radius: 8px; background: var(--bg); text-align: left; }
  .entry img { width: 100%; aspect-ratio: 1; object-fit: cover; display: block; border-radius: 4px; background: var(--line); }
  .entry .noimg { width: 100%; aspect-ratio: 1; display: flex; align-items: center; justify-content: center; border-radius: 4px; background: var(--line); color: var(--muted); font-size: 0.8rem; }
  .entry .id { display: block; margin-top: 4px; font-size: 0.8rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .entry .meta { display: block; font-size: 0.8rem; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .badge { display: block; font-size: 0.75rem; font-weight: 700; color: var(--dup); }
  .labels { display: flex; flex-wrap: wrap; gap: 6px; list-style: none; margin: 0 0 12px; padding: 0; }
  .labels li { border: 1px solid var(--line); border-radius: 999px; padding: 1px 10px; font-size: 0.85rem; }
  .pager { display: flex; align-items: center; justify-content: center; flex-wrap: wrap; gap: 12px; margin-top: 12px; }
  table { border-collapse: collapse; width: 100%; max-width: 520px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
  td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
  meter { width: 100%; min-width: 60px; }
  #map-wrap { position: relative; }
  #map { width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 8px; background: var(--bg); }
  #map circle { cursor: pointer; stroke: var(--card); stroke-width: 0.6; }
  #map circle:focus-visible, #map circle.hot { stroke: var(--focus); stroke-width: 2.5; outline: none; }
  #map-tip { position: absolute; pointer-events: none; width: 120px; padding: 4px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; box-shadow: 0 4px 14px rgba(0,0,0,0.25); }
  #map-tip img { width: 100%; display: block; border-radius: 4px; image-rendering: pixelated; }
  #map-tip span { display: block; font-size: 0.8rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 12px; list-style: none; margin: 8px 0 0; padding: 0; font-size: 0.85rem; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; vertical-align: middle; }
  dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg); padding: 18px; max-width: min(420px, calc(100vw - 32px)); }
  dialog::backdrop { background: rgba(0,0,0,0.45); }
  dialog form { display: grid; gap: 10px; }
  dialog input { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); width: 100%; }
  @media (max-width: 600px) {
    header { padding: 12px 14px; }
    main { padding: 12px 10px 32px; gap: 14px; }
    section { padding: 12px; }
    .tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); }
    ol.thumbs, ul.thumbs { grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 8px; }
    .query figure { width: 128px; }
  }
</style>
</head>
<body>
<header>
  <h1>ssl-infer</h1>
  <p id="model-line">Loading the model description...</p>
  <dl class="facts" id="model-facts"></dl>
</header>
<main>
  <section id="query-panel" aria-labelledby="query-h">
    <h2 id="query-h">Look at an image</h2>
    <div id="drop">
      <p>Drop an image here, choose a file, or pick an indexed image below. The server shows what each attention head of the last block looks at, and the nearest images in its index.</p>
      <button type="button" class="primary" id="choose">Choose an image</button>
      <input id="file" type="file" accept="image/*" hidden>
    </div>
    <p id="status" role="status" aria-live="polite">No image yet.</p>
    <div id="error" role="alert" hidden></div>
  </section>

  <section id="results" aria-labelledby="results-h" hidden>
    <h2 id="results-h">Attention</h2>
    <p class="hint" id="attention-hint"></p>
    <div class="query" id="query"></div>
    <div class="tiles" id="heads"></div>
    <h3 id="neighbors-h">Nearest indexed images</h3>
    <p class="hint" id="neighbors-hint"></p>
    <ol class="thumbs" id="neighbors" aria-labelledby="neighbors-h"></ol>
    <div id="vote" hidden>
      <h3 id="vote-h">k-NN vote</h3>
      <p id="vote-line"></p>
      <table aria-labelledby="vote-h"><thead><tr><th scope="col">label</th><th scope="col">share of the vote</th><th scope="col">score</th></tr></thead><tbody id="vote-rows"></tbody></table>
    </div>
  </section>

  <section id="index-panel" aria-labelledby="index-h">
    <h2 id="index-h">Index</h2>
    <p id="index-line">Loading the index...</p>
    <ul class="labels" id="index-labels" aria-label="labels in the index"></ul>
    <ul class="thumbs" id="grid" aria-label="indexed images"></ul>
    <nav class="pager" id="pager" aria-label="index pages" hidden>
      <button type="button" class="plain" id="prev" aria-label="Previous page">Previous</button>
      <span id="page-line" aria-live="polite"></span>
      <button type="button" class="plain" id="next" aria-label="Next page">Next</button>
    </nav>
  </section>

  <section id="map-panel" aria-labelledby="map-h" hidden>
    <h2 id="map-h">Feature map</h2>
    <p class="hint" id="map-line"></p>
    <div id="map-wrap">
      <svg id="map" viewBox="0 0 1000 600" role="group" aria-label="feature-space map of the index entries"></svg>
      <div id="map-tip" hidden><img alt="" id="map-tip-img"><span id="map-tip-text"></span></div>
    </div>
    <ul class="legend" id="map-legend" aria-label="map colours"></ul>
  </section>
</main>

<dialog id="token-dialog" aria-labelledby="token-h">
  <form method="dialog" id="token-form">
    <h2 id="token-h">This server needs a token</h2>
    <p id="token-why">Paste the server's bearer token. It is kept for this tab only (sessionStorage).</p>
    <label for="token-input">Token</label>
    <input id="token-input" type="password" autocomplete="off" required>
    <button type="submit" class="primary">Use token</button>
  </form>
</dialog>

<script>
'use strict';
const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 24;
const TOKEN_KEY = 'ssl-infer-token';
const state = { model: null, offset: 0, size: 0, labels: [], busy: 0 };

function el(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children || []) if (c) e.appendChild(c);
  return e;
}
const svgEl = (tag, attrs) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};
const mib = (bytes) => (bytes / 1048576).toFixed(bytes % 1048576 === 0 ? 0 : 1) + ' MiB';

// ---- Talking to the server: token once per tab, errors as readable sentences ----

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

let tokenAsk = null;
function askToken(again) {
  if (tokenAsk) return tokenAsk;
  const dlg = $('token-dialog');
  $('token-why').textContent = again
    ? 'That token was refused. Paste the server\\'s bearer token again; it is kept for this tab only.'
    : 'Paste the server\\'s bearer token. It is kept for this tab only (sessionStorage).';
  $('token-input').value = '';
  tokenAsk = new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      const t = $('token-input').value.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      tokenAsk = null;
      resolve(Boolean(t));
    }, { once: true });
  });
  dlg.showModal();
  return tokenAsk;
}

function readable(status, body, headers) {
  const err = (body && body.error) || {};
  const said = err.message || '';
  const limits = state.model && state.model.limits;
  if (status === 413) {
    return 'This file is too large for the server' + (limits ? ': it takes files up to ' + mib(limits.fileBytes) + ' (' + mib(limits.bodyBytes) + ' per request).' : '.') + ' Choose a smaller image.';
  }
  if (status === 415) return 'The server cannot read this kind of upload. Send a JPEG, PNG, WebP, GIF, TIFF or AVIF image.';
  if (status === 422) {
    if (err.code === 'too_many_pixels') return 'This image has too many pixels for the server' + (limits ? ' (at most ' + Math.round(limits.maxPixels / 1e6) + ' megapixels)' : '') + '. Make it smaller and try again.';
    return 'The server could not use this image: ' + said;
  }
  if (status === 429) {
    const wait = headers && headers.get('retry-after');
    return 'The server is busy (its queue is full). Try again' + (wait ? ' in ' + wait + ' s.' : ' in a moment.');
  }
  if (status === 503) return 'The server is busy or restarting: ' + (said || 'try again in a moment.');
  if (status === 400 || status === 404 || status === 409) return said || ('The server refused the request (' + status + ').');
  return 'The server failed (' + status + ')' + (said ? ': ' + said : '.');
}

async function api(path, init, retried) {
  const opts = Object.assign({}, init || {});
  const headers = new Headers(opts.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set('authorization', 'Bearer ' + token);
  opts.headers = headers;
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'network', 'Could not reach the server (' + e.message + '). Is ssl-infer still running?');
  }
  if (res.status === 401 && !retried) {
    if (await askToken(Boolean(token))) return api(path, init, true);
    throw new ApiError(401, 'unauthorized', 'This server needs its bearer token. Reload the page to enter it.');
  }
  const type = res.headers.get('content-type') || '';
  if (!res.ok) {
    let body = null;
    if (type.includes('json')) { try { body = await res.json(); } catch (e) { body = null; } }
    if (res.status === 401) throw new ApiError(401, 'unauthorized', 'The token was refused. Reload the page to enter it again.');
    throw new ApiError(res.status, (body && body.error && body.error.code) || 'http_' + res.status, readable(res.status, body, res.headers));
  }
  return type.includes('json') ? res.json() : res.blob();
}

function postImage(path, file) {
  const form = new FormData();
  form.append('image', file, file.name || 'image');
  return api(path, { method: 'POST', body: form });
}

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}
function clearError() { $('error').hidden = true; $('error').textContent = ''; }

// ---- The served model ----

const ARCH_NAMES = { vit: 'Vision Transformer', resnet: 'ResNet', wide_resnet: 'Wide ResNet' };
function fact(dl, name, value) {
  if (value === undefined || value === null || value === '') return;
  dl.appendChild(el('div', {}, [el('dt', { text: name }), el('dd', { text: String(value) })]));
}

async function loadModel() {
  const m = await api('/v1/model');
  state.model = m;
  const a = m.architecture || {};
  const family = ARCH_NAMES[a.family] || a.family || 'model';
  let line = family;
  if (a.family === 'vit') line += ' (' + (a.embedDim || '?') + ' wide, ' + (a.depth || '?') + ' blocks, ' + (a.numHeads || '?') + ' heads, patch ' + (a.patchSize || m.patchSize) + ')';
  if (a.family === 'resnet' && a.layers) line += ' (' + a.block + ' blocks ' + a.layers.join('-') + ')';
  if (a.family === 'wide_resnet') line += ' (WRN-' + a.depth + '-' + a.widenFactor + ')';
  $('model-line').textContent = line + '; ' + m.embeddingDim + '-d embeddings' + (m.attention ? ', attention maps' : '') + '.';
  const dl = $('model-facts');
  dl.textContent = '';
  fact(dl, 'input', m.preprocess.crop + ' x ' + m.preprocess.crop + ' px, ' + (m.preprocess.channels === 1 ? 'grey' : 'RGB'));
  fact(dl, 'patch size', a.patchSize || m.patchSize);
  fact(dl, 'embedding size', m.embeddingDim);
  const run = m.run || {};
  fact(dl, 'method', run.method ? run.method.toUpperCase() : undefined);
  fact(dl, 'dataset', run.dataset);
  fact(dl, 'epochs', run.epoch !== undefined ? run.epoch + (run.epochs ? ' of ' + run.epochs : '') : undefined);
  fact(dl, 'steps', run.step);
  fact(dl, 'saved', run.savedAt ? run.savedAt.slice(0, 10) : undefined);
  $('attention-hint').textContent = m.attention
    ? 'Top: the picture as the model sees it. Each head: its attention heat map (CLS token to every patch, last block; yellow = most) and the threshold mask over the image (the patches holding the top of its attention mass).'
    : 'This model has no attention output (not a ViT export), so only neighbours are shown.';
}

// ---- The index: paged grid, labels ----

function entryButton(e, extra) {
  const label = e.label ? ' (' + e.label + ')' : '';
  const pic = e.thumbnail ? el('img', { src: e.thumbnail, alt: '', width: 96, height: 96 }) : el('span', { class: 'noimg', text: 'no image' });
  const btn = el('button', { type: 'button', class: 'entry', 'aria-label': (extra ? extra.aria + ': ' : 'Look at ') + e.id + label }, [
    pic,
    el('span', { class: 'id', text: e.id }),
    extra ? extra.meta : (e.label ? el('span', { class: 'meta', text: e.label }) : null),
  ]);
  btn.addEventListener('click', () => openEntry(e.id));
  return btn;
}

async function loadIndex(offset) {
  const page = await api('/v1/index?offset=' + offset + '&limit=' + PAGE_SIZE);
  state.offset = page.offset;
  state.size = page.size;
  state.labels = page.labels;
  const labelled = page.labels.reduce((s, l) => s + l.count, 0);
  $('index-line').textContent = page.size === 0
    ? 'The index is empty. Add images with POST /v1/index (ids and optional labels) and they appear here.'
    : page.size + ' image' + (page.size === 1 ? '' : 's') + ', ' + page.labels.length + ' label' + (page.labels.length === 1 ? '' : 's') + (labelled < page.size ? ' (' + (page.size - labelled) + ' unlabelled)' : '') + '. Pick one to look at it.';
  const chips = $('index-labels');
  chips.textContent = '';
  for (const l of page.labels) chips.appendChild(el('li', { text: l.label + ': ' + l.count }));
  const grid = $('grid');
  grid.textContent = '';
  for (const e of page.entries) grid.appendChild(el('li', {}, [entryButton(e)]));
  const pages = Math.max(1, Math.ceil(page.size / PAGE_SIZE));
  const current = Math.floor(page.offset / PAGE_SIZE) + 1;
  $('pager').hidden = pages <= 1;
  $('page-line').textContent = 'Page ' + current + ' of ' + pages;
  $('prev').disabled = current <= 1;
  $('next').disabled = current >= pages;
}

// ---- The feature map (shown only when the server has GET /v1/index/map) ----

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const cropCache = new Map();
function cropUrl(id) {
  if (!cropCache.has(id)) cropCache.set(id, api('/v1/index/image?id=' + encodeURIComponent(id)).then((b) => URL.createObjectURL(b)));
  return cropCache.get(id);
}

let lastMap = null;
async function loadMap() {
  let map;
  try {
    map = await api('/v1/index/map');
  } catch (e) {
    if (e.status === 404 && e.code === 'not_found') { $('map-panel').hidden = true; return; }
    throw e;
  }
  lastMap = map;
  drawMap(map);
}

function drawMap(map) {
  const panel = $('map-panel');
  const svg = $('map');
  svg.textContent = '';
  $('map-legend').textContent = '';
  if (!map.entries || map.entries.length < 2) {
    panel.hidden = state.size < 2;
    $('map-line').textContent = 'The map needs at least two indexed images.';
    return;
  }
  panel.hidden = false;
  $('map-line').textContent = 'Each dot is an indexed image, placed by ' + (map.method || 'a 2-D projection').toUpperCase() + ' of its embedding (' + (map.metric || 'cosine') + '): similar images sit close. Hover or focus a dot to see the image; click or press Enter to look at it.';
  const labels = [...new Set(map.entries.map((e) => e.label || ''))].sort();
  const named = labels.filter((l) => l !== '');
  const colour = (l) => (l ? PALETTE[named.indexOf(l) % PALETTE.length] : '#9a9aa5');
  const tip = $('map-tip');
  const wrap = $('map-wrap');
  // Drawn in CSS pixels of the panel's width, so dots keep their size (and stay tappable) on a phone.
  const W = Math.max(300, Math.round(wrap.clientWidth));
  const H = Math.round(W < 600 ? W * 0.9 : W * 0.5);
  const pad = 12;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const show = async (e, dot) => {
    dot.classList.add('hot');
    const box = dot.getBoundingClientRect();
    const outer = wrap.getBoundingClientRect();
    const left = Math.min(outer.width - 124, Math.max(0, box.left - outer.left + 12));
    const top = box.top - outer.top > 150 ? box.top - outer.top - 150 : box.top - outer.top + 16;
    tip.style.left = left + 'px';
    tip.style.top = top + 'px';
    $('map-tip-text').textContent = e.id + (e.label ? ' (' + e.label + ')' : '');
    $('map-tip-img').removeAttribute('src');
    tip.hidden = false;
    try { $('map-tip-img').src = await cropUrl(e.id); } catch (err) { /* the entry has no kept image */ }
  };
  const hide = (dot) => { dot.classList.remove('hot'); tip.hidden = true; };
  for (const e of map.entries) {
    const dot = svgEl('circle', {
      cx: (pad + e.x * (W - 2 * pad)).toFixed(1), cy: (pad + (1 - e.y) * (H - 2 * pad)).toFixed(1), r: 5,
      fill: colour(e.label), tabindex: 0, role: 'button', 'aria-label': 'Look at ' + e.id + (e.label ? ' (' + e.label + ')' : ''),
    });
    dot.addEventListener('mouseenter', () => show(e, dot));
    dot.addEventListener('focus', () => show(e, dot));
    dot.addEventListener('mouseleave', () => hide(dot));
    dot.addEventListener('blur', () => hide(dot));
    dot.addEventListener('click', () => openEntry(e.id));
    dot.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); openEntry(e.id); } });
    svg.appendChild(dot);
  }
  for (const l of labels) $('map-legend').appendChild(el('li', {}, [el('i', { style: 'background:' + colour(l) }), document.createTextNode(l || 'unlabelled')]));
}

// ---- One query: attention, neighbours, vote ----

async function openEntry(id) {
  try {
    const blob = await api('/v1/index/image?id=' + encodeURIComponent(id));
    await run(new File([blob], id, { type: 'image/png' }), 'indexed image ' + id);
  } catch (e) {
    showError(e.message);
  }
}

function renderAttention(att, name) {
  const query = $('query');
  query.textContent = '';
  query.appendChild(el('figure', {}, [
    el('img', { src: att.image, alt: 'Model input: ' + name + ', ' + att.gridW * att.patchSize + ' by ' + att.gridH * att.patchSize + ' pixels' }),
    el('figcaption', { text: 'model input (' + att.gridH + ' x ' + att.gridW + ' patches of ' + att.patchSize + ' px)' }),
  ]));
  const heads = $('heads');
  heads.textContent = '';
  const pct = Math.round(att.threshold * 100);
  for (const t of att.tiles) {
    const who = t.tag === 'mean' ? 'mean of the heads' : 'head ' + t.tag.slice(4);
    heads.appendChild(el('figure', { class: 'tile head' }, [
      el('div', { class: 'pair' }, [
        el('img', { src: t.heat, alt: 'Attention heat map of ' + who }),
        el('img', { src: t.mask, alt: 'Threshold mask of ' + who + ': patches holding ' + pct + '% of its attention, over the image' }),
      ]),
      el('figcaption', { text: who + ': heat map, ' + pct + '% mask' }),
    ]));
  }
}

function renderNeighbors(found) {
  const list = $('neighbors');
  list.textContent = '';
  const nb = found.neighbors;
  const dups = nb.filter((n) => n.duplicate).length;
  $('neighbors-hint').textContent = nb.length === 0
    ? 'The index is empty: there is nothing to compare with.'
    : 'Cosine similarity (cos) of the embeddings, best first. "Duplicate" marks similarity at or above ' + state.model.search.duplicateThreshold + (dups ? ' (' + dups + ' here).' : ' (none here).');
  for (const n of nb) {
    const meta = el('span', {}, [
      n.label ? el('span', { class: 'meta', text: n.label }) : null,
      el('span', { class: 'meta', text: 'cos ' + n.similarity.toFixed(3) }),
      n.duplicate ? el('span', { class: 'badge', text: 'duplicate' }) : null,
    ]);
    const aria = 'Neighbour, similarity ' + n.similarity.toFixed(3) + (n.duplicate ? ', near-duplicate' : '');
    list.appendChild(el('li', { class: 'neighbor' }, [entryButton({ id: n.id, label: n.label, thumbnail: n.thumbnail }, { aria: aria, meta: meta })]));
  }
}

function renderVote(cls) {
  const box = $('vote');
  if (!cls) { box.hidden = true; return; }
  const r = cls.results[0];
  const total = r.scores.reduce((s, x) => s + x.score, 0);
  $('vote-line').textContent = 'Predicted label: ' + r.label + ' (weighted vote of the ' + r.neighbors.length + ' nearest labelled images, DINO\\'s sum of exp(similarity / ' + state.model.search.knnT + ')).';
  const rows = $('vote-rows');
  rows.textContent = '';
  for (const s of r.scores.slice(0, 10)) {
    const share = total > 0 ? s.score / total : 0;
    rows.appendChild(el('tr', {}, [
      el('th', { scope: 'row', text: s.label }),
      el('td', {}, [el('meter', { min: 0, max: 1, value: share.toFixed(4), 'aria-label': s.label + ' share' }), el('span', { class: 'sr-only', text: Math.round(share * 100) + '%' })]),
      el('td', { class: 'num', text: Math.round(share * 100) + '%' }),
    ]));
  }
  box.hidden = false;
}

async function run(file, name) {
  clearError();
  const status = $('status');
  status.textContent = 'Looking at ' + name + '...';
  const k = Math.min(8, Math.max(1, state.size));
  try {
    const jobs = [
      state.model.attention ? postImage('/v1/attention?images=1', file) : Promise.resolve(null),
      postImage('/v1/search?thumbnails=1&k=' + k, file),
      state.labels.length > 0 ? postImage('/v1/classify?k=' + Math.min(state.model.search.knnK, state.size), file) : Promise.resolve(null),
    ];
    const [att, found, cls] = await Promise.all(jobs);
    if (att) renderAttention(att, name);
    $('heads').hidden = !att;
    $('query').hidden = !att;
    renderNeighbors(found.results[0]);
    renderVote(cls);
    $('results').hidden = false;
    status.textContent = 'Done: ' + name + (att ? ', ' + att.heads + ' attention heads' : '') + ', ' + found.results[0].neighbors.length + ' neighbours' + (cls ? ', vote: ' + cls.results[0].label : '') + '.';
  } catch (e) {
    status.textContent = 'Could not look at ' + name + '.';
    showError(e.message);
  }
}

// ---- Wiring ----

const input = $('file');
const drop = $('drop');
$('choose').addEventListener('click', () => input.click());
input.addEventListener('change', () => { if (input.files[0]) run(input.files[0], input.files[0].name || 'your image'); input.value = ''; });
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer.files[0];
  if (f) run(f, f.name || 'the dropped image');
});
$('prev').addEventListener('click', () => loadIndex(Math.max(0, state.offset - PAGE_SIZE)).catch((e) => showError(e.message)));
let resizing = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => { if (lastMap) drawMap(lastMap); }, 150);
});
$('next').addEventListener('click', () => loadIndex(state.offset + PAGE_SIZE).catch((e) => showError(e.message)));

(async () => {
  try {
    await loadModel();
    await loadIndex(0);
    await loadMap();
  } catch (e) {
    showError(e.message);
  }
  document.body.dataset.ready = 'true';
})();
</script>
</body>
</html>
`;
