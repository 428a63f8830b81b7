import { Rng } from '@ssl/tensor';
import { UMAP } from 'umap-js';
import { toMatrix, type FeatureInput } from './matrix.js';

export interface FeatureMapOptions {
  /** Seed of UMAP's random initialisation and sampling: the same features and seed give the same map. */
  seed?: number;
  /** Neighbours of UMAP's k-NN graph (umap-learn default 15); capped at rows - 1. */
  nNeighbors?: number;
  /** UMAP's minimum distance between embedded points (default 0.1). */
  minDist?: number;
  /** Optimisation epochs (default: umap-js chooses, 500 for small sets, 200 for large). */
  nEpochs?: number;
}

/** A 2-D map of feature rows, scaled into [0, 1] x [0, 1] (row i of the input -> point i). */
export interface FeatureMap {
  x: Float32Array;
  y: Float32Array;
}

/**
 * The DINO announcement's "feature space" picture: a 2-D UMAP (umap-js) of feature rows under
 * cosine distance (the metric of the k-NN evaluation), deterministic for a seed because umap-js
 * draws every random number from the generator it is given. Coordinates are rescaled to [0, 1]
 * so a plot needs no axes. Fewer than 3 rows need no optimisation and are laid on a line.
 */
export function featureMap(features: FeatureInput, options: FeatureMapOptions = {}): FeatureMap {
  const m = toMatrix(features, 'feature map features');
  const { rows, cols } = m;
  const x = new Float32Array(rows);
  const y = new Float32Array(rows);
  if (rows < 3) {
    for (let i = 0; i < rows; i++) x[i] = rows === 1 ? 0.5 : i;
    y.fill(0.5);
    return { x, y };
  }
  const vectors: number[][] = [];
  for (let i = 0; i < rows; i++) vectors.push(Array.from(m.data.subarray(i * cols, (i + 1) * cols)));
  const rng = new Rng(options.seed ?? 0, 'feature-map');
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.max(2, Math.min(options.nNeighbors ?? 15, rows - 1)),
    minDist: options.minDist ?? 0.1,
    ...(options.nEpochs !== undefined ? { nEpochs: options.nEpochs } : {}),
    distanceFn: cosineDistance,
    random: () => rng.random(),
  });
  const emb = umap.fit(vectors);
  const scale = (get: (p: number[]) => number, out: Float32Array): void => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const p of emb) {
      lo = Math.min(lo, get(p));
      hi = Math.max(hi, get(p));
    }
    const span = hi > lo ? hi - lo : 1;
    emb.forEach((p, i) => {
      out[i] = (get(p) - lo) / span;
    });
  };
  scale((p) => p[0] as number, x);
  scale((p) => p[1] as number, y);
  return { x, y };
}

function cosineDistance(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const ai = a[i] as number;
    const bi = b[i] as number;
    dot += ai * bi;
    na += ai * ai;
    nb += bi * bi;
  }
  return 1 - dot / Math.max(Math.sqrt(na * nb), 1e-12);
}
