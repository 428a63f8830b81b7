// A DINO-style ViT-Tiny train step in plain tf ops: the workload the native backend is tuned for.
// bench/vit_step.py is the same step in PyTorch; keep the two in step. The 'fused' variant swaps
// LayerNorm, GELU, attention and the AdamW update for @ssl/tensor's fused ops (see loadFusedOps).
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface VitConfig {
  img: number;
  localImg: number;
  patch: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  headHidden: number;
  headBottleneck: number;
  outDim: number;
  batch: number;
  globalCrops: number;
  localCrops: number;
}

export const VIT_TINY_BENCH: VitConfig = {
  img: 28,
  localImg: 12,
  patch: 4,
  dim: 192,
  depth: 12,
  heads: 3,
  mlpRatio: 4,
  headHidden: 512,
  headBottleneck: 128,
  outDim: 1024,
  batch: 32,
  globalCrops: 2,
  localCrops: 6,
};

/** The shapes of `ssl-train --preset fmnist_reference` (ViT 96/4/3, head 1024/512/256, batch 64, 2x28 + 4x12 crops). */
export const FMNIST_REFERENCE_BENCH: VitConfig = {
  ...VIT_TINY_BENCH,
  dim: 96,
  depth: 4,
  heads: 3,
  headHidden: 512,
  headBottleneck: 256,
  outDim: 1024,
  batch: 64,
  localCrops: 4,
};

type Params = Map<string, tf.Variable>;

function makeParams(cfg: VitConfig, seed: number, trainable: boolean): Params {
  const p: Params = new Map();
  let s = seed;
  const add = (name: string, shape: number[], std: number) => {
    const init = std === 0 ? tf.zeros(shape) : std === 1 ? tf.ones(shape) : tf.mul(tf.truncatedNormal(shape, 0, 1, 'float32', s++), std);
    p.set(name, tf.variable(init, trainable, `${seed}/${name}`));
    init.dispose();
  };
  const { dim, patch, mlpRatio } = cfg;
  const grid = cfg.img / patch;
  add('patch.w', [patch, patch, 1, dim], 0.02);
  add('patch.b', [dim], 0);
  add('cls', [1, 1, dim], 0.02);
  add('pos', [1, grid * grid + 1, dim], 0.02);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    add(`${b}.ln1.g`, [dim], 1);
    add(`${b}.ln1.b`, [dim], 0);
    add(`${b}.qkv.w`, [dim, 3 * dim], 0.02);
    add(`${b}.qkv.b`, [3 * dim], 0);
    add(`${b}.proj.w`, [dim, dim], 0.02);
    add(`${b}.proj.b`, [dim], 0);
    add(`${b}.ln2.g`, [dim], 1);
    add(`${b}.ln2.b`, [dim], 0);
    add(`${b}.fc1.w`, [dim, mlpRatio * dim], 0.02);
    add(`${b}.fc1.b`, [mlpRatio * dim], 0);
    add(`${b}.fc2.w`, [mlpRatio * dim, dim], 0.02);
    add(`${b}.fc2.b`, [dim], 0);
  }
  add('norm.g', [dim], 1);
  add('norm.b', [dim], 0);
  add('head.fc1.w', [dim, cfg.headHidden], 0.02);
  add('head.fc1.b', [cfg.headHidden], 0);
  add('head.fc2.w', [cfg.headHidden, cfg.headBottleneck], 0.02);
  add('head.fc2.b', [cfg.headBottleneck], 0);
  add('head.last.w', [cfg.headBottleneck, cfg.outDim], 0.02);
  return p;
}

const get = (p: Params, name: string): tf.Tensor => {
  const v = p.get(name);
  if (!v) throw new Error(`no parameter ${name}`);
  return v;
};

