import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { Optimizer } from './optimizer.js';
import type { NamedGrads } from './optimizer.js';
import type { ParamGroupSpec } from './params.js';

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** `torch.optim.SGD` dampening (default 0). */
  dampening?: number;
}

function checkSgd(name: string, o: SGDOptions): void {
  if (o.lr !== undefined && o.lr < 0) throw new Error(`${name}: invalid learning rate ${o.lr}`);
  if ((o.momentum ?? 0) < 0) throw new Error(`${name}: invalid momentum ${o.momentum}`);
  if ((o.weightDecay ?? 0) < 0) throw new Error(`${name}: invalid weightDecay ${o.weightDecay}`);
  if (o.nesterov && !(o.momentum ?? 0)) throw new Error(`${name}: nesterov needs momentum > 0`);
}

/**
 * `torch.optim.SGD` (DINO's `--optimizer sgd`, momentum 0.9): d = g + wd p; buf = d (first step)
 * or m buf + (1 - dampening) d; p -= lr (nesterov ? d + m buf : buf).
 */
export class SGD extends Optimizer {
  readonly kind: string = 'sgd';
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly dampening: number;

  constructor(groups: ParamGroupSpec[], options: SGDOptions = {}) {
    checkSgd('SGD', options);
    super(groups, { lr: options.lr ?? 0, weightDecay: options.weightDecay ?? 0 });
    this.momentum = options.momentum ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.dampening = options.dampening ?? 0;
  }

  step(grads: NamedGrads): void {
    const { momentum, nesterov, dampening } = this;
    for (const group of this.paramGroups) {
      const { lr, weightDecay } = group;
      for (const [name, p] of group.params) {
        const g = grads[name];
        if (!g) continue;
        tf.tidy(() => {
          let d: Tensor = weightDecay !== 0 ? tf.add(g, tf.mul(p, tf.scalar(weightDecay))) : g;
          if (momentum !== 0) {
            const prev = this.slot('momentum_buffer', name);
            const buf = prev
              ? tf.add(tf.mul(prev, tf.scalar(momentum)), tf.mul(d, tf.scalar(1 - dampening)))
              : tf.clone(d);
            this.setSlot('momentum_buffer', name, buf);
            d = nesterov ? tf.add(d, tf.mul(buf, tf.scalar(momentum))) : buf;
          }
          p.assign(tf.sub(p, tf.mul(d, tf.scalar(lr))));
        });
      }
    }
  }
}

/**
 * PAWS's SGD (suncet src/sgd.py): the learning rate is applied before the momentum accumulation:
 * d = -lr (g + wd p); buf = d (first step) or m buf + d; p += nesterov ? d + m buf : buf.
 * (With a changing lr this differs from `torch.optim.SGD`.)
 */
export class PawsSGD extends Optimizer {
  readonly kind: string = 'paws-sgd';
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(groups: ParamGroupSpec[], options: Omit<SGDOptions, 'dampening'> = {}) {
    checkSgd('PawsSGD', options);
    super(groups, { lr: options.lr ?? 0, weightDecay: options.weightDecay ?? 0 });
    this.momentum = options.momentum ?? 0;
    this.nesterov = options.nesterov ?? false;
  }

  step(grads: NamedGrads): void {
    this.stepWith(grads, (g) => g.weightDecay);
  }

  /** One update with each group's weight decay given by `wd` (LARS zeroes it for adapted groups). */
  protected stepWith(grads: NamedGrads, wd: (group: (typeof this.paramGroups)[number]) => number): void {
    const { momentum, nesterov } = this;
    for (const group of this.paramGroups) {
      const weightDecay = wd(group);
      const lr = group.lr;
      for (const [name, p] of group.params) {
        const g = grads[name];
        if (!g) continue;
        tf.tidy(() => {
          let d: Tensor = weightDecay !== 0 ? tf.add(g, tf.mul(p, tf.scalar(weightDecay))) : g;
          d = tf.mul(d, tf.scalar(-lr));
          if (momentum !== 0) {
            const prev = this.slot('momentum_buffer', name);
            const buf = prev ? tf.add(tf.mul(prev, tf.scalar(momentum)), d) : tf.clone(d);
            this.setSlot('momentum_buffer', name, buf);
            d = nesterov ? tf.add(d, tf.mul(buf, tf.scalar(momentum))) : buf;
          }
          p.assign(tf.add(p, d));
        });
      }
    }
  }
}
