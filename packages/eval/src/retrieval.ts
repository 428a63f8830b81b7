import { tf } from '@ssl/tensor';
import { averagePrecision } from './copy-detection.js';
import type { Embed } from './features.js';
import { normalizeRows, toMatrix, type FeatureInput } from './matrix.js';

/** The official `--multiscale` scales of eval_image_retrieval.py / utils.multi_scale: 1, 1/sqrt(2), 1/2. */
export const MULTISCALE_SCALES: readonly number[] = [1, 1 / 2 ** (1 / 2), 1 / 2];

/**
 * `F.interpolate(x, scale_factor=s, mode='bilinear', align_corners=False)` on a row-major
 * `[B, H, W, C]` array (an NCHW array is `[B * C, H, W, 1]`): output size floor(in * s), and, as
 * PyTorch does when given a scale factor, source coordinates mapped with 1/s itself
 * (src = (o + 0.5) / s - 0.5, clamped at 0), not with in/out. For 224 at 1/sqrt(2) that is 158
 * pixels sampled at a step of 1.41421 rather than 224/158 = 1.41772.
 */
export function interpolateBilinearArray(
  src: Float32Array,
  dims: readonly [number, number, number, number],
  scale: number,
): { data: Float32Array; dims: [number, number, number, number] } {
  if (!(scale > 0)) throw new Error(`interpolateBilinear: scale must be > 0, got ${scale}`);
  const [B, H, W, C] = dims;
  if (src.length !== B * H * W * C) throw new Error(`interpolateBilinear: ${src.length} values for dims [${dims.join(', ')}]`);
  const OH = Math.floor(H * scale);
  const OW = Math.floor(W * scale);
  if (OH < 1 || OW < 1) throw new Error(`interpolateBilinear: ${H}x${W} at scale ${scale} is empty`);
  const axis = (inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; l: Float32Array } => {
    const i0 = new Int32Array(outSize);
    const i1 = new Int32Array(outSize);
    const l = new Float32Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const s = Math.max((o + 0.5) / scale - 0.5, 0);
      const f = Math.min(Math.floor(s), inSize - 1);
      i0[o] = f;
      i1[o] = f < inSize - 1 ? f + 1 : f;
      l[o] = s - f;
    }
    return { i0, i1, l };
  };
  const ys = axis(H, OH);
  const xs = axis(W, OW);
  const out = new Float32Array(B * OH * OW * C);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      const r0 = (b * H + (ys.i0[oy] as number)) * W;
      const r1 = (b * H + (ys.i1[oy] as number)) * W;
      const ly = ys.l[oy] as number;
      for (let ox = 0; ox < OW; ox++) {
        const c0 = xs.i0[ox] as number;
        const c1 = xs.i1[ox] as number;
        const lx = xs.l[ox] as number;
        const dst = ((b * OH + oy) * OW + ox) * C;
        for (let c = 0; c < C; c++) {
          const top = (1 - lx) * (src[(r0 + c0) * C + c] as number) + lx * (src[(r0 + c1) * C + c] as number);
          const bot = (1 - lx) * (src[(r1 + c0) * C + c] as number) + lx * (src[(r1 + c1) * C + c] as number);
          out[dst + c] = (1 - ly) * top + ly * bot;
        }
      }
    }
  }
  return { data: out, dims: [B, OH, OW, C] };
}

/** `interpolateBilinearArray` on an NHWC tensor (a new tensor; the caller disposes). */
export function interpolateBilinear(x: tf.Tensor4D, scale: number): tf.Tensor4D {
  const r = interpolateBilinearArray(x.dataSync() as Float32Array, x.shape, scale);
  return tf.tensor4d(r.data, r.dims);
}

/**
 * Multi-scale features as the official `utils.multi_scale`: the embedding of the image at each
 * scale (bilinear, above), summed, divided by the number of scales, then L2-normalised. The
 * official code divides by the norm of the whole batch tensor; it runs with batch size 1, where
 * that is each image's own norm, which is what this does for every row.
 */
