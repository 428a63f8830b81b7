/**
 * `Module`: named parameters, buffers and children under the official PyTorch state-dict names.
 *
 * Registration order is the state-dict order, as in PyTorch: a module's own parameters, then its
 * own buffers, then each child in turn. Tensors live in our layout (convolutions HWIO, images NHWC);
 * `stateDict()`/`loadStateDict()` convert at the boundary so keys, shapes and layouts are PyTorch's
 * (Linear weight [out, in], conv weight OIHW).
 */
import { tf } from '@ssl/tensor';
import type { Tensor, Variable } from '@ssl/tensor';

/** How a tensor is stored here relative to PyTorch. `conv`: ours HWIO, PyTorch OIHW. */
export type TorchLayout = 'same' | 'conv';

interface Slot {
  variable: Variable;
  layout: TorchLayout;
}

export interface LoadStateDictOptions {
  /** Throw one error listing every missing key, unexpected key and shape mismatch (default true). */
  strict?: boolean;
  /**
   * Which section of a checkpoint holding both networks to load (`teacher.*` / `student.*` keys).
   * Default: `teacher` when the keys have sections and none matches as is (DINO releases the teacher).
   */
  section?: string;
}

export interface ShapeMismatch {
  key: string;
  expected: number[];
  got: number[];
}

export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
  mismatched: ShapeMismatch[];
  /** What was done to the keys before matching, e.g. `stripped 'module.' from 152 keys`. */
  stripped: string[];
}

function toTorch(t: Tensor, layout: TorchLayout): Tensor {
  // [kh, kw, in, out] -> [out, in, kh, kw]
  return layout === 'conv' ? tf.transpose(t, [3, 2, 0, 1]) : tf.clone(t);
}

function fromTorch(t: Tensor, layout: TorchLayout): Tensor {
  // [out, in, kh, kw] -> [kh, kw, in, out]
  return layout === 'conv' ? tf.transpose(t, [2, 3, 1, 0]) : t;
}

function torchShape(shape: number[], layout: TorchLayout): number[] {
  if (layout !== 'conv') return [...shape];
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  return [cout, cin, kh, kw];
}

/**
 * Sections of checkpoints that hold several networks, in the order one is chosen when none is
 * named: DINO releases the teacher; PAWS saves `encoder`; others `model`/`state_dict`.
 */
export const CHECKPOINT_SECTIONS = ['teacher', 'encoder', 'target_encoder', 'model', 'state_dict', 'student'] as const;
/** Wrappers in front of keys: DDP's `module.`, DINO's MultiCropWrapper `backbone.`, torch.compile's `_orig_mod.`. */
export const WRAPPER_PREFIXES = ['module.', 'backbone.', '_orig_mod.'] as const;

/** The wrapper prefix at the front of `key`, if any. */
export function wrapperPrefix(key: string): string | undefined {
  return WRAPPER_PREFIXES.find((p) => key.startsWith(p));
}

/**
 * Map checkpoint keys onto the expected ones: pick a teacher/student section, then strip leading
 * `module.` and `backbone.` from keys that do not match as they are.
 */
export function adaptStateDictKeys(
  keys: string[],
  expected: ReadonlySet<string>,
  section?: string,
): { map: Map<string, string>; stripped: string[] } {
  const stripped: string[] = [];
  let cur = keys.map((k) => [k, k] as [string, string]); // [new key, original key]
  let chosen = section;
  if (chosen === undefined && !cur.some(([k]) => expected.has(k))) {
    const present = CHECKPOINT_SECTIONS.filter((s) => keys.some((k) => k.startsWith(`${s}.`)));
    chosen = present[0];
  }
  if (chosen !== undefined) {
    const p = `${chosen}.`;
    const inside = cur.filter(([k]) => k.startsWith(p));
    if (inside.length === 0 && section !== undefined) {
      throw new Error(`loadStateDict: section '${section}' requested but no key starts with '${p}'`);
    }
    const dropped = cur.length - inside.length;
    cur = inside.map(([k, o]) => [k.slice(p.length), o]);
    stripped.push(`took section '${p}' (${inside.length} keys)${dropped ? `, left out ${dropped} keys outside it` : ''}`);
  }
  // Per key: peel known prefixes until the key is an expected one; a key that never matches is
  // reported fully peeled (e.g. `head.mlp.0.weight` when loading a DINO teacher into a bare ViT).
  const counts = new Map<string, number>();
  cur = cur.map(([k, o]) => {
    const chain = [k];
    for (let c = k, p = wrapperPrefix(c); p; p = wrapperPrefix(c)) {
      c = c.slice(p.length);
      chain.push(c);
    }
    const pick = chain.find((c) => expected.has(c)) ?? (chain[chain.length - 1] as string);
    for (let i = 0, c = k; c !== pick; i++) {
      const p = wrapperPrefix(c) as string;
      counts.set(p, (counts.get(p) ?? 0) + 1);
      c = c.slice(p.length);
    }
    return [pick, o];
  });
  for (const [p, n] of counts) stripped.push(`stripped '${p}' from ${n} keys`);
  const map = new Map<string, string>();
  for (const [k, o] of cur) map.set(k, o);
  return { map, stripped };
}

