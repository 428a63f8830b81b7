/** The demo page: drop an image, see the attention of every head and the nearest indexed images. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ssl-infer</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 2rem; color: #222; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 2rem; text-align: center; cursor: pointer; }
  #drop.over { background: #eef; }
  #heads { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 1rem; }
  #heads figure { margin: 0; text-align: center; }
  canvas { image-rendering: pixelated; width: 112px; height: 112px; border: 1px solid #ccc; }
  #status { margin-top: 1rem; color: #555; }
  table { border-collapse: collapse; margin-top: 1rem; }
  td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
</style>
</head>
<body>
<h1>ssl-infer</h1>
<label id="drop">Drop an image here, or click to choose one
  <input id="file" type="file" accept="image/*" hidden>
</label>
<div id="status">No image yet.</div>
<div id="heads"></div>
<table id="neighbors"><thead><tr><th>id</th><th>label</th><th>similarity</th><th>duplicate</th></tr></thead><tbody></tbody></table>
<script>
const drop = document.getElementById('drop');
const input = document.getElementById('file');
const status = document.getElementById('status');
const headsEl = document.getElementById('heads');
const tbody = document.querySelector('#neighbors tbody');

function viridisish(t) {
  // A compact blue-green-yellow ramp for display.
  const r = Math.round(255 * Math.min(1, Math.max(0, 1.6 * t - 0.6)));
  const g = Math.round(255 * Math.min(1, 0.1 + 0.9 * t));
  const b = Math.round(255 * Math.max(0, 0.55 - 0.55 * t));
  return [r, g, b];
}

function drawMap(values, gridH, gridW) {
  const c = document.createElement('canvas');
  c.width = gridW; c.height = gridH;
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(gridW, gridH);
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  values.forEach((v, i) => {
    const [r, g, b] = viridisish(hi > lo ? (v - lo) / (hi - lo) : 0);
    img.data.set([r, g, b, 255], i * 4);
  });
  ctx.putImageData(img, 0, 0);
  return c;
}

async function post(path, file) {
  const form = new FormData();
  form.append('image', file, file.name || 'image');
  const res = await fetch(path, { method: 'POST', body: form });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
  return body;
}

async function handle(file) {
  status.textContent = 'Running ' + (file.name || 'image') + '...';
  headsEl.innerHTML = '';
  tbody.innerHTML = '';
  try {
    const [att, found] = await Promise.all([post('/v1/attention?format=json', file), post('/v1/search?k=5', file)]);
    att.maps.forEach((m, h) => {
      const fig = document.createElement('figure');
      fig.className = 'head';
      fig.appendChild(drawMap(m, att.gridH, att.gridW));
      const cap = document.createElement('figcaption');
      cap.textContent = 'head ' + h;
      fig.appendChild(cap);
      headsEl.appendChild(fig);
    });
    for (const n of found.results[0].neighbors) {
      const tr = document.createElement('tr');
      tr.className = 'neighbor';
      for (const v of [n.id, n.label ?? '', n.similarity.toFixed(4), n.duplicate ? 'yes' : '']) {
        const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    status.textContent = 'Done: ' + att.heads + ' heads, ' + found.results[0].neighbors.length + ' neighbours.';
  } catch (err) {
    status.textContent = 'Error: ' + err.message;
  }
}

input.addEventListener('change', () => input.files[0] && handle(input.files[0]));
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault(); drop.classList.remove('over');
  if (e.dataTransfer.files[0]) handle(e.dataTransfer.files[0]);
});
</script>
</body>
</html>
`;