export function multiScaleEmbed(embed: Embed, scales: readonly number[] = MULTISCALE_SCALES): Embed {
  if (scales.length === 0) throw new Error('multiScaleEmbed: give at least one scale');
  return (images) =>
    tf.tidy(() => {
      let sum: tf.Tensor | null = null;
      for (const s of scales) {
        const f = s === 1 ? embed(images) : embed(interpolateBilinear(images, s));
        sum = sum ? tf.add(sum, f) : f;
      }
      const v = tf.div(sum as tf.Tensor, scales.length);
      return tf.div(v, tf.maximum(tf.norm(v, 'euclidean', 1, true), 1e-12));
    });
}

/** Ground truth of one query: positives (`ok`) and images that count neither way (`junk`). */
export interface QueryGroundTruth {
  ok: readonly number[];
  junk?: readonly number[];
}

export interface MapResult {
  /** Mean AP over queries with at least one positive (0..1). */
  map: number;
  /** AP per query (NaN for a query without positives). */
  aps: Float64Array;
  /** Mean precision at each kappa. */
  pr: Float64Array;
  /** Precision at each kappa per query (`prs[q][j]`, NaN rows for queries without positives). */
  prs: Float64Array[];
}

/**
 * mAP as the official `utils.compute_map` (from the revisited Oxford/Paris code): for each
 * query, the 0-based positions of its positives in the ranking, each moved up by the number of
 * junk images ranked before it; AP by trapezoids (`compute_ap`); precision at kappa over
 * k = min(last positive's 1-based position, kappa). `ranking[q]` lists database indices, best
 * first (the official `ranks[:, q]`). Queries without positives are left out of the means.
 */
export function computeMap(ranking: readonly ArrayLike<number>[], gnd: readonly QueryGroundTruth[], kappas: readonly number[] = []): MapResult {
  if (ranking.length !== gnd.length) throw new Error(`computeMap: ${ranking.length} rankings for ${gnd.length} ground-truth entries`);
  const nq = gnd.length;
  const aps = new Float64Array(nq);
  const pr = new Float64Array(kappas.length);
  const prs: Float64Array[] = [];
  let map = 0;
  let nempty = 0;
  for (let q = 0; q < nq; q++) {
    const g = gnd[q] as QueryGroundTruth;
    const row = new Float64Array(kappas.length);
    prs.push(row);
    if (g.ok.length === 0) {
      aps[q] = NaN;
      row.fill(NaN);
      nempty++;
      continue;
    }
    const ok = new Set(g.ok);
    const junk = new Set(g.junk ?? []);
    const list = ranking[q] as ArrayLike<number>;
    // Step 1: positions of positives and junk in the ranking (ascending).
    const pos: number[] = [];
    const junkPos: number[] = [];
    for (let r = 0; r < list.length; r++) {
      const id = list[r] as number;
      if (ok.has(id)) pos.push(r);
      if (junk.has(id)) junkPos.push(r);
    }
    // Step 2: each positive moves up by the junk ranked before it.
    let k = 0;
    let ij = 0;
    for (let ip = 0; ip < pos.length; ip++) {
      while (ij < junkPos.length && (pos[ip] as number) > (junkPos[ij] as number)) {
        k++;
        ij++;
      }
      pos[ip] = (pos[ip] as number) - k;
    }
    // Step 3: AP over the number of positives in the ground truth (the official len(qgnd), duplicates included).
    const ap = pos.length > 0 ? averagePrecision(pos, g.ok.length) : 0;
    map += ap;
    aps[q] = ap;
    // Step 4: precision at kappa, 1-based positions; as numpy, max() of no positives would fail, so 0 here.
    const last = pos.length > 0 ? (pos[pos.length - 1] as number) + 1 : 0;
    kappas.forEach((kappa, j) => {
      const kq = Math.min(last, kappa);
      row[j] = kq > 0 ? pos.filter((p) => p + 1 <= kq).length / kq : 0;
      pr[j] = (pr[j] as number) + (row[j] as number);
    });
  }
  const n = nq - nempty;
  return { map: n > 0 ? map / n : NaN, aps, pr: pr.map((v) => (n > 0 ? v / n : NaN)), prs };
}

/** A revisited Oxford/Paris ground-truth file (`gnd_roxford5k.pkl` / `gnd_rparis6k.pkl`). */
export interface RevisitedGnd {
  /** Database image names (without `.jpg`) and query image names. */
  imlist: string[];
  qimlist: string[];
  /** Per query: database indices that are easy / hard positives and junk; the query's box. */
  gnd: { easy: number[]; hard: number[]; junk: number[]; bbx?: number[] }[];
}

