import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { featureMapSvg, readFeatureMapFile, type FeatureMapFile } from './feature-map.js';
import { escapeXml, lineChart } from './svg.js';
import type { Series } from './svg.js';

/** One training step as the report reads it from log.jsonl (official names or ours). */
export interface StepPoint {
  epoch: number;
  step: number;
  loss: number;
  lr?: number;
  wd?: number;
  teacherTemp?: number;
  momentum?: number;
  imagesPerSec?: number;
}

export interface EvalPoint {
  epoch: number;
  step: number;
  top1: number;
  top5: number;
  k: number;
  /** Raw-pixel k-NN on the same images, when computed. */
  baselineTop1?: number;
  baselineTop5?: number;
  trainImages?: number;
  testImages?: number;
}

export interface ReportImage {
  caption: string;
  /** `data:image/png;base64,...` */
  src: string;
}

export interface ReportData {
  title: string;
  method: string;
  config: unknown;
  steps: StepPoint[];
  evals: EvalPoint[];
  images: ReportImage[];
  /** Free key/value lines: backend, threads, wall time, images, stop reason... */
  facts: [string, string][];
  /** ln(out_dim): the loss of a uniform (collapsed) output, drawn as a reference. */
  collapseLevel?: number;
  /** Why the run has no k-NN evaluation (no labels); the k-NN chart and section give way to it. */
  noKnn?: string;
  /** Files the run could not read: name, error, where met. */
  skipped?: SkippedFile[];
  /** Nearest-neighbour strips (unlabelled runs), as images. */
  neighbours?: ReportImage[];
  /** 2-D UMAP of the evaluation features (feature-map.json), drawn coloured by class. */
  featureMap?: FeatureMapFile;
}

export interface SkippedFile {
  name: string;
  message: string;
  where: string;
}

export interface ParsedLog {
  steps: StepPoint[];
  evals: EvalPoint[];
  noKnn?: string;
  skipped: SkippedFile[];
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const pick = (r: Record<string, unknown>, ...keys: string[]): number | undefined => {
  for (const k of keys) {
    const v = num(r[k]);
    if (v !== undefined) return v;
  }
  return undefined;
};

/** Parse log.jsonl lines: step records (loss) and evaluation records (top1). Bad lines are skipped. */
export function parseLog(text: string): ParsedLog {
  const steps: StepPoint[] = [];
  const evals: EvalPoint[] = [];
  const skipped = new Map<string, SkippedFile>();
  let noKnn: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // a line cut by kill -9 must not break the report
    }
    // Per-epoch summaries repeat the steps' numbers; the curves use the steps.
    if (r.type === 'epoch') continue;
    // A resumed run meets its broken files again: one row per file.
    if (r.type === 'skip' && typeof r.name === 'string') {
      if (!skipped.has(r.name)) skipped.set(r.name, { name: r.name, message: String(r.message ?? ''), where: String(r.where ?? '') });
      continue;
    }
    if (r.type === 'no-knn') {
      noKnn = String(r.reason ?? 'no labels');
      continue;
    }
    const epoch = pick(r, 'epoch') ?? 0;
    const step = pick(r, 'step', 'iteration', 'it') ?? 0;
    const top1 = pick(r, 'knn_top1', 'top1');
    if (r.type === 'eval' || top1 !== undefined) {
      if (top1 === undefined) continue;
      const e: EvalPoint = { epoch, step, top1, top5: pick(r, 'knn_top5', 'top5') ?? NaN, k: pick(r, 'k') ?? 20 };
      const bt1 = pick(r, 'baseline_top1', 'pixels_top1');
      const bt5 = pick(r, 'baseline_top5', 'pixels_top5');
      if (bt1 !== undefined) e.baselineTop1 = bt1;
      if (bt5 !== undefined) e.baselineTop5 = bt5;
      const tr = pick(r, 'train_images');
      const te = pick(r, 'test_images');
      if (tr !== undefined) e.trainImages = tr;
      if (te !== undefined) e.testImages = te;
      evals.push(e);
      continue;
    }
    const loss = pick(r, 'loss', 'train_loss');
    if (loss === undefined && r.type !== 'step') continue;
    const s: StepPoint = { epoch, step, loss: loss ?? NaN };
    const opt: [keyof StepPoint, number | undefined][] = [
      ['lr', pick(r, 'lr', 'train_lr')],
      ['wd', pick(r, 'wd', 'weight_decay', 'train_wd')],
      ['teacherTemp', pick(r, 'teacher_temp', 'teacherTemp')],
      ['momentum', pick(r, 'momentum', 'teacher_momentum', 'momentum_teacher')],
      ['imagesPerSec', pick(r, 'images_per_sec', 'imagesPerSec', 'img_per_sec', 'images_per_s')],
    ];
    for (const [k, v] of opt) if (v !== undefined) (s as unknown as Record<string, number>)[k] = v;
    steps.push(s);
  }
  // Steps done after the last checkpoint of a killed run are logged again when it resumes: keep the later record.
  const last = new Map<string, number>();
  steps.forEach((s, i) => last.set(`${s.epoch}/${s.step}`, i));
  return { steps: steps.filter((s, i) => last.get(`${s.epoch}/${s.step}`) === i), evals, skipped: [...skipped.values()], ...(noKnn ? { noKnn } : {}) };
}

