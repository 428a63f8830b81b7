import { tf } from '@ssl/tensor';
import { labelArray, rowSource, type FeatureInput, type LabelInput, type RowSource } from './matrix.js';

/**
 * Weighted k-NN, as `knn_classifier` in facebookresearch/dino `eval_knn.py`:
 * similarity = test . train^T (cosine when both are L2-normalised, which the caller does, as the
 * official pipeline does before calling it), keep the k most similar train rows, each votes for
 * its label with weight exp(sim / T), classes are ranked by their summed votes.
 *
 * Differences from the official function, all at its edges:
 * - k larger than the train set is clamped to the train set size (torch.topk would raise).
 * - Ties. torch.topk / torch.sort on CPU break ties in an unspecified order (introselect); here
 *   a tie between two train rows goes to the lower row index, a tie between two class scores to
 *   the lower class index (as tfjs `topk`). Ties matter only for duplicated features or when
 *   fewer than 5 classes got votes (then the top-5 fills with zero-score classes: 0, 1, 2, ...).
 * - top-5 counts the first min(5, k, numClasses) ranked classes (official: min(5, k); numClasses
 *   below 5 would make torch raise).
 * - Blocking. The official code splits the test set into 100 chunks and holds all train features
 *   in one matrix; here both sides are blocked so that one block of similarities stays under
 *   `maxBlockElements`, and the top-k lists are merged across train blocks. The result does not
 *   depend on the block sizes.
 */
export interface KnnOptions {
  /** Neighbours; official default list is {10, 20, 100, 200}, 20 is the headline. */
  k?: number;
  /** Temperature of the vote weights exp(sim / T); official 0.07. */
  T?: number;
  /** Number of classes; default: largest train label + 1. */
  numClasses?: number;
  /** Bound on the elements of one similarity block (and of one train block); default 2^22 (16 MiB). */
  maxBlockElements?: number;
}

export interface KnnResult {
  /** Percent of test rows whose top-ranked class is their label. */
  top1: number;
  /** Percent of test rows whose label is among the first min(5, k, numClasses) ranked classes. */
  top5: number;
}

/** Nearest train rows of every query, most similar first. */
export interface KnnNeighbors {
  numQueries: number;
  /** Neighbours kept per query (requested k clamped to the train size). */
  k: number;
  /** `[numQueries * k]` train row indices. */
  indices: Int32Array;
  /** `[numQueries * k]` similarities, descending per query. */
  similarities: Float32Array;
}

// 2^22 floats (16 MiB) per similarity block: measured faster than 2^24 on CPU (bench/knn.bench.mjs)
const DEFAULT_BLOCK_ELEMENTS = 1 << 22;

function checkPositiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

function blockSizes(train: RowSource, maxBlockElements: number): { trainBlock: number; queryBlock: number } {
  checkPositiveInt(maxBlockElements, 'maxBlockElements');
  const trainBlock = Math.max(1, Math.min(train.rows, Math.floor(maxBlockElements / train.cols)));
  const queryBlock = Math.max(1, Math.floor(maxBlockElements / trainBlock));
  return { trainBlock, queryBlock };
}

/**
 * The k train rows most similar (dot product) to each query row, blocked over both sets.
 * Ties go to the lower train index.
 */
export async function knnSearch(
  trainFeatures: FeatureInput,
  queryFeatures: FeatureInput,
  k: number,
  options: { maxBlockElements?: number } = {},
): Promise<KnnNeighbors> {
  const train = rowSource(trainFeatures, 'trainFeatures');
  const query = rowSource(queryFeatures, 'queryFeatures');
  checkPositiveInt(k, 'k');
  if (train.rows < 1) throw new Error('trainFeatures: need at least one train row');
  if (train.cols !== query.cols) {
    throw new Error(`queryFeatures: dimension ${query.cols} does not match trainFeatures dimension ${train.cols}`);
  }
  const kk = Math.min(k, train.rows);
  const Q = query.rows;
  const { trainBlock, queryBlock } = blockSizes(train, options.maxBlockElements ?? DEFAULT_BLOCK_ELEMENTS);

  const bestSim = new Float32Array(Q * kk).fill(-Infinity);
  const bestIdx = new Int32Array(Q * kk).fill(-1);
  const mergedSim = new Float32Array(kk);
  const mergedIdx = new Int32Array(kk);

  for (let t0 = 0; t0 < train.rows; t0 += trainBlock) {
    const t1 = Math.min(train.rows, t0 + trainBlock);
    const kc = Math.min(kk, t1 - t0);
    const trainT = train.block(t0, t1);
    for (let q0 = 0; q0 < Q; q0 += queryBlock) {
      const q1 = Math.min(Q, q0 + queryBlock);
      const [vals, inds] = tf.tidy(() => {
        const queryT = query.block(q0, q1);
        const sim = tf.matMul(queryT, trainT, false, true); // [q, t]
        const top = tf.topk(sim, kc, true); // [q, kc], ties to the lower column
        return [top.values, top.indices];
      });
      // awaited: on the webgpu backend a tensor has no dataSync in Node
      const [v, ix] = await Promise.all([vals.data(), inds.data()]);
      vals.dispose();
      inds.dispose();
      // Merge each row's running list with this block's list. Every index of this block is
      // larger than the ones already kept, so on equal similarity the kept one stays first.
      for (let r = 0; r < q1 - q0; r++) {
        const base = (q0 + r) * kk;
        let a = 0;
        let b = 0;
        for (let o = 0; o < kk; o++) {
          const va = bestSim[base + a] as number;
          const vb = b < kc ? (v[r * kc + b] as number) : -Infinity;
          if (a < kk && (va >= vb || b >= kc)) {
            mergedSim[o] = va;
            mergedIdx[o] = bestIdx[base + a] as number;
            a++;
          } else {
            mergedSim[o] = vb;
            mergedIdx[o] = t0 + (ix[r * kc + b] as number);
            b++;
          }
        }
        bestSim.set(mergedSim, base);
        bestIdx.set(mergedIdx, base);
      }
    }
    trainT.dispose();
  }
  return { numQueries: Q, k: kk, indices: bestIdx, similarities: bestSim };
}

