import { tf } from '@ssl/tensor';
import { knnSearch } from './knn.js';
import { symmetricEigen } from './linalg.js';
import { rowSource, toMatrix, type FeatureInput } from './matrix.js';

/**
 * Generalised-mean pooling over tokens, as eval_copy_detection.py: clamp(min=eps) ** p, mean over
 * the patch grid, ** (1/p). `tokens` is `[B, N, D]` (patch tokens only); returns `[B, D]`.
 */
export function gemPool(tokens: tf.Tensor3D, p = 4, eps = 1e-6): tf.Tensor2D {
  if (!(p > 0)) throw new Error(`gemPool: p must be > 0, got ${p}`);
  return tf.tidy(() => tf.pow(tf.mean(tf.pow(tf.maximum(tokens, eps), p), 1), 1 / p) as tf.Tensor2D);
}

/**
 * Copy-detection descriptor from the last block's output tokens (after the final norm, as
 * `get_intermediate_layers(x, n=1)[0]`): `[CLS ; GeM_p(patch tokens)]`. `tokens` is `[B, N+1, D]`
 * with the CLS token first; returns `[B, 2D]`. Not normalised (whitening comes first).
 */
export function copyDetectionDescriptor(tokens: tf.Tensor3D, p = 4): tf.Tensor2D {
  const [B, N1, D] = tokens.shape;
  if (N1 < 2) throw new Error(`copyDetectionDescriptor: tokens must hold CLS and at least one patch, got ${N1}`);
  return tf.tidy(() => {
    const cls = tf.reshape(tf.slice(tokens, [0, 0, 0], [B, 1, D]), [B, D]); // [B, D]
    const patches = tf.slice(tokens, [0, 1, 0], [B, N1 - 1, D]); // [B, N, D]
    return tf.concat([cls, gemPool(patches as tf.Tensor3D, p)], 1) as tf.Tensor2D; // [B, 2D]
  });
}

/** PCA whitening learnt on a separate image set, as the official `utils.PCA(whit=0.5)`. */
export interface Whitening {
  /** Mean of the learning features, subtracted before projecting. */
  mean: Float32Array;
  /** `[dim, D]` row-major projection diag(d^-whit) V^T, eigenvalues descending. */
  projection: Float32Array;
  dim: number;
  inputDim: number;
  /** Share of the covariance energy kept by `dim` components. */
  energyKept: number;
}

export interface WhiteningOptions {
  /** Output dimension (official: the full input dimension). */
  dim?: number;
  /** Whitening power: eigenvalues scaled by d^-whit (official 0.5). */
  whit?: number;
  /**
   * Centre the features before the covariance. The official script subtracts the mean from queries
   * and database but computes the covariance of the *uncentred* learning features
   * (`mm(F.T, F) / n`); the default `false` keeps that.
   */
  centerCovariance?: boolean;
}

/** Learn a PCA-whitening on `features` (`[n, D]`). */
export function learnWhitening(features: FeatureInput, options: WhiteningOptions = {}): Whitening {
  const X = toMatrix(features, 'whitening features');
  const { rows: n, cols: D } = X;
  if (n < 2) throw new Error(`whitening features: need at least 2 rows, got ${n}`);
  const dim = options.dim ?? D;
  if (!Number.isInteger(dim) || dim < 1 || dim > D) throw new Error(`whitening dim must be an integer in [1, ${D}], got ${dim}`);
  const whit = options.whit ?? 0.5;
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) mean[j] = (mean[j] as number) + (X.data[i * D + j] as number) / n;
  const cov = new Float64Array(D * D);
  const row = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) row[j] = (X.data[i * D + j] as number) - (options.centerCovariance ? (mean[j] as number) : 0);
    for (let a = 0; a < D; a++) {
      const ra = row[a] as number;
      if (ra === 0) continue;
      for (let b = a; b < D; b++) cov[a * D + b] = (cov[a * D + b] as number) + ra * (row[b] as number);
    }
  }
  for (let a = 0; a < D; a++) {
    for (let b = a; b < D; b++) {
      const v = (cov[a * D + b] as number) / n;
      cov[a * D + b] = v;
      cov[b * D + a] = v;
    }
  }
  const { values, vectors } = symmetricEigen(cov, D);
  // Step 1: floor tiny eigenvalues at max * 1e-5 (as the official PCA) so d^-whit stays finite.
  let maxEig = -Infinity;
  for (const v of values) maxEig = Math.max(maxEig, v);
  const eps = maxEig * 1e-5;
  const d = Float64Array.from(values, (v) => (v < eps ? eps : v));
  const total = d.reduce((s, v) => s + v, 0);
  // Step 2: keep the `dim` largest, descending.
  const idx = Array.from({ length: D }, (_, i) => i).sort((i, j) => (d[j] as number) - (d[i] as number)).slice(0, dim);
  let kept = 0;
  const projection = new Float32Array(dim * D);
  idx.forEach((e, r) => {
    kept += d[e] as number;
    // Step 3: row r = d_e^-whit * (eigenvector e)^T
    const scale = (d[e] as number) ** -whit;
    for (let k = 0; k < D; k++) projection[r * D + k] = scale * (vectors[k * D + e] as number);
  });
  return { mean: Float32Array.from(mean), projection, dim, inputDim: D, energyKept: kept / total };
}

