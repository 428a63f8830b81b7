import { adamwUpdate, tf } from '@ssl/tensor';
import { Optimizer } from './optimizer.js';
import type { NamedGrads } from './optimizer.js';
import type { ParamGroupSpec } from './params.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Default weight decay of groups that do not set one (PyTorch's default 1e-2). */
  weightDecay?: number;
}

/**
 * `torch.optim.AdamW` (single-tensor path): decoupled weight decay `p *= 1 - lr wd`, moments,
 * bias correction with a per-parameter step count, `eps` added after the sqrt. A parameter without
 * a gradient is skipped entirely (no decay, no step count), as PyTorch skips `p.grad is None`.
 */
export class AdamW extends Optimizer {
  readonly kind = 'adamw';
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(groups: ParamGroupSpec[], options: AdamWOptions = {}) {
    super(groups, { lr: options.lr ?? 1e-3, weightDecay: options.weightDecay ?? 1e-2 });
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    for (const b of [this.beta1, this.beta2]) {
      if (!(b >= 0 && b < 1)) throw new Error(`AdamW: betas must be in [0, 1), got [${this.beta1}, ${this.beta2}]`);
    }
  }

  step(grads: NamedGrads): void {
    const { beta1, beta2, eps } = this;
    for (const group of this.paramGroups) {
      const { lr, weightDecay } = group;
      for (const [name, p] of group.params) {
        const g = grads[name];
        if (!g) continue;
        const st = this.perParam.get(name) ?? {};
        const step = (st.step ?? 0) + 1;
        st.step = step;
        this.perParam.set(name, st);
        tf.tidy(() => {
          // One pass over p, g, m, v (the fused kernel on the native backend); decoupled weight decay.
          const m0 = this.slot('exp_avg', name) ?? tf.zerosLike(p);
          const v0 = this.slot('exp_avg_sq', name) ?? tf.zerosLike(p);
          const r = adamwUpdate(p, g, m0, v0, { lr, beta1, beta2, eps, weightDecay, step });
          p.assign(r.param);
          this.setSlot('exp_avg', name, r.m);
          this.setSlot('exp_avg_sq', name, r.v);
        });
      }
    }
  }
}