/**
 * Class scores of every query from its first `k` neighbours: sum of exp(sim / T) per retrieved
 * label, accumulated in float32 as the official code does. Returns `[numQueries * numClasses]`.
 */
export function knnVotes(
  neighbors: KnnNeighbors,
  trainLabels: Int32Array,
  numClasses: number,
  k: number = neighbors.k,
  T = 0.07,
): Float32Array {
  checkPositiveInt(numClasses, 'numClasses');
  checkPositiveInt(k, 'k');
  if (!(T > 0)) throw new Error(`T must be > 0, got ${T}`);
  const kk = Math.min(k, neighbors.k);
  const scores = new Float32Array(neighbors.numQueries * numClasses);
  for (let q = 0; q < neighbors.numQueries; q++) {
    for (let j = 0; j < kk; j++) {
      const n = q * neighbors.k + j;
      const label = trainLabels[neighbors.indices[n] as number] as number;
      const w = Math.fround(Math.exp(Math.fround((neighbors.similarities[n] as number) / T)));
      const s = q * numClasses + label;
      scores[s] = (scores[s] as number) + w;
    }
  }
  return scores;
}

/**
 * Rank of class `label` when the classes of one row are sorted by descending score, ties to the
 * lower class index: 0 means predicted first.
 */
export function classRank(scores: ArrayLike<number>, offset: number, numClasses: number, label: number): number {
  const s = scores[offset + label] as number;
  let rank = 0;
  for (let c = 0; c < numClasses; c++) {
    const v = scores[offset + c] as number;
    if (v > s || (v === s && c < label)) rank++;
  }
  return rank;
}

/** Classes of one row sorted by descending score, ties to the lower class index. */
export function rankClasses(scores: ArrayLike<number>, offset: number, numClasses: number): Int32Array {
  const order = Int32Array.from({ length: numClasses }, (_, c) => c);
  order.sort((a, b) => (scores[offset + b] as number) - (scores[offset + a] as number) || a - b);
  return order;
}

function resolveNumClasses(numClasses: number | undefined, labels: Int32Array): number {
  if (numClasses !== undefined) {
    checkPositiveInt(numClasses, 'numClasses');
    return numClasses;
  }
  let max = -1;
  for (const l of labels) if (l > max) max = l;
  return max + 1;
}

/**
 * top-1 / top-5 (percent) for several k from one neighbour search, as the official script loops
 * over `--nb_knn` (default [10, 20, 100, 200]).
 */
export async function knnClassifierSweep(
  trainFeatures: FeatureInput,
  trainLabels: LabelInput,
  testFeatures: FeatureInput,
  testLabels: LabelInput,
  options: Omit<KnnOptions, 'k'> & { ks?: number[] } = {},
): Promise<Map<number, KnnResult>> {
  const ks = options.ks ?? [10, 20, 100, 200];
  if (ks.length === 0) throw new Error('ks must list at least one k');
  ks.forEach((k) => checkPositiveInt(k, 'k'));
  const T = options.T ?? 0.07;
  if (!(T > 0)) throw new Error(`T must be > 0, got ${T}`);
  const train = rowSource(trainFeatures, 'trainFeatures');
  const test = rowSource(testFeatures, 'testFeatures');
  const trainY = labelArray(trainLabels, 'trainLabels', train.rows, options.numClasses);
  const numClasses = resolveNumClasses(options.numClasses, trainY);
  const testY = labelArray(testLabels, 'testLabels', test.rows, numClasses);
  if (test.rows < 1) throw new Error('testFeatures: need at least one test row');

  const searchOpts = options.maxBlockElements !== undefined ? { maxBlockElements: options.maxBlockElements } : {};
  const neighbors = await knnSearch(trainFeatures, testFeatures, Math.max(...ks), searchOpts);
  const results = new Map<number, KnnResult>();
  for (const k of ks) {
    const kk = Math.min(k, neighbors.k);
    const scores = knnVotes(neighbors, trainY, numClasses, kk, T);
    const m = Math.min(5, kk, numClasses);
    let top1 = 0;
    let top5 = 0;
    for (let q = 0; q < test.rows; q++) {
      const rank = classRank(scores, q * numClasses, numClasses, testY[q] as number);
      if (rank === 0) top1++;
      if (rank < m) top5++;
    }
    results.set(k, { top1: (top1 * 100) / test.rows, top5: (top5 * 100) / test.rows });
  }
  return results;
}

/**
 * Weighted k-NN accuracy of `testFeatures` against `trainFeatures`, in percent, like the official
 * `knn_classifier(train_features, train_labels, test_features, test_labels, k, T, num_classes)`.
 * Features should be L2-normalised (cosine similarity); labels are integers in [0, numClasses).
 */
export async function knnClassifier(
  trainFeatures: FeatureInput,
  trainLabels: LabelInput,
  testFeatures: FeatureInput,
  testLabels: LabelInput,
  options: KnnOptions = {},
): Promise<KnnResult> {
  const k = options.k ?? 20;
  checkPositiveInt(k, 'k');
  const { k: _k, ...rest } = options;
  const res = await knnClassifierSweep(trainFeatures, trainLabels, testFeatures, testLabels, { ...rest, ks: [k] });
  return res.get(k) as KnnResult;
}
