import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import type { NamedGrads } from './optimizer.js';
import type { NamedParameters } from './params.js';

/**
 * Gradients from `tf.variableGrads` (keyed by tfjs variable name) re-keyed by parameter name, in
 * parameter order. Parameters without a gradient are left out.
 */
export function gradsByParamName(named: NamedParameters, grads: Record<string, Tensor | null>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, v] of named) {
    const g = grads[v.name];
    if (g) out[name] = g;
  }
  return out;
}

/**
 * DINO's `utils.clip_gradients`: per parameter (not by the global norm), scale the gradient by
 * `clip / (norm + 1e-6)` when that is < 1. Replaces the clipped tensors in `grads` (disposing the
 * old ones) and resolves to each gradient's norm before clipping, in the map's order.
 */
export async function clipGradients(grads: Record<string, Tensor | null | undefined>, clip: number): Promise<number[]> {
  if (!(clip > 0)) throw new Error(`clipGradients: clip must be > 0, got ${clip}`);
  const names = Object.keys(grads).filter((n) => grads[n]);
  if (names.length === 0) return [];
  // one read-back for all norms (awaited: a GPU tensor has no dataSync in Node)
  // sqrt(sum(g^2)): fewer kernels than tf.norm (abs, pow, sum, pow)
  const stacked = tf.tidy(() => tf.sqrt(tf.stack(names.map((n) => tf.sum(tf.square(grads[n] as Tensor))))));
  const norms = Array.from(await stacked.data());
  stacked.dispose();
  names.forEach((n, i) => {
    const norm = norms[i] as number;
    const coef = clip / (norm + 1e-6);
    if (coef < 1) {
      const g = grads[n] as Tensor;
      grads[n] = tf.tidy(() => tf.mul(g, tf.scalar(coef)));
      g.dispose();
    }
  });
  return norms;
}

/**
 * DINO's `utils.cancel_gradients_last_layer`: while `epoch < freezeLastLayer`, drop (and dispose)
 * the gradients of parameters whose name contains `last_layer`, so the optimizer skips them.
 */
export function cancelGradientsLastLayer(epoch: number, grads: NamedGrads, freezeLastLayer: number): void {
  if (epoch >= freezeLastLayer) return;
  for (const name of Object.keys(grads)) {
    if (name.includes('last_layer')) {
      grads[name]?.dispose();
      delete grads[name];
    }
  }
}
