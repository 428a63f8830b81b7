import { tf } from '@ssl/tensor';
import type { Tensor, Variable } from '@ssl/tensor';
import type { ParamGroup, ParamGroupSpec } from './params.js';

/** Gradients keyed by parameter name; a missing (or null) entry means "no gradient" (p.grad is None). */
export type NamedGrads = Record<string, Tensor | null | undefined>;

/** Optimizer state for a checkpoint: tensors (safetensors) and JSON-able scalars (state.json). */
export interface OptimizerState {
  tensors: Record<string, Tensor>;
  scalars: {
    kind: string;
    groups: Array<{ lr: number; weightDecay: number }>;
    /** Per-parameter scalar state, e.g. Adam's step count. */
    perParam: Record<string, Record<string, number>>;
  };
}

/**
 * Base of the optimizers: parameter groups with per-iteration `lr`/`weightDecay`, per-parameter
 * state tensors held as non-trainable variables, one `tf.tidy` per parameter update.
 */
export abstract class Optimizer {
  abstract readonly kind: string;
  readonly paramGroups: ParamGroup[];
  /** Per-parameter state tensors by slot (`exp_avg`, `momentum_buffer`, ...) then parameter name. */
  protected readonly slots = new Map<string, Map<string, Variable>>();
  /** Per-parameter scalar state (e.g. `step`). */
  protected readonly perParam = new Map<string, Record<string, number>>();

  protected constructor(groups: ParamGroupSpec[], defaults: { lr: number; weightDecay: number }) {
    if (!Array.isArray(groups) || groups.length === 0) throw new Error(`${this.constructor.name}: expected at least one parameter group`);
    const seen = new Set<string>();
    this.paramGroups = groups.map((g, i) => {
      if (!g || !Array.isArray(g.params)) throw new Error(`${this.constructor.name}: group ${i} needs params: Array<[name, Variable]>`);
      for (const [name, v] of g.params) {
        if (typeof name !== 'string' || !(v instanceof tf.Variable)) {
          throw new Error(`${this.constructor.name}: group ${i} params must be [name, tf.Variable] pairs`);
        }
        if (seen.has(name)) throw new Error(`${this.constructor.name}: parameter '${name}' appears twice`);
        seen.add(name);
      }
      const out: ParamGroup = { params: g.params, lr: g.lr ?? defaults.lr, weightDecay: g.weightDecay ?? defaults.weightDecay };
      if (g.larsExclude !== undefined) out.larsExclude = g.larsExclude;
      return out;
    });
  }

  /**
   * Set this iteration's schedule values as DINO does: `lr` on every group, `weightDecay` on the
   * first (regularised) group only.
   */
  setSchedule(lr: number, weightDecay?: number): void {
    for (const g of this.paramGroups) g.lr = lr;
    const first = this.paramGroups[0];
    if (weightDecay !== undefined && first) first.weightDecay = weightDecay;
  }

  /** Apply one update from gradients keyed by parameter name. The gradients are not disposed. */
  abstract step(grads: NamedGrads): void;

  protected slot(slotName: string, paramName: string): Variable | undefined {
    return this.slots.get(slotName)?.get(paramName);
  }

  protected setSlot(slotName: string, paramName: string, value: Tensor): void {
    let m = this.slots.get(slotName);
    if (!m) this.slots.set(slotName, (m = new Map()));
    const cur = m.get(paramName);
    if (cur) cur.assign(value);
    else m.set(paramName, tf.variable(value, false));
  }

  protected paramNames(): Set<string> {
    return new Set(this.paramGroups.flatMap((g) => g.params.map(([n]) => n)));
  }

  /** Copies of the state tensors (`<slot>.<param>`) and the scalars. The caller owns the tensors. */
  getState(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    for (const [slotName, m] of this.slots) for (const [p, v] of m) tensors[`${slotName}.${p}`] = tf.clone(v);
    const perParam: Record<string, Record<string, number>> = {};
    for (const [p, s] of this.perParam) perParam[p] = { ...s };
    return {
      tensors,
      scalars: { kind: this.kind, groups: this.paramGroups.map((g) => ({ lr: g.lr, weightDecay: g.weightDecay })), perParam },
    };
  }

  /** Restore from `getState()` output; the given tensors are copied (not taken over). */
  setState(state: OptimizerState): void {
    const name = this.constructor.name;
    if (!state || !state.scalars || typeof state.tensors !== 'object') {
      throw new Error(`${name}.setState: expected { tensors, scalars } from getState()`);
    }
    if (state.scalars.kind !== this.kind) {
      throw new Error(`${name}.setState: state is for optimizer '${state.scalars.kind}', this is '${this.kind}'`);
    }
    if (state.scalars.groups.length !== this.paramGroups.length) {
      throw new Error(`${name}.setState: state has ${state.scalars.groups.length} groups, optimizer has ${this.paramGroups.length}`);
    }
    const names = this.paramNames();
    const shapes = new Map(this.paramGroups.flatMap((g) => g.params.map(([n, v]) => [n, v.shape] as const)));
    const incoming: Array<[string, string, Tensor]> = [];
    for (const [key, t] of Object.entries(state.tensors)) {
      const dot = key.indexOf('.');
      const slotName = key.slice(0, dot);
      const p = key.slice(dot + 1);
      if (dot < 0 || !names.has(p)) throw new Error(`${name}.setState: tensor '${key}' names no parameter of this optimizer`);
      if (!tf.util.arraysEqual(shapes.get(p) as number[], t.shape)) {
        throw new Error(`${name}.setState: '${key}' has shape [${t.shape}], parameter has [${shapes.get(p)}]`);
      }
      incoming.push([slotName, p, t]);
    }
    for (const m of this.slots.values()) for (const v of m.values()) v.dispose();
    this.slots.clear();
    for (const [slotName, p, t] of incoming) tf.tidy(() => this.setSlot(slotName, p, tf.cast(t, 'float32')));
    this.perParam.clear();
    for (const [p, s] of Object.entries(state.scalars.perParam)) this.perParam.set(p, { ...s });
    state.scalars.groups.forEach((g, i) => {
      const group = this.paramGroups[i] as ParamGroup;
      group.lr = g.lr;
      group.weightDecay = g.weightDecay;
    });
  }

  /** Free the state tensors. */
  dispose(): void {
    for (const m of this.slots.values()) for (const v of m.values()) v.dispose();
    this.slots.clear();
  }
}

/** `a * s` with `s` a JS number (cast to float32 as PyTorch casts a Python scalar). */
export function scale(a: Tensor, s: number): Tensor {
  return tf.mul(a, tf.scalar(s, 'float32'));
}
