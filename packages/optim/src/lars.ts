import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { Optimizer } from './optimizer.js';
import type { NamedGrads } from './optimizer.js';
import type { ParamGroupSpec } from './params.js';
import { PawsSGD } from './sgd.js';

export interface LARSOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** Trust coefficient; PAWS's `init_opt` uses 0.001. */
  trustCoefficient?: number;
  eps?: number;
}

/**
 * PAWS's LARS (suncet src/lars.py) around PAWS's SGD. For each group not marked `larsExclude`,
 * each parameter with a gradient and non-zero parameter and gradient norms gets
 * g <- (g + wd p) * tc ||p|| / (||g|| + wd ||p|| + eps), and SGD then runs with that group's
 * weight decay set to 0. The trust ratio is not clipped. Excluded groups (biases, BN) go to SGD
 * unchanged, with their own weight decay.
 */
export class LARS extends PawsSGD {
  override readonly kind = 'paws-lars';
  readonly trustCoefficient: number;
  readonly eps: number;

  constructor(groups: ParamGroupSpec[], options: LARSOptions = {}) {
    super(groups, { lr: options.lr ?? 0, momentum: options.momentum ?? 0.9, weightDecay: options.weightDecay ?? 0, nesterov: options.nesterov ?? false });
    this.trustCoefficient = options.trustCoefficient ?? 0.02;
    this.eps = options.eps ?? 1e-8;
  }

  override step(grads: NamedGrads): void {
    const adapted: NamedGrads = { ...grads };
    const made: Tensor[] = [];
    for (const group of this.paramGroups) {
      if (group.larsExclude) continue;
      const wd = group.weightDecay;
      for (const [name, p] of group.params) {
        const g = grads[name];
        if (!g) continue;
        const a = tf.tidy(() => {
          const pNorm = tf.norm(p);
          const gNorm = tf.norm(g);
          const adaptiveLr = tf.div(
            tf.mul(pNorm, tf.scalar(this.trustCoefficient)),
            tf.add(tf.add(gNorm, tf.mul(pNorm, tf.scalar(wd))), tf.scalar(this.eps)),
          );
          const both = tf.logicalAnd(tf.notEqual(pNorm, 0), tf.notEqual(gNorm, 0));
          // only when both norms are non-zero: decay folded into the gradient, then scaled
          return tf.where(both, tf.mul(tf.add(g, tf.mul(p, tf.scalar(wd))), adaptiveLr), g);
        });
        made.push(a);
        adapted[name] = a;
      }
    }
    try {
      this.stepWith(adapted, (group) => (group.larsExclude ? group.weightDecay : 0));
    } finally {
      tf.dispose(made);
    }
  }
}

export interface DinoLARSOptions {
  lr?: number;
  weightDecay?: number;
  momentum?: number;
  eta?: number;
}

/**
 * DINO's `utils.LARS` (`--optimizer lars`, from Barlow Twins): for parameters that are not 1-D,
 * d = (g + wd p) * (eta ||p|| / ||d||, or 1 when a norm is 0); mu = m mu + d; p -= lr mu.
 */
export class DinoLARS extends Optimizer {
  readonly kind = 'dino-lars';
  readonly momentum: number;
  readonly eta: number;

  constructor(groups: ParamGroupSpec[], options: DinoLARSOptions = {}) {
    super(groups, { lr: options.lr ?? 0, weightDecay: options.weightDecay ?? 0 });
    this.momentum = options.momentum ?? 0.9;
    this.eta = options.eta ?? 0.001;
  }

  step(grads: NamedGrads): void {
    for (const group of this.paramGroups) {
      for (const [name, p] of group.params) {
        const g = grads[name];
        if (!g) continue;
        tf.tidy(() => {
          let d: Tensor = g;
          if (p.rank !== 1) {
            d = tf.add(g, tf.mul(p, tf.scalar(group.weightDecay)));
            const pNorm = tf.norm(p);
            const uNorm = tf.norm(d);
            const one = tf.onesLike(pNorm);
            const q = tf.where(
              tf.greater(pNorm, 0),
              tf.where(tf.greater(uNorm, 0), tf.div(tf.mul(pNorm, tf.scalar(this.eta)), uNorm), one),
              one,
            );
            d = tf.mul(d, q);
          }
          const mu0: Tensor = this.slot('mu', name) ?? tf.zerosLike(p);
          const mu = tf.add(tf.mul(mu0, tf.scalar(this.momentum)), d);
          this.setSlot('mu', name, mu);
          p.assign(tf.sub(p, tf.mul(mu, tf.scalar(group.lr))));
        });
      }
    }
  }
}