/** x @ w + b over the last axis: a matMul then an Add (plain), or one fused matMul with bias (fused). */
function linearWith(fusedBias: boolean) {
  return (x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor => {
    const inDim = x.shape[x.shape.length - 1]!;
    const rows = tf.reshape(x, [x.size / inDim, inDim]) as tf.Tensor2D;
    let y: tf.Tensor; // [rows, out]
    if (fusedBias) y = tf.fused.matMul({ a: rows, b: w as tf.Tensor2D, bias: b });
    else {
      y = tf.matMul(rows, w);
      if (b) y = tf.add(y, b);
    }
    return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1]!]);
  };
}

/** The ops the two variants differ in. */
export interface StepOps {
  linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor;
  layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor;
  gelu(x: tf.Tensor): tf.Tensor;
  /** A block's attention on its packed qkv [B, N, 3 H hd]: softmax(q k^T scale) v per head, heads merged: [B, N, H hd]. */
  selfAttention(qkv: tf.Tensor, heads: number, scale: number): tf.Tensor;
  /** Value and gradients of a scalar loss for the given variables (tf.variableGrads' contract). */
  variableGrads(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap };
  /** One AdamW step of one parameter: new param, m, v. */
  adamw(
    p: tf.Tensor,
    g: tf.Tensor,
    m: tf.Tensor,
    v: tf.Tensor,
    s: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number },
  ): { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor };
}

/** The step: every op a plain tfjs op (autograd through all of them). */
export const PLAIN_OPS: StepOps = {
  linear: linearWith(false),
  layerNorm(x, g, b, eps) {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
  },
  gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)),
  variableGrads: (f, vars) => tf.variableGrads(f, vars),
  // timm's reshape/permute into heads, `(q @ k.transpose(-2, -1)) * scale`, softmax, `@ v`, heads merged.
  selfAttention(qkv, H, scale) {
    const [B, N, C] = qkv.shape as [number, number, number];
    const hd = C / (3 * H);
    const [q, k, v] = tf.unstack(tf.transpose(tf.reshape(qkv, [B, N, 3, H, hd]), [2, 0, 3, 1, 4])) as [tf.Tensor, tf.Tensor, tf.Tensor]; // [B, H, N, hd]
    const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)); // [B, H, N, N]
    return tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [B, N, C / 3]);
  },
  // AdamW (decoupled weight decay), bias-corrected.
  adamw(w, g, m0, v0, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step: t }) {
    const m = tf.add(tf.mul(m0, b1), tf.mul(g, 1 - b1));
    const v = tf.add(tf.mul(v0, b2), tf.mul(tf.square(g), 1 - b2));
    const update = tf.div(tf.div(m, 1 - b1 ** t), tf.add(tf.sqrt(tf.div(v, 1 - b2 ** t)), eps));
    return { param: tf.sub(w, tf.mul(tf.add(update, tf.mul(w, wd)), lr)), m, v };
  },
};

/**
 * @ssl/tensor's layerNorm, gelu, selfAttention and adamwUpdate, which run the fused Ssl* kernels on this backend,
 * and its variableGrads, which frees each intermediate once the backward pass has used it.
 * @ssl/tensor depends on this package, so it cannot be a dependency here: the bench loads its
 * build from the workspace at run time (undefined when packages/tensor is not built).
 */
export async function loadFusedOps(): Promise<StepOps | undefined> {
  const here = dirname(fileURLToPath(import.meta.url));
  const entry = join(here, '..', '..', 'tensor', 'dist', 'index.js');
  if (!existsSync(entry)) return undefined;
  const t = (await import(pathToFileURL(entry).href)) as {
    layerNorm: StepOps['layerNorm'];
    gelu: StepOps['gelu'];
    selfAttention: StepOps['selfAttention'];
    variableGrads: StepOps['variableGrads'];
    adamwUpdate: StepOps['adamw'];
  };
  // nn.Linear's addmm: the bias rides in the GEMM's epilogue (the models' Linear does the same).
  const fused: StepOps = { linear: linearWith(true), layerNorm: t.layerNorm, gelu: t.gelu, selfAttention: t.selfAttention, variableGrads: t.variableGrads, adamw: t.adamwUpdate };
  // BENCH_UNFUSE=selfAttention,gelu,...: those ops as plain tfjs ops, to measure what each fused kernel brings.
  for (const name of (process.env.BENCH_UNFUSE ?? '').split(',').filter(Boolean)) {
    if (!(name in PLAIN_OPS) || name === 'linear') throw new Error(`BENCH_UNFUSE: no fused op '${name}' (layerNorm, gelu, selfAttention, variableGrads, adamw)`);
    (fused as unknown as Record<string, unknown>)[name] = PLAIN_OPS[name as keyof StepOps];
  }
  return fused;
}