export interface RevisitedScore {
  map: number;
  /** Mean precision at each kappa (default 1, 5, 10 as the official script). */
  mpr: number[];
  aps: Float64Array;
}

/**
 * The revisited Oxford/Paris protocol (Radenović et al. 2018): Easy (ok = easy; junk = junk +
 * hard), Medium (ok = easy + hard; junk = junk), Hard (ok = hard; junk = junk + easy).
 * eval_image_retrieval.py prints Medium and Hard; Easy is the third setting of the protocol.
 */
export function revisitedMap(
  ranking: readonly ArrayLike<number>[],
  gnd: RevisitedGnd['gnd'],
  kappas: readonly number[] = [1, 5, 10],
): { easy: RevisitedScore; medium: RevisitedScore; hard: RevisitedScore } {
  const run = (f: (g: RevisitedGnd['gnd'][number]) => QueryGroundTruth): RevisitedScore => {
    const r = computeMap(ranking, gnd.map(f), kappas);
    return { map: r.map, mpr: Array.from(r.pr), aps: r.aps };
  };
  return {
    easy: run((g) => ({ ok: g.easy, junk: [...g.junk, ...g.hard] })),
    medium: run((g) => ({ ok: [...g.easy, ...g.hard], junk: g.junk })),
    hard: run((g) => ({ ok: g.hard, junk: [...g.junk, ...g.easy] })),
  };
}

/**
 * Full database ranking per query by cosine similarity of L2-normalised rows (as the official
 * `argsort(-mm(db, q.T), dim=0)`); ties keep the lower database index first.
 */
export function rankByCosine(queries: FeatureInput, database: FeatureInput): Int32Array[] {
  const q = toMatrix(queries, 'queries');
  const db = toMatrix(database, 'database');
  if (q.cols !== db.cols) throw new Error(`queries have ${q.cols} dimensions, the database ${db.cols}`);
  const qn = normalizeRows(q).data;
  const dn = normalizeRows(db).data;
  const D = q.cols;
  return Array.from({ length: q.rows }, (_, i) => {
    const sim = new Float64Array(db.rows);
    for (let j = 0; j < db.rows; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += (qn[i * D + d] as number) * (dn[j * D + d] as number);
      sim[j] = s;
    }
    return Int32Array.from(Array.from({ length: db.rows }, (_, j) => j).sort((a, b) => (sim[b] as number) - (sim[a] as number) || a - b));
  });
}

export interface LabelRetrievalScore {
  /** compute_map with ok = database images of the query's label (0..1). */
  map: number;
  /** Share of queries with a database image of their label in the first k results (0..1), per k. */
  recallAt: Record<number, number>;
  /** Queries whose label no database image has (left out of both). */
  skipped: number;
}

/** Retrieval scored by labels: positives of a query are the database images with its label. */
export function labelRetrieval(
  ranking: readonly ArrayLike<number>[],
  queryLabels: readonly string[],
  databaseLabels: readonly string[],
  ks: readonly number[] = [1, 5, 10],
): LabelRetrievalScore {
  if (ranking.length !== queryLabels.length) throw new Error(`labelRetrieval: ${ranking.length} rankings for ${queryLabels.length} query labels`);
  const byLabel = new Map<string, number[]>();
  databaseLabels.forEach((l, i) => byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
  const gnd = queryLabels.map((l) => ({ ok: byLabel.get(l) ?? [] }));
  const { map } = computeMap(ranking, gnd);
  const scored = gnd.filter((g) => g.ok.length > 0).length;
  const recallAt: Record<number, number> = {};
  for (const k of ks) {
    let hits = 0;
    ranking.forEach((list, q) => {
      const l = queryLabels[q] as string;
      for (let r = 0; r < Math.min(k, list.length); r++) {
        if (databaseLabels[list[r] as number] === l) {
          hits++;
          break;
        }
      }
    });
    recallAt[k] = scored > 0 ? hits / scored : NaN;
  }
  return { map, recallAt, skipped: queryLabels.length - scored };
}