export class Module {
  /** Training mode: batch statistics in BatchNorm, stochastic depth on. Modules start in training mode. */
  training = true;
  private readonly _params = new Map<string, Slot>();
  private readonly _buffers = new Map<string, Slot>();
  private readonly _children = new Map<string, Module>();

  /**
   * Register a parameter. `value` is in our layout; `layout: 'conv'` marks an HWIO conv kernel.
   * `trainable: false` makes a frozen parameter (PyTorch `requires_grad=False`): it is in
   * `parameters()` and the state dict, but not in `trainableParameters()`.
   */
  protected registerParameter(
    name: string,
    value: Tensor,
    options: { layout?: TorchLayout; trainable?: boolean } = {},
  ): Variable {
    this.checkName(name);
    const variable = tf.variable(value, options.trainable ?? true);
    value.dispose();
    this._params.set(name, { variable, layout: options.layout ?? 'same' });
    return variable;
  }

  /** Register a buffer (state that is saved but not optimised, e.g. BatchNorm running statistics). */
  protected registerBuffer(name: string, value: Tensor): Variable {
    this.checkName(name);
    const variable = tf.variable(value, false);
    value.dispose();
    this._buffers.set(name, { variable, layout: 'same' });
    return variable;
  }

  /**
   * Register a child module under `name` (its keys become `name.key`). An empty name merges the
   * child's keys into this module's namespace, as when PyTorch code sets attributes on a backbone.
   */
  protected registerModule<M extends Module>(name: string, module: M): M {
    if (name !== '') this.checkName(name);
    this._children.set(name, module);
    return module;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`Module: invalid name '${name}'`);
    if (this._params.has(name) || this._buffers.has(name) || this._children.has(name)) {
      throw new Error(`Module: '${name}' is already registered`);
    }
  }

  private *walk(prefix: string, kind: 'params' | 'buffers' | 'both'): Generator<[string, Slot]> {
    if (kind !== 'buffers') for (const [n, s] of this._params) yield [prefix + n, s];
    if (kind !== 'params') for (const [n, s] of this._buffers) yield [prefix + n, s];
    for (const [n, m] of this._children) yield* m.walk(n === '' ? prefix : `${prefix}${n}.`, kind);
  }

  /** `[name, variable]` pairs in PyTorch state-dict order (our layout: conv kernels are HWIO). */
  namedParameters(): Array<[string, Variable]> {
    return [...this.walk('', 'params')].map(([n, s]) => [n, s.variable]);
  }

  /** All parameters, frozen ones included, in state-dict order (what EMA and checkpoints walk). */
  parameters(): Variable[] {
    return [...this.walk('', 'params')].map(([, s]) => s.variable);
  }

  /** Parameters with `trainable` set: what an optimiser and `tf.variableGrads` should get. */
  namedTrainableParameters(): Array<[string, Variable]> {
    return this.namedParameters().filter(([, v]) => v.trainable);
  }

  trainableParameters(): Variable[] {
    return this.parameters().filter((v) => v.trainable);
  }

  namedBuffers(): Array<[string, Variable]> {
    return [...this.walk('', 'buffers')].map(([n, s]) => [n, s.variable]);
  }

  /** Named sub-modules, depth first, with their full dotted names. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [n, m] of this._children) {
      out.push(...m.namedModules(n === '' ? prefix : prefix ? `${prefix}.${n}` : n));
    }
    return out;
  }

  /** Number of parameter elements (frozen ones included), as `sum(p.numel() for p in m.parameters())`. */
  numParameters(): number {
    return this.parameters().reduce((n, v) => n + v.size, 0);
  }

  /**
   * Parameters and buffers under PyTorch names, shapes and layouts, in state-dict order. The tensors
   * are new: the caller disposes them (`tf.dispose(Object.values(sd))`).
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [n, s] of this.walk('', 'both')) out[n] = toTorch(s.variable, s.layout);
    return out;
  }

  /** Expected state-dict keys with their PyTorch shapes. */
  stateDictShapes(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [n, s] of this.walk('', 'both')) out[n] = torchShape(s.variable.shape, s.layout);
    return out;
  }

  /**
   * Copy a PyTorch-named state dict into this module. Keys may carry the prefixes of official
   * checkpoints (`module.`, `backbone.`, `teacher.`/`student.` sections): they are stripped when that
   * matches more keys, and `stripped` says what was done. Strict (default): any missing key,
   * unexpected key or shape mismatch throws one error naming all of them, and nothing is loaded.
   * Non-strict: every matching tensor is loaded and the problems are returned. The input tensors
   * are not disposed.
   */
  loadStateDict(dict: Record<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    if (dict === null || typeof dict !== 'object') {
      throw new TypeError('loadStateDict: expected a dict of tensors (e.g. from readSafetensors)');
    }
    const strict = options.strict ?? true;
    const slots = new Map(this.walk('', 'both'));
    const { map, stripped } = adaptStateDictKeys(Object.keys(dict), new Set(slots.keys()), options.section);
    const missing: string[] = [];
    const mismatched: ShapeMismatch[] = [];
    const ok: Array<[Slot, Tensor]> = [];
    for (const [key, slot] of slots) {
      const orig = map.get(key);
      if (orig === undefined) {
        missing.push(key);
        continue;
      }
      const t = dict[orig];
      if (!(t instanceof tf.Tensor) || t.isDisposed) throw new TypeError(`loadStateDict: '${orig}' is not a live tf.Tensor`);
      const expected = torchShape(slot.variable.shape, slot.layout);
      if (!tf.util.arraysEqual(expected, t.shape)) mismatched.push({ key, expected, got: [...t.shape] });
      else ok.push([slot, t]);
    }
    const unexpected = [...map.keys()].filter((k) => !slots.has(k));
    if (strict && (missing.length || unexpected.length || mismatched.length)) {
      const parts: string[] = [];
      const list = (xs: string[]) => (xs.length > 30 ? `${xs.slice(0, 30).join(', ')}, ... (${xs.length - 30} more)` : xs.join(', '));
      if (missing.length) parts.push(`${missing.length} missing key(s): ${list(missing)}`);
      if (unexpected.length) parts.push(`${unexpected.length} unexpected key(s): ${list(unexpected)}`);
      if (mismatched.length) {
        parts.push(
          `${mismatched.length} shape mismatch(es): ${list(mismatched.map((m) => `${m.key} expected [${m.expected}] got [${m.got}]`))}`,
        );
      }
      const how = stripped.length ? ` (after: ${stripped.join('; ')})` : '';
      throw new Error(`loadStateDict(${this.constructor.name}, strict)${how}: ${parts.join('; ')}`);
    }
    for (const [slot, t] of ok) {
      tf.tidy(() => {
        let v = fromTorch(t, slot.layout);
        if (v.dtype !== slot.variable.dtype) v = tf.cast(v, slot.variable.dtype);
        slot.variable.assign(v);
      });
    }
    return { missing, unexpected, mismatched, stripped };
  }

  /** Set training mode on this module and every descendant (PyTorch `train(mode)`). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Free every parameter and buffer. The module is unusable afterwards. */
  dispose(): void {
    for (const [, s] of this.walk('', 'both')) s.variable.dispose();
  }
}
