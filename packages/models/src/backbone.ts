import type { Rng, Tensor } from '@ssl/tensor';
import type { Module } from './module.js';

/** Per-call options of a forward pass. */
export interface ForwardOptions {
  /**
   * Random source for stochastic depth in training. Default: the model's own generator (`model.rng`,
   * seeded from the constructor's `seed`), whose state a checkpoint can save and restore.
   */
  rng?: Rng;
}

/** A feature extractor: NHWC images `[B, H, W, C]` -> features `[B, numFeatures]`. */
export interface Backbone extends Module {
  readonly numFeatures: number;
  forward(x: Tensor, options?: ForwardOptions): Tensor;
}
