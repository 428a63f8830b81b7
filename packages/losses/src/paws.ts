import { tf, withoutGradient } from '@ssl/tensor';
import type { Scalar, Tensor } from '@ssl/tensor';

export interface PawsLossOptions {
  /** Number of small multi-crop views per unlabelled image (besides the 2 global views). */
  multicrop?: number;
  /** Cosine-similarity temperature of the soft nearest-neighbour classifier. */
  tau?: number;
  /** Target sharpening temperature. */
  T?: number;
  /** Whether to add the mean-entropy maximisation regulariser. */
  meMax?: boolean;
}

export interface PawsLossResult {
  /** Cross-entropy between sharpened targets and anchor predictions. */
  loss: Scalar;
  /** me-max regulariser: sum(p log p) of the mean sharpened anchor prediction (<= 0); 0 when off. */
  rloss: Scalar;
}

export type PawsLossFn = (
  anchorViews: Tensor,
  anchorSupports: Tensor,
  anchorSupportLabels: Tensor,
  targetViews: Tensor,
  targetSupports: Tensor,
  targetSupportLabels: Tensor,
) => PawsLossResult;

/** p^(1/T) renormalised over classes (dim 1). */
export function sharpen(p: Tensor, T: number): Tensor {
  return tf.tidy(() => {
    const sharp = tf.pow(p, 1 / T);
    return tf.div(sharp, tf.sum(sharp, 1, true));
  });
}

/** `F.normalize(x, dim=1)`: x / max(||x||_2, 1e-12). */
export function l2Normalize(x: Tensor): Tensor {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 2, 1, true), 1e-12)));
}

/** Soft nearest neighbours: softmax(normalise(q) . normalise(S)^T / tau) . labels -> [N, C]. */
export function snn(query: Tensor, supports: Tensor, labels: Tensor, tau: number): Tensor {
  return tf.tidy(() => {
    // Step 1: normalise embeddings
    const q = l2Normalize(query);
    const s = l2Normalize(supports);
    // Step 2 (gather across workers) is a no-op on one process.
    // Step 3: similarities to every support, as class probabilities
    const sim = tf.div(tf.matMul(q, s, false, true), tau); // [N, S]
    return tf.matMul(tf.softmax(sim, 1), labels); // [N, C]
  });
}

function checkMatrix(name: string, t: Tensor, cols?: number, rows?: number): void {
  if (!t || t.rank !== 2) throw new Error(`pawsLoss: ${name} must be a 2-D tensor, got ${t ? `[${t.shape}]` : t}`);
  if (cols !== undefined && t.shape[1] !== cols) {
    throw new Error(`pawsLoss: ${name} must have ${cols} columns, got [${t.shape}]`);
  }
  if (rows !== undefined && t.shape[0] !== rows) {
    throw new Error(`pawsLoss: ${name} must have ${rows} rows, got [${t.shape}]`);
  }
}

/**
 * The semi-supervised PAWS loss, as suncet `init_paws_loss`. Anchor views are the prediction-head
 * outputs z of the unlabelled views ([(2 + multicrop) * B, D], views stacked view-major); target
 * views the projection outputs h of the 2 global views with the two views swapped ([2B, D]), as
 * `paws_train.py` builds them. Targets carry no gradient.
 */