function block(p: Params, i: number, x: tf.Tensor, cfg: VitConfig, ops: StepOps): tf.Tensor {
  const { layerNorm, gelu, linear, selfAttention } = ops;
  const pre = `blocks.${i}`;
  const D = x.shape[2]!;
  const H = cfg.heads;
  const hd = D / H;
  const h = layerNorm(x, get(p, `${pre}.ln1.g`), get(p, `${pre}.ln1.b`), 1e-6);
  const o = selfAttention(linear(h, get(p, `${pre}.qkv.w`), get(p, `${pre}.qkv.b`)), H, 1 / Math.sqrt(hd)); // [B, N, D]
  x = tf.add(x, linear(o, get(p, `${pre}.proj.w`), get(p, `${pre}.proj.b`)));
  const m = layerNorm(x, get(p, `${pre}.ln2.g`), get(p, `${pre}.ln2.b`), 1e-6);
  return tf.add(x, linear(gelu(linear(m, get(p, `${pre}.fc1.w`), get(p, `${pre}.fc1.b`))), get(p, `${pre}.fc2.w`), get(p, `${pre}.fc2.b`)));
}

/** Images [B, S, S, 1] -> head logits [B, outDim]. */
function forward(p: Params, images: tf.Tensor4D, cfg: VitConfig, ops: StepOps): tf.Tensor {
  const [B, S] = images.shape;
  const grid = S / cfg.patch;
  const fullGrid = cfg.img / cfg.patch;
  // Patch embedding as patchify + matmul: the same math as a stride-`patch` conv, and it runs on
  // wasm too (which has no Conv2DBackpropFilter).
  const P = cfg.patch;
  const patches = tf.reshape(tf.transpose(tf.reshape(images, [B, grid, P, grid, P]), [0, 1, 3, 2, 4]), [B, grid * grid, P * P]); // [B, g*g, P*P]
  let x = ops.linear(patches, tf.reshape(get(p, 'patch.w'), [P * P, cfg.dim]), get(p, 'patch.b')); // [B, g*g, D]
  const cls = tf.tile(get(p, 'cls'), [B, 1, 1]);
  x = tf.concat([cls, x], 1); // [B, 1 + g*g, D]
  const pos = get(p, 'pos');
  let posPatch = tf.slice(pos, [0, 1, 0], [1, fullGrid * fullGrid, cfg.dim]);
  if (grid !== fullGrid) {
    // Local crops: resize the position grid, as DINO's interpolate_pos_encoding does (bicubic there).
    const g4 = tf.reshape(posPatch, [1, fullGrid, fullGrid, cfg.dim]) as tf.Tensor4D;
    posPatch = tf.reshape(tf.image.resizeBilinear(g4, [grid, grid]), [1, grid * grid, cfg.dim]);
  }
  x = tf.add(x, tf.concat([tf.slice(pos, [0, 0, 0], [1, 1, cfg.dim]), posPatch], 1));
  for (let i = 0; i < cfg.depth; i++) x = block(p, i, x, cfg, ops);
  x = ops.layerNorm(x, get(p, 'norm.g'), get(p, 'norm.b'), 1e-6);
  const clsOut = tf.reshape(tf.slice(x, [0, 0, 0], [B, 1, cfg.dim]), [B, cfg.dim]);
  let h = ops.gelu(ops.linear(clsOut, get(p, 'head.fc1.w'), get(p, 'head.fc1.b')));
  h = ops.linear(h, get(p, 'head.fc2.w'), get(p, 'head.fc2.b'));
  h = tf.div(h, tf.add(tf.norm(h, 2, -1, true), 1e-12));
  return ops.linear(h, get(p, 'head.last.w'));
}

