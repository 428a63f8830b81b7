import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { featureMap, type Matrix } from '@ssl/eval';
import { escapeXml } from './svg.js';

/** What a run leaves in `feature-map.json`: a 2-D map of evaluation features, one point per image. */
export interface FeatureMapFile {
  method: 'umap';
  metric: 'cosine';
  seed: number;
  /** Class names, index = label (null when the dataset has none). */
  classes: string[] | null;
  points: { x: number; y: number; label: number }[];
}

const FILE = 'feature-map.json';

/** Map `features` (rows = images) to 2-D with the run's seed and write `dir/feature-map.json`. */
export function writeFeatureMapFile(dir: string, features: Matrix, labels: Int32Array, classes: readonly string[] | undefined, seed: number): string {
  if (labels.length !== features.rows) throw new Error(`feature map: ${features.rows} feature rows for ${labels.length} labels`);
  const { x, y } = featureMap(features, { seed });
  const file: FeatureMapFile = {
    method: 'umap',
    metric: 'cosine',
    seed,
    classes: classes ? [...classes] : null,
    points: Array.from(labels, (label, i) => ({ x: Number((x[i] as number).toFixed(5)), y: Number((y[i] as number).toFixed(5)), label })),
  };
  const path = join(dir, FILE);
  writeFileSync(`${path}.tmp`, JSON.stringify(file));
  renameSync(`${path}.tmp`, path);
  return path;
}

export function readFeatureMapFile(dir: string): FeatureMapFile | null {
  const path = join(dir, FILE);
  if (!existsSync(path)) return null;
  const f = JSON.parse(readFileSync(path, 'utf8')) as FeatureMapFile;
  return Array.isArray(f.points) ? f : null;
}

// Tableau 10, then 10 more distinct hues: classes beyond 20 reuse colours.
const CLASS_COLOURS = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#393b79', '#ad494a', '#637939', '#8c6d31', '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363',
];

/** The map as an inline SVG scatter, one colour per class with a legend; hovering a point names its class. */
export function featureMapSvg(map: FeatureMapFile, size = 520): string {
  const pad = 12;
  const legendW = 170;
  const name = (l: number): string => map.classes?.[l] ?? `class ${l}`;
  const dots = map.points
    .map((p) => {
      const cx = (pad + p.x * (size - 2 * pad)).toFixed(1);
      const cy = (pad + (1 - p.y) * (size - 2 * pad)).toFixed(1);
      return `<circle cx="${cx}" cy="${cy}" r="3" fill="${CLASS_COLOURS[p.label % CLASS_COLOURS.length]}" fill-opacity="0.75"><title>${escapeXml(name(p.label))}</title></circle>`;
    })
    .join('');
  const labels = [...new Set(map.points.map((p) => p.label))].sort((a, b) => a - b);
  const legend = labels
    .map(
      (l, i) =>
        `<circle cx="${size + 14}" cy="${pad + 8 + i * 18}" r="5" fill="${CLASS_COLOURS[l % CLASS_COLOURS.length]}"/><text class="legend" x="${size + 26}" y="${pad + 12 + i * 18}">${escapeXml(name(l))} (${map.points.filter((p) => p.label === l).length})</text>`,
    )
    .join('');
  const height = Math.max(size, pad * 2 + labels.length * 18);
  return `<svg class="feature-map" xmlns="http://www.w3.org/2000/svg" width="${size + legendW}" height="${height}" viewBox="0 0 ${size + legendW} ${height}"><rect class="frame" x="0.5" y="0.5" width="${size - 1}" height="${size - 1}"/>${dots}${legend}</svg>`;
}
