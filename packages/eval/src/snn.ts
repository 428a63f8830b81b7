import { tf } from '@ssl/tensor';
import { classRank, type KnnResult } from './knn.js';
import { labelArray, rowSource, type FeatureInput, type LabelInput } from './matrix.js';

export interface SnnOptions {
  /** Softmax temperature over similarities to the support set; PAWS uses 0.1. */
  T?: number;
  /** Number of classes; default: largest support label + 1. */
  numClasses?: number;
  /** Bound on the elements of one query-by-support similarity block; default 2^24. */
  maxBlockElements?: number;
}

/**
 * PAWS soft nearest-neighbour class probabilities, as suncet `snn_eval.make_snn`: support and
 * query embeddings are L2-normalised here, p = softmax(q . s^T / T) @ onehot(support labels).
 * Returns `[numQueries * numClasses]`, blocked over queries.
 */
export async function snnProbabilities(
  support: FeatureInput,
  supportLabels: LabelInput,
  queries: FeatureInput,
  options: SnnOptions = {},
): Promise<{ probs: Float32Array; numClasses: number }> {
  const T = options.T ?? 0.1;
  if (!(T > 0)) throw new Error(`T must be > 0, got ${T}`);
  const s = rowSource(support, 'support');
  const q = rowSource(queries, 'queries');
  if (s.rows < 1) throw new Error('support: need at least one labelled row');
  if (s.cols !== q.cols) throw new Error(`queries: dimension ${q.cols} does not match support dimension ${s.cols}`);
  const y = labelArray(supportLabels, 'supportLabels', s.rows, options.numClasses);
  const numClasses = options.numClasses ?? Math.max(...y) + 1;
  const budget = options.maxBlockElements ?? 1 << 24;
  const block = Math.max(1, Math.floor(budget / s.rows));
  const probs = new Float32Array(q.rows * numClasses);
  const normalise = (x: tf.Tensor2D): tf.Tensor2D => tf.div(x, tf.norm(x, 'euclidean', 1, true)) as tf.Tensor2D;
  const sN = tf.tidy(() => normalise(s.block(0, s.rows)));
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(y, 'int32'), numClasses), 'float32'));
  try {
    for (let q0 = 0; q0 < q.rows; q0 += block) {
      const q1 = Math.min(q.rows, q0 + block);
      const p = tf.tidy(() => {
        const h = normalise(q.block(q0, q1));
        return tf.matMul(tf.softmax(tf.div(tf.matMul(h, sN, false, true), T)), onehot); // [q, C]
      });
      probs.set(await p.data(), q0 * numClasses);
      p.dispose();
    }
  } finally {
    tf.dispose([sN, onehot]);
  }
  return { probs, numClasses };
}

/**
 * PAWS soft nearest-neighbour accuracy (percent) of `queries` given a labelled support set, as
 * `snn_eval.evaluate_embeddings`: top-1 by the most probable class, top-5 among the five most
 * probable (min(5, numClasses)); equal probabilities rank the lower class first.
 */
export async function snnClassifier(
  support: FeatureInput,
  supportLabels: LabelInput,
  queries: FeatureInput,
  queryLabels: LabelInput,
  options: SnnOptions = {},
): Promise<KnnResult> {
  const { probs, numClasses } = await snnProbabilities(support, supportLabels, queries, options);
  const n = probs.length / numClasses;
  const y = labelArray(queryLabels, 'queryLabels', n, numClasses);
  if (n === 0) throw new Error('queries: need at least one row');
  const m = Math.min(5, numClasses);
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const r = classRank(probs, i * numClasses, numClasses, y[i] as number);
    if (r === 0) top1++;
    if (r < m) top5++;
  }
  return { top1: (100 * top1) / n, top5: (100 * top5) / n };
}