const series = (steps: StepPoint[], key: keyof StepPoint, name: string, extra: Partial<Series> = {}): Series => ({
  name,
  points: steps.filter((s) => num(s[key]) !== undefined).map((s) => [s.step, s[key] as number] as const),
  ...extra,
});

/** Moving average so a noisy per-step loss still shows its trend. */
function smooth(points: readonly (readonly [number, number])[], window: number): [number, number][] {
  const out: [number, number][] = [];
  let sum = 0;
  const q: number[] = [];
  for (const [x, y] of points) {
    q.push(y);
    sum += y;
    if (q.length > window) sum -= q.shift() as number;
    out.push([x, sum / q.length]);
  }
  return out;
}

const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}%`);

export function renderReport(data: ReportData): string {
  const { steps, evals } = data;
  const charts: string[] = [];
  const loss = series(steps, 'loss', 'loss per step', { color: '#9ecae1' });
  const window = Math.max(1, Math.round(loss.points.length / 40));
  charts.push(
    lineChart([loss, { name: `moving average (${window} steps)`, points: smooth(loss.points, window), color: '#1f77b4' }], {
      title: 'Training loss',
      xLabel: 'step',
      refLines: data.collapseLevel !== undefined ? [{ y: data.collapseLevel, label: `ln(out_dim) = ${data.collapseLevel.toFixed(2)}: uniform output` }] : [],
    }),
  );
  charts.push(lineChart([series(steps, 'lr', 'lr')], { title: 'Learning rate', xLabel: 'step' }));
  charts.push(lineChart([series(steps, 'wd', 'weight decay')], { title: 'Weight decay', xLabel: 'step' }));
  if (steps.some((s) => s.teacherTemp !== undefined)) {
    charts.push(lineChart([series(steps, 'teacherTemp', 'teacher temperature')], { title: 'Teacher temperature (per epoch)', xLabel: 'step' }));
  }
  if (steps.some((s) => s.momentum !== undefined)) {
    charts.push(lineChart([series(steps, 'momentum', 'teacher momentum')], { title: 'Teacher EMA momentum', xLabel: 'step' }));
  }
  charts.push(lineChart([series(steps, 'imagesPerSec', 'images/s')], { title: 'Throughput (images/s)', xLabel: 'step', yMin: 0 }));
  const evalSeries: Series[] = [
    { name: 'k-NN top-1', points: evals.map((e) => [e.epoch, e.top1] as const), markers: true, color: '#d62728' },
    { name: 'k-NN top-5', points: evals.filter((e) => Number.isFinite(e.top5)).map((e) => [e.epoch, e.top5] as const), markers: true, color: '#ff7f0e' },
  ];
  const base = evals.find((e) => e.baselineTop1 !== undefined);
  if (!data.noKnn) {
    charts.push(
      lineChart(evalSeries, {
        title: 'k-NN accuracy on the test split (%)',
        xLabel: 'epoch',
        refLines: base?.baselineTop1 !== undefined ? [{ y: base.baselineTop1, label: `raw pixels top-1 ${base.baselineTop1.toFixed(1)}%` }] : [],
      }),
    );
  }

  const last = evals[evals.length - 1];
  const headline = last
    ? `<p class="headline">k-NN (k=${last.k}) top-1 <b>${pct(last.top1)}</b>, top-5 <b>${pct(last.top5)}</b>` +
      (last.baselineTop1 !== undefined ? ` &middot; raw pixels top-1 ${pct(last.baselineTop1)}, top-5 ${pct(last.baselineTop5)}` : '') +
      `</p>`
    : data.noKnn
      ? '<p class="headline muted">no k-NN evaluation: this run has no labelled images</p>'
      : '<p class="headline muted">no evaluation yet</p>';
  const evalRows = evals
    .map(
      (e) =>
        `<tr><td>${e.epoch}</td><td>${e.step}</td><td>${pct(e.top1)}</td><td>${pct(e.top5)}</td><td>${pct(e.baselineTop1)}</td><td>${pct(e.baselineTop5)}</td><td>${e.trainImages ?? '–'}</td><td>${e.testImages ?? '–'}</td></tr>`,
    )
    .join('');
  const facts = data.facts.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join('');
  const images = data.images.length
    ? `<div class="imgs">${data.images
        .map((im) => `<figure><img src="${im.src}" alt="${escapeXml(im.caption)}"/><figcaption>${escapeXml(im.caption)}</figcaption></figure>`)
        .join('')}</div>`
    : '<p class="muted">no attention maps (ViT runs only, written at the end of training)</p>';
  const figures = (list: ReportImage[]) =>
    `<div class="imgs">${list.map((im) => `<figure><img src="${im.src}" alt="${escapeXml(im.caption)}"/><figcaption>${escapeXml(im.caption)}</figcaption></figure>`).join('')}</div>`;
  const neighbours = data.neighbours?.length
    ? `<h2>Nearest neighbours (teacher features, cosine similarity; no labels needed)</h2>\n<p class="muted">Each row: a training image, then its nearest other training images, closest first.</p>\n${figures(data.neighbours)}`
    : '';
  const fm = data.featureMap;
  const featureMapSection = fm
    ? `<h2>Feature space map</h2>\n<p class="muted">UMAP (cosine, seed ${fm.seed}) of the final features of ${fm.points.length} evaluation images, coloured by class: classes that the features tell apart form their own regions, similar classes land near one another. Hover a point for its class.</p>\n${featureMapSvg(fm)}`
    : '';
  const skipped = data.skipped?.length
    ? `<h2>Skipped files (${data.skipped.length})</h2>\n<table><tr><th>file</th><th>error</th><th>met in</th></tr>${data.skipped
        .map((f) => `<tr><td>${escapeXml(f.name)}</td><td>${escapeXml(f.message)}</td><td>${escapeXml(f.where)}</td></tr>`)
        .join('')}</table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(data.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.headline{font-size:16px}.muted{color:#888}
.charts{display:flex;flex-wrap:wrap;gap:12px}
svg{background:#fcfcfc;border:1px solid #e4e4e4;border-radius:4px}
svg .t{font-size:13px;font-weight:600}svg .tick{font-size:10px;fill:#555}svg .label{font-size:11px;fill:#333}
svg .legend{font-size:10px;fill:#333}svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#bbb}
svg .ref{stroke:#888;stroke-dasharray:4 3}svg .reflabel{font-size:10px;fill:#666}svg .muted{fill:#999}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-variant-numeric:tabular-nums}
.imgs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figure img{image-rendering:pixelated;height:160px;border:1px solid #ddd}
figcaption{font-size:11px;color:#555;max-width:480px}
pre{background:#f6f6f6;padding:10px;border-radius:4px;overflow:auto;max-height:480px;font-size:12px}
</style></head><body>
<h1>${escapeXml(data.title)}</h1>
${headline}
<table>${facts}</table>
<h2>Curves</h2>
<div class="charts">${charts.join('\n')}</div>
${
  data.noKnn
    ? `<h2>No k-NN evaluation</h2>\n<p class="muted">${escapeXml(data.noKnn)}</p>`
    : `<h2>k-NN evaluations</h2>\n${evals.length ? `<table><tr><th>epoch</th><th>step</th><th>top-1</th><th>top-5</th><th>pixels top-1</th><th>pixels top-5</th><th>train imgs</th><th>test imgs</th></tr>${evalRows}</table>` : '<p class="muted">none yet</p>'}`
}
<h2>Attention maps (last block, CLS to patches)</h2>
${images}
${featureMapSection}
${neighbours}
${skipped}
<h2>Resolved config</h2>
<pre>${escapeXml(stringifyYaml(data.config))}</pre>
</body></html>
`;
}

/** Display order of one image's attention files (official visualize_attention names, as @ssl/eval writes them). */
function attentionRank(name: string): number {
  if (/-img\.png$/.test(name)) return 0;
  if (/attn-mean/.test(name)) return 1;
  if (/attn-head/.test(name)) return 2;
  if (/mask.*mean/.test(name)) return 3;
  return 9;
}

/**
 * Attention PNGs a run left in `dir/attention`, as data URIs: per image its input, the mean and
 * per-head attention and the mean threshold mask (per-head masks stay on disk).
 */
export function readReportImages(dir: string): ReportImage[] {
  const folder = join(dir, 'attention');
  if (!existsSync(folder)) return [];
  const files = readdirSync(folder)
    .filter((f) => f.toLowerCase().endsWith('.png') && attentionRank(f) < 9)
    .sort((a, b) => {
      const ga = a.split('-')[0] as string;
      const gb = b.split('-')[0] as string;
      return ga === gb ? attentionRank(a) - attentionRank(b) || a.localeCompare(b) : ga.localeCompare(gb, 'en', { numeric: true });
    });
  return files.map((f) => ({
    caption: f.replace(/\.png$/i, '').replace(/[_-]+/g, ' '),
    src: `data:image/png;base64,${readFileSync(join(folder, f)).toString('base64')}`,
  }));
}

/** Nearest-neighbour strips a run left in `dir/neighbours`, as data URIs. */
export function readNeighbourImages(dir: string): ReportImage[] {
  const folder = join(dir, 'neighbours');
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => f.toLowerCase().endsWith('.png'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((f) => ({ caption: f.replace(/\.png$/i, '').replace(/[_-]+/g, ' '), src: `data:image/png;base64,${readFileSync(join(folder, f)).toString('base64')}` }));
}

/** Build report.html from what a run left in its output directory (config.json, log.jsonl, attention/). */
export function writeReport(dir: string, extra: { facts?: [string, string][]; title?: string } = {}): string {
  const configPath = join(dir, 'config.json');
  const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>) : {};
  const logPath = join(dir, 'log.jsonl');
  const { steps, evals, noKnn, skipped } = parseLog(existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const neighbours = readNeighbourImages(dir);
  const featureMap = readFeatureMapFile(dir);
  const method = typeof config.method === 'string' ? config.method : 'run';
  const outDim = num((config.model as Record<string, unknown> | undefined)?.out_dim);
  const data: ReportData = {
    title: extra.title ?? `ssl-train ${method}${typeof config.preset === 'string' ? ` (${config.preset})` : ''}`,
    method,
    config,
    steps,
    evals,
    images: readReportImages(dir),
    facts: extra.facts ?? [],
    skipped,
    ...(noKnn ? { noKnn } : {}),
    ...(neighbours.length ? { neighbours } : {}),
    ...(featureMap ? { featureMap } : {}),
  };
  if (method === 'dino' && outDim !== undefined) data.collapseLevel = Math.log(outDim);
  const path = join(dir, 'report.html');
  writeFileSync(path, renderReport(data));
  return path;
}
