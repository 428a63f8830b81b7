/** Inline SVG line charts for report.html: no scripts, no external assets. */

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  color?: string;
  /** Draw markers at each point (sparse series such as evaluations). */
  markers?: boolean;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Horizontal reference lines, e.g. ln(out_dim) for the collapse level. */
  refLines?: { y: number; label: string }[];
  yMin?: number;
  yMax?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Round-number ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  const ticks: number[] = [];
  // Index-based so float error cannot drop the first tick (0.0004 / 0.0002 = 2.0000000000000004).
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** A line chart of one or more series; returns an `<svg>` element as a string. */
export function lineChart(series: readonly Series[], options: ChartOptions): string {
  const width = options.width ?? 460;
  const height = options.height ?? 260;
  const m = { left: 62, right: 16, top: 30, bottom: 42 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const title = `<text x="${width / 2}" y="18" text-anchor="middle" class="t">${escapeXml(options.title)}</text>`;
  if (all.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="muted">no data yet</text></svg>`;
  }
  let xMin = Math.min(...all.map((p) => p[0]));
  let xMax = Math.max(...all.map((p) => p[0]));
  const refYs = (options.refLines ?? []).map((r) => r.y);
  let yMin = options.yMin ?? Math.min(...all.map((p) => p[1]), ...refYs);
  let yMax = options.yMax ?? Math.max(...all.map((p) => p[1]), ...refYs);
  if (xMax === xMin) {
    xMin -= 0.5;
    xMax += 0.5;
  }
  if (yMax === yMin) {
    const pad = Math.abs(yMin) * 0.05 || 0.5;
    yMin -= pad;
    yMax += pad;
  } else {
    const pad = (yMax - yMin) * 0.05;
    if (options.yMin === undefined) yMin -= pad;
    if (options.yMax === undefined) yMax += pad;
  }
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => m.top + ph - ((y - yMin) / (yMax - yMin)) * ph;
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [title];
  for (const t of niceTicks(yMin, yMax)) {
    if (t < yMin || t > yMax) continue;
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${f(sy(t))}" y2="${f(sy(t))}" class="grid"/>`);
    parts.push(`<text x="${m.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" class="tick">${formatTick(t)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax)) {
    if (t < xMin || t > xMax) continue;
    parts.push(`<text x="${f(sx(t))}" y="${m.top + ph + 16}" text-anchor="middle" class="tick">${formatTick(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" class="frame"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle" class="label">${escapeXml(options.xLabel)}</text>`);
  if (options.yLabel) {
    parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(options.yLabel)}</text>`);
  }
  for (const r of options.refLines ?? []) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${f(sy(r.y))}" y2="${f(sy(r.y))}" class="ref"/>`);
    parts.push(`<text x="${m.left + pw - 4}" y="${f(sy(r.y) - 4)}" text-anchor="end" class="reflabel">${escapeXml(r.label)}</text>`);
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${f(sx(x))} ${f(sy(y))}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    if (s.markers || pts.length === 1) {
      for (const [x, y] of pts) parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3" fill="${color}"/>`);
    }
  });
  if (series.length > 1) {
    series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const y = m.top + 12 + i * 14;
      parts.push(`<line x1="${m.left + 8}" x2="${m.left + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
      parts.push(`<text x="${m.left + 28}" y="${y}" class="legend">${escapeXml(s.name)}</text>`);
    });
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(options.title)}">${parts.join('')}</svg>`;
}