export function pawsLoss(options: PawsLossOptions = {}): PawsLossFn {
  const multicrop = options.multicrop ?? 6;
  const tau = options.tau ?? 0.1;
  const T = options.T ?? 0.25;
  const meMax = options.meMax ?? true;
  if (!Number.isInteger(multicrop) || multicrop < 0) throw new Error(`pawsLoss: multicrop must be an integer >= 0, got ${multicrop}`);
  if (!(tau > 0)) throw new Error(`pawsLoss: tau must be > 0, got ${tau}`);
  if (!(T > 0)) throw new Error(`pawsLoss: T must be > 0, got ${T}`);

  return (anchorViews, anchorSupports, anchorSupportLabels, targetViews, targetSupports, targetSupportLabels) => {
    checkMatrix('anchorViews', anchorViews);
    const dim = anchorViews.shape[1];
    const nAnchor = anchorViews.shape[0] as number;
    if (nAnchor % (2 + multicrop) !== 0) {
      throw new Error(`pawsLoss: anchorViews rows (${nAnchor}) must be (2 + multicrop=${multicrop}) * batch`);
    }
    // NOTE: each unlabelled image has 2 + multicrop views
    const batch = nAnchor / (2 + multicrop);
    checkMatrix('anchorSupports', anchorSupports, dim);
    checkMatrix('anchorSupportLabels', anchorSupportLabels, undefined, anchorSupports.shape[0]);
    checkMatrix('targetViews', targetViews, dim, 2 * batch);
    checkMatrix('targetSupports', targetSupports, dim);
    checkMatrix('targetSupportLabels', targetSupportLabels, anchorSupportLabels.shape[1], targetSupports.shape[0]);

    return tf.tidy(() => {
      // Step 1: anchor predictions
      const probs = snn(anchorViews, anchorSupports, anchorSupportLabels, tau);

      // Step 2: targets, without gradient
      const targets = withoutGradient(
        (tv, ts, tl) => {
          let t = sharpen(snn(tv, ts, tl, tau), T);
          if (multicrop > 0) {
            const [t1, t2] = tf.split(t, 2, 0) as [Tensor, Tensor];
            const mcTarget = tf.mul(tf.add(t1, t2), 0.5);
            t = tf.concat([t, ...Array.from({ length: multicrop }, () => mcTarget)], 0);
          }
          return tf.where(tf.less(t, 1e-4), tf.zerosLike(t), t); // numerical stability
        },
        targetViews,
        targetSupports,
        targetSupportLabels,
      );

      // Step 3: cross-entropy H(targets, probs), written as the official log(p^-t)
      const loss = tf.mean(tf.sum(tf.log(tf.pow(probs, tf.neg(targets))), 1)) as Scalar;

      // Step 4: me-max regulariser on the mean sharpened prediction
      let rloss: Scalar = tf.scalar(0);
      if (meMax) {
        const avgProbs = tf.mean(sharpen(probs, T), 0);
        rloss = tf.neg(tf.sum(tf.log(tf.pow(avgProbs, tf.neg(avgProbs))))) as Scalar;
      }
      return { loss, rloss };
    });
  };
}

export interface MakeLabelsMatrixOptions {
  /** Classes per support batch. */
  numClasses: number;
  /** Support images per class. */
  sBatchSize: number;
  worldSize?: number;
  uniqueClasses?: boolean;
  /** Label smoothing eps: off = eps / C, on = 1 - eps + off. */
  smoothing?: number;
}

/**
 * One-hot (smoothed) labels of a class-stratified support batch, as suncet `make_labels_matrix`:
 * row i belongs to class i mod numClasses. Returns [sBatchSize * numClasses * worldSize,
 * numClasses * worldSize].
 */
export function makeLabelsMatrix(options: MakeLabelsMatrixOptions): Tensor {
  const { numClasses, sBatchSize } = options;
  const worldSize = options.worldSize ?? 1;
  const unique = options.uniqueClasses ?? false;
  const smoothing = options.smoothing ?? 0;
  for (const [k, v] of [['numClasses', numClasses], ['sBatchSize', sBatchSize], ['worldSize', worldSize]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`makeLabelsMatrix: ${k} must be a positive integer, got ${v}`);
  }
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`makeLabelsMatrix: smoothing must be in [0, 1), got ${smoothing}`);
  const localImages = sBatchSize * numClasses;
  const totalImages = localImages * worldSize;
  const cols = numClasses * worldSize;
  const off = unique ? smoothing / (numClasses * worldSize) : smoothing / numClasses;
  const on = 1 - smoothing + off;
  const data = new Float32Array(totalImages * cols).fill(off);
  for (let row = 0; row < totalImages; row++) {
    const i = (row % localImages) % numClasses;
    const col = unique ? Math.floor(row / localImages) * numClasses + i : row % numClasses;
    data[row * cols + col] = on;
  }
  return tf.tensor2d(data, [totalImages, cols]);
}