export interface VitStep {
  step(): number;
  numParams: number;
  dispose(): void;
}

/**
 * One DINO-like step: student on 2 global + 6 local crops, teacher (no grad) on the globals,
 * cross-entropy of student log-softmax against teacher softmax, hand AdamW, EMA teacher update.
 */
export function makeVitStep(cfg: VitConfig = VIT_TINY_BENCH, seed = 0, ops: StepOps = PLAIN_OPS): VitStep {
  const student = makeParams(cfg, seed + 1, true);
  const teacher = makeParams(cfg, seed + 1000, false);
  const m1 = new Map<string, tf.Variable>();
  const m2 = new Map<string, tf.Variable>();
  for (const [n, v] of student) {
    m1.set(n, tf.variable(tf.zerosLike(v), false));
    m2.set(n, tf.variable(tf.zerosLike(v), false));
  }
  const globals = tf.randomUniform([cfg.globalCrops * cfg.batch, cfg.img, cfg.img, 1], 0, 1, 'float32', seed + 1) as tf.Tensor4D;
  const locals = tf.randomUniform([cfg.localCrops * cfg.batch, cfg.localImg, cfg.localImg, 1], 0, 1, 'float32', seed + 2) as tf.Tensor4D;
  const [lr, wd, b1, b2, eps, momentum] = [1e-4, 0.04, 0.9, 0.999, 1e-8, 0.996];
  let t = 0;
  const studentVars = [...student.values()];

  const step = (): number => {
    t += 1;
    return tf.tidy(() => {
      // Own scope: the teacher's intermediates are freed before the student runs (torch.no_grad does the same).
      const targets = tf.tidy(() => tf.softmax(tf.div(forward(teacher, globals, cfg, ops), 0.04))); // [2B, out]
      const targetChunks = tf.split(targets, cfg.globalCrops); // each [B, out]
      const { value, grads } = ops.variableGrads(() => {
        const sg = tf.split(tf.logSoftmax(tf.div(forward(student, globals, cfg, ops), 0.1)), cfg.globalCrops);
        const sl = tf.split(tf.logSoftmax(tf.div(forward(student, locals, cfg, ops), 0.1)), cfg.localCrops);
        const views = [...sg, ...sl];
        let total: tf.Tensor = tf.scalar(0);
        let terms = 0;
        targetChunks.forEach((q, iq) => {
          views.forEach((s, v) => {
            if (v === iq) return;
            total = tf.add(total, tf.mean(tf.sum(tf.mul(tf.neg(q), s), -1)));
            terms += 1;
          });
        });
        return tf.div(total, terms) as tf.Scalar;
      }, studentVars);
      for (const [name, w] of student) {
        const g = grads[w.name];
        if (!g) continue;
        const m = m1.get(name)!;
        const v = m2.get(name)!;
        const r = ops.adamw(w, g, m, v, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step: t });
        w.assign(r.param);
        m.assign(r.m);
        v.assign(r.v);
      }
      for (const [name, w] of teacher) {
        w.assign(tf.add(tf.mul(w, momentum), tf.mul(student.get(name)!, 1 - momentum)));
      }
      return value.dataSync()[0]!;
    });
  };

  let numParams = 0;
  for (const v of student.values()) numParams += v.size;
  return {
    step,
    numParams,
    dispose() {
      for (const m of [student, teacher, m1, m2]) for (const v of m.values()) v.dispose();
      globals.dispose();
      locals.dispose();
    },
  };
}
