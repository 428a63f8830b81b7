import { tf } from '@ssl/tensor';
import type { Tensor2D } from '@ssl/tensor';

export interface KnnOptions {
  k?: number;
  T?: number;
  numClasses: number;
  /** Test rows per similarity block; bounds memory at blockSize x trainSize floats. */
  blockSize?: number;
}

/**
 * Weighted k-NN as the official `eval_knn.knn_classifier`: cosine similarity of L2-normalised
 * features, the k most similar training samples vote for their class with weight exp(sim / T).
 * Returns percentages. Used until @ssl/eval exports the same function.
 */
export function knnClassifier(
  trainFeatures: Tensor2D,
  trainLabels: Int32Array,
  testFeatures: Tensor2D,
  testLabels: Int32Array,
  options: KnnOptions,
): { top1: number; top5: number } {
  const k = Math.min(options.k ?? 20, trainFeatures.shape[0]);
  const T = options.T ?? 0.07;
  const C = options.numClasses;
  const nTest = testFeatures.shape[0];
  if (trainLabels.length !== trainFeatures.shape[0]) {
    throw new Error(`knnClassifier: ${trainLabels.length} train labels for ${trainFeatures.shape[0]} train features`);
  }
  if (testLabels.length !== nTest) throw new Error(`knnClassifier: ${testLabels.length} test labels for ${nTest} test features`);
  if (trainFeatures.shape[1] !== testFeatures.shape[1]) {
    throw new Error(`knnClassifier: train features have dim ${trainFeatures.shape[1]}, test features ${testFeatures.shape[1]}`);
  }
  const block = options.blockSize ?? 500;
  let top1 = 0;
  let top5 = 0;
  const scores = new Float64Array(C);
  for (let start = 0; start < nTest; start += block) {
    const size = Math.min(block, nTest - start);
    const [vals, idx] = tf.tidy(() => {
      const q = tf.slice(testFeatures, [start, 0], [size, -1]);
      const sim = tf.matMul(q, trainFeatures, false, true); // [size, nTrain]
      const { values, indices } = tf.topk(sim, k, true);
      return [values, indices];
    });
    const v = vals.dataSync();
    const ix = idx.dataSync();
    tf.dispose([vals, idx]);
    for (let i = 0; i < size; i++) {
      scores.fill(0);
      for (let j = 0; j < k; j++) {
        const c = trainLabels[ix[i * k + j] as number] as number;
        scores[c] = (scores[c] as number) + Math.exp((v[i * k + j] as number) / T);
      }
      const target = testLabels[start + i] as number;
      // Rank of the target: classes with a strictly higher score (ties favour the lower class id, as a stable sort).
      const t = scores[target] as number;
      let rank = 0;
      for (let c = 0; c < C; c++) if ((scores[c] as number) > t || ((scores[c] as number) === t && c < target)) rank++;
      if (rank === 0) top1++;
      if (rank < Math.min(5, k)) top5++;
    }
  }
  return { top1: (top1 * 100) / nTest, top5: (top5 * 100) / nTest };
}

/** Rows scaled to unit L2 norm (as `nn.functional.normalize`, eps 1e-12). */
export function l2Normalize(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 2, 1, true), 1e-12)) as Tensor2D);
}