/** Apply a whitening: (x - mean) projected, `[n, D]` -> `[n, dim]` (tensor in, tensor out). */
export function applyWhitening(w: Whitening, x: tf.Tensor2D): tf.Tensor2D {
  if (x.shape[1] !== w.inputDim) throw new Error(`applyWhitening: features have dimension ${x.shape[1]}, whitening expects ${w.inputDim}`);
  return tf.tidy(() => {
    const centred = tf.sub(x, tf.tensor1d(w.mean));
    return tf.matMul(centred, tf.tensor2d(w.projection, [w.dim, w.inputDim]), false, true) as tf.Tensor2D; // [n, dim]
  });
}

/**
 * Average precision of one ranked search, as the Holidays/Copydays `score_ap_from_ranks_1`
 * used by eval_copy_detection.py: trapezoids of the precision-recall curve. `ranks` are the
 * 0-based ranks of the retrieved true positives, ascending; `numPositives` the positives in the
 * database (those never retrieved count as recall never reached).
 */
export function averagePrecision(ranks: readonly number[], numPositives: number): number {
  if (!Number.isInteger(numPositives) || numPositives < 1) throw new Error(`numPositives must be a positive integer, got ${numPositives}`);
  const step = 1 / numPositives;
  let ap = 0;
  ranks.forEach((rank, ntp) => {
    if (ntp > 0 && rank <= (ranks[ntp - 1] as number)) throw new Error('averagePrecision: ranks must be strictly ascending');
    const p0 = rank === 0 ? 1 : ntp / rank;
    const p1 = (ntp + 1) / (rank + 1);
    ap += ((p0 + p1) * step) / 2;
  });
  return ap;
}

export interface RetrievalScore {
  /** Mean average precision over queries (0..1), positives ranked beyond `topK` count as missed. */
  mAP: number;
  /** Share of queries whose first result is a positive (0..1). */
  recallAt1: number;
  /** Average precision of each query. */
  ap: Float64Array;
}

/** mAP and recall@1 of ranked result lists (`ranking[q]` = database indices, best first). */
export function scoreRanking(ranking: ArrayLike<number>[], positives: readonly (readonly number[])[]): RetrievalScore {
  if (ranking.length !== positives.length) throw new Error(`scoreRanking: ${ranking.length} rankings for ${positives.length} positive lists`);
  const ap = new Float64Array(ranking.length);
  let hits1 = 0;
  ranking.forEach((list, q) => {
    const pos = new Set(positives[q]);
    if (pos.size === 0) throw new Error(`scoreRanking: query ${q} has no positives`);
    const ranks: number[] = [];
    for (let r = 0; r < list.length; r++) if (pos.has(list[r] as number)) ranks.push(r);
    ap[q] = averagePrecision(ranks, pos.size);
    if (list.length > 0 && pos.has(list[0] as number)) hits1++;
  });
  const mAP = ap.reduce((s, v) => s + v, 0) / Math.max(1, ap.length);
  return { mAP, recallAt1: hits1 / Math.max(1, ranking.length), ap };
}

function l2Normalise(x: tf.Tensor2D): tf.Tensor2D {
  // as nn.functional.normalize: x / max(||x||, 1e-12)
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D);
}

export interface CopyDetectionOptions {
  /** Whitening learnt on a separate set; applied to queries and database before normalising. */
  whitening?: Whitening;
  /** Results kept per query (official 20). */
  topK?: number;
}

/**
 * Copy detection as eval_copy_detection.py: optional whitening, L2 normalisation, cosine
 * similarity, top-k database images per query, mAP (Copydays AP) and recall@1.
 * `positives[q]` lists the database rows that are copies' originals for query q.
 */
export async function copyDetection(
  queries: FeatureInput,
  database: FeatureInput,
  positives: readonly (readonly number[])[],
  options: CopyDetectionOptions = {},
): Promise<RetrievalScore & { ranking: Int32Array[] }> {
  const topK = options.topK ?? 20;
  const q = rowSource(queries, 'queries');
  const db = rowSource(database, 'database');
  const prep = (src: typeof q): tf.Tensor2D =>
    tf.tidy(() => {
      const x = src.block(0, src.rows);
      return l2Normalise(options.whitening ? applyWhitening(options.whitening, x) : x);
    });
  const qT = prep(q);
  const dbT = prep(db);
  let nb;
  try {
    nb = await knnSearch(dbT, qT, topK);
  } finally {
    tf.dispose([qT, dbT]);
  }
  const ranking = Array.from({ length: q.rows }, (_, i) => nb.indices.slice(i * nb.k, (i + 1) * nb.k));
  return { ...scoreRanking(ranking, positives), ranking };
}

