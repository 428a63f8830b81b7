import type { Variable } from '@ssl/tensor';

/** `[name, variable]` pairs, as `Module.namedParameters()` returns them (PyTorch names). */
export type NamedParameters = Array<[string, Variable]>;

export interface ParamGroup {
  params: NamedParameters;
  /** Learning rate; schedules set it every iteration. */
  lr: number;
  weightDecay: number;
  /** PAWS LARS: leave this group out of the trust-ratio adaptation (biases and BN). */
  larsExclude?: boolean;
}

export interface ParamGroupSpec {
  params: NamedParameters;
  lr?: number;
  weightDecay?: number;
  larsExclude?: boolean;
}

/**
 * DINO's `utils.get_params_groups`: trainable parameters split into [regularised, not
 * regularised (weightDecay 0)]. Not regularised: names ending in `.bias` and 1-D parameters
 * (norms). `cls_token`, `pos_embed` and `last_layer.weight_v` are regularised. Frozen
 * (non-trainable) parameters are left out, as `requires_grad=False` ones.
 */
export function getParamsGroups(named: NamedParameters): [ParamGroupSpec, ParamGroupSpec] {
  const regularized: NamedParameters = [];
  const notRegularized: NamedParameters = [];
  for (const [name, v] of named) {
    if (!v.trainable) continue;
    if (name.endsWith('.bias') || v.shape.length === 1) notRegularized.push([name, v]);
    else regularized.push([name, v]);
  }
  return [{ params: regularized }, { params: notRegularized, weightDecay: 0 }];
}

/**
 * PAWS's `init_opt` groups: names without `bias` and `bn` (substring match, as the official code)
 * get weight decay and LARS; the rest is excluded from LARS with weightDecay 0.
 */
export function pawsParamGroups(named: NamedParameters): [ParamGroupSpec, ParamGroupSpec] {
  const main: NamedParameters = [];
  const excluded: NamedParameters = [];
  for (const [name, v] of named) {
    if (!v.trainable) continue;
    if (name.includes('bias') || name.includes('bn')) excluded.push([name, v]);
    else main.push([name, v]);
  }
  return [{ params: main }, { params: excluded, larsExclude: true, weightDecay: 0 }];
}
