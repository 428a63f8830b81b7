/**
 * Vision Transformer as in DINO's `vision_transformer.py`: conv patch embedding, CLS token, learned
 * position embedding (bicubic-interpolated for other input sizes exactly as the official code),
 * pre-norm blocks with stochastic depth, final LayerNorm. Inputs are NHWC.
 */
import { Rng, selfAttention, tf } from '@ssl/tensor';
import type { Tensor, Variable } from '@ssl/tensor';
import type { Backbone, ForwardOptions } from './backbone.js';
import { Conv2d, LayerNorm, Linear, gelu, toRng, truncNormal } from './layers.js';
import type { InitRng } from './layers.js';
import { Module } from './module.js';

export interface VisionTransformerOptions {
  /** Training image size the position embedding is made for (square). Default 224. */
  imgSize?: number;
  patchSize?: number;
  inChans?: number;
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  mlpRatio?: number;
  /** Bias in the qkv projection. Default true, as every DINO preset. */
  qkvBias?: boolean;
  /** Stochastic depth: rate rises linearly from 0 (first block) to this (last block). Default 0. */
  dropPathRate?: number;
  /** LayerNorm eps; default 1e-6 as the DINO presets. */
  normEps?: number;
  /** Initial weights: a generator or a seed. The forward generator `rng` is forked from it. */
  seed?: InitRng;
}

/**
 * PyTorch's bicubic resampling matrix along one axis (`upsample_bicubic2d`, A = -0.75,
 * align_corners false): `out[o] = sum_i M[o, i] in[i]`. `scale` is the scale factor given to
 * `interpolate`; PyTorch maps coordinates with it (src = (o + 0.5) / scale - 0.5), not with
 * outSize / inSize. Indices outside the input are clamped to the border.
 */
export function bicubicMatrix(inSize: number, outSize: number, scale: number): Float64Array {
  const A = -0.75;
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| <= 1
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
  const m = new Float64Array(outSize * inSize);
  const step = 1 / scale;
  for (let o = 0; o < outSize; o++) {
    const src = step * (o + 0.5) - 0.5;
    const i0 = Math.floor(src);
    const t = src - i0;
    const w = [far(t + 1), near(t), near(1 - t), far(2 - t)];
    for (let j = 0; j < 4; j++) {
      const idx = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
      m[o * inSize + idx] = (m[o * inSize + idx] as number) + (w[j] as number);
    }
  }
  return m;
}

class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly scale: number;

  constructor(readonly dim: number, readonly numHeads: number, qkvBias: boolean, rng: Rng) {
    super();
    if (dim % numHeads !== 0) throw new Error(`VisionTransformer: embedDim ${dim} must be divisible by numHeads ${numHeads}`);
    this.scale = (dim / numHeads) ** -0.5;
    this.qkv = this.registerModule('qkv', new Linear(dim, dim * 3, { bias: qkvBias, init: 'trunc_normal', rng }));
    this.proj = this.registerModule('proj', new Linear(dim, dim, { init: 'trunc_normal', rng }));
  }

  /** x `[B, N, D]` -> q, k, v, each `[B, heads, N, hd]`. */
  private qkvHeads(x: Tensor): [Tensor, Tensor, Tensor] {
    const [B, N, D] = x.shape as [number, number, number];
    const h = this.numHeads;
    const qkv = tf.reshape(this.qkv.forward(x), [B, N, 3, h, D / h]); // [B, N, 3, heads, hd]
    return tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4])) as [Tensor, Tensor, Tensor]; // 3 x [B, heads, N, hd]
  }

  /** x `[B, N, D]` -> `[B, N, D]`: softmax(q k^T scale) v per head through `selfAttention` (fused kernels where the backend has them). */
  forward(x: Tensor): Tensor {
    return this.proj.forward(selfAttention(this.qkv.forward(x), this.numHeads, this.scale));
  }

  /** The attention weights `[B, heads, N, N]` (for attention maps; the forward never forms them where fused). */
  attentionWeights(x: Tensor): Tensor {
    const [q, k] = this.qkvHeads(x);
    return tf.softmax(tf.matMul(tf.mul(q, this.scale), k, false, true));
  }
}

class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(dim: number, hidden: number, rng: Rng) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(dim, hidden, { init: 'trunc_normal', rng }));
    this.fc2 = this.registerModule('fc2', new Linear(hidden, dim, { init: 'trunc_normal', rng }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}

/** Stochastic depth: per sample, keep the branch with probability 1 - p and scale it by 1 / (1 - p). */
function dropPath(x: Tensor, p: number, rng: Rng): Tensor {
  const B = x.shape[0] as number;
  const keep = 1 - p;
  const mask = new Float32Array(B);
  for (let b = 0; b < B; b++) mask[b] = Math.floor(keep + rng.random()) / keep;
  return tf.mul(x, tf.tensor(mask, [B, ...Array(x.rank - 1).fill(1)]));
}

class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(dim: number, heads: number, mlpRatio: number, qkvBias: boolean, readonly dropPathRate: number, eps: number, rng: Rng) {
    super();
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, eps));
    this.attn = this.registerModule('attn', new Attention(dim, heads, qkvBias, rng));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, eps));
    this.mlp = this.registerModule('mlp', new Mlp(dim, Math.trunc(dim * mlpRatio), rng));
  }

  forward(x: Tensor, rng: Rng): Tensor {
    const drop = this.training && this.dropPathRate > 0;
    let y = this.attn.forward(this.norm1.forward(x));
    x = tf.add(x, drop ? dropPath(y, this.dropPathRate, rng) : y);
    y = this.mlp.forward(this.norm2.forward(x));
    return tf.add(x, drop ? dropPath(y, this.dropPathRate, rng) : y);
  }
}

class PatchEmbed extends Module {
  readonly proj: Conv2d;
  constructor(readonly patchSize: number, inChans: number, embedDim: number, rng: Rng) {
    super();
    // PyTorch default init for the patch conv, as the official code (its _init_weights skips convs).
    this.proj = this.registerModule('proj', new Conv2d(inChans, embedDim, patchSize, { stride: patchSize, rng }));
  }
}

class Blocks extends Module {
  readonly list: Block[] = [];
  add(b: Block): void {
    this.list.push(this.registerModule(String(this.list.length), b));
  }
}

export class VisionTransformer extends Module implements Backbone {
  readonly imgSize: number;
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  readonly numFeatures: number;
  readonly clsToken: Variable;
  readonly posEmbed: Variable;
  readonly patchEmbed: PatchEmbed;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  /** Generator for stochastic depth when a forward call passes none. */
  rng: Rng;
  private readonly interpCache = new Map<string, Float32Array>();

  constructor(options: VisionTransformerOptions = {}) {
    super();
    const o = { imgSize: 224, patchSize: 16, inChans: 3, embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4, qkvBias: true, dropPathRate: 0, normEps: 1e-6, ...options };
    for (const k of ['imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`VisionTransformer: ${k} must be a positive integer, got ${o[k]}`);
    }
    if (!(o.dropPathRate >= 0 && o.dropPathRate < 1)) throw new Error(`VisionTransformer: dropPathRate must be in [0, 1), got ${o.dropPathRate}`);
    if (o.imgSize < o.patchSize) throw new Error(`VisionTransformer: imgSize ${o.imgSize} is smaller than patchSize ${o.patchSize}`);
    this.imgSize = o.imgSize;
    this.patchSize = o.patchSize;
    this.inChans = o.inChans;
    this.embedDim = o.embedDim;
    this.depth = o.depth;
    this.numHeads = o.numHeads;
    this.numFeatures = o.embedDim;
    const init = toRng(o.seed);
    this.rng = init.fork('drop_path');
    const D = o.embedDim;
    const numPatches = Math.floor(o.imgSize / o.patchSize) ** 2;
    // Registration order = official state-dict order: cls_token, pos_embed, patch_embed, blocks, norm.
    this.clsToken = this.registerParameter('cls_token', tf.zeros([1, 1, D]));
    this.posEmbed = this.registerParameter('pos_embed', tf.zeros([1, numPatches + 1, D]));
    this.patchEmbed = this.registerModule('patch_embed', new PatchEmbed(o.patchSize, o.inChans, D, init));
    const blocks = this.registerModule('blocks', new Blocks());
    for (let i = 0; i < o.depth; i++) {
      const rate = o.depth > 1 ? (o.dropPathRate * i) / (o.depth - 1) : 0; // torch.linspace(0, rate, depth)
      blocks.add(new Block(D, o.numHeads, o.mlpRatio, o.qkvBias, rate, o.normEps, init));
    }
    this.blocks = blocks.list;
    this.norm = this.registerModule('norm', new LayerNorm(D, o.normEps));
    // Inside tidy so the drawn tensors are freed once assigned (assign keeps its own reference).
    tf.tidy(() => this.posEmbed.assign(truncNormal(this.posEmbed.shape, 0.02, init)));
    tf.tidy(() => this.clsToken.assign(truncNormal(this.clsToken.shape, 0.02, init)));
  }

  private checkInput(x: Tensor): void {
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3] !== this.inChans) {
      throw new Error(`VisionTransformer: input must be NHWC [B, H, W, ${this.inChans}], got ${x instanceof tf.Tensor ? `[${x.shape}]` : typeof x}`);
    }
    if ((x.shape[1] as number) < this.patchSize || (x.shape[2] as number) < this.patchSize) {
      throw new Error(`VisionTransformer: input ${x.shape[1]}x${x.shape[2]} is smaller than one ${this.patchSize}px patch`);
    }
  }

  /** Resampling matrix `[gh*gw, N]` for the patch position embeddings at a `gh x gw` grid. */
  private interpMatrix(H: number, W: number): Float32Array {
    const key = `${H}x${W}`;
    let m = this.interpCache.get(key);
    if (m) return m;
    const N = (this.posEmbed.shape[1] as number) - 1;
    const gs = Math.trunc(Math.sqrt(N));
    // Official quirk: +0.1 "to avoid floating point error", and the scale is given as a factor, so
    // PyTorch maps coordinates by (g + 0.1) / sqrt(N), not by g / sqrt(N).
    // Official naming: w0 comes from dim 2 of NCHW, the height.
    const sh = (Math.floor(H / this.patchSize) + 0.1) / Math.sqrt(N);
    const sw = (Math.floor(W / this.patchSize) + 0.1) / Math.sqrt(N);
    const oh = Math.floor(gs * sh);
    const ow = Math.floor(gs * sw);
    const mh = bicubicMatrix(gs, oh, sh);
    const mw = bicubicMatrix(gs, ow, sw);
    // kron(mh, mw): row (y * ow + x), column (i * gs + j)
    m = new Float32Array(oh * ow * gs * gs);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const row = (y * ow + x) * gs * gs;
        for (let i = 0; i < gs; i++) {
          const a = mh[y * gs + i] as number;
          if (a === 0) continue;
          for (let j = 0; j < gs; j++) m[row + i * gs + j] = a * (mw[x * gs + j] as number);
        }
      }
    }
    this.interpCache.set(key, m);
    return m;
  }

  /** Position embedding for an H x W input, `[1, gh*gw + 1, D]` (official `interpolate_pos_encoding`). */
  interpolatePosEncoding(H: number, W: number): Tensor {
    const N = (this.posEmbed.shape[1] as number) - 1;
    const gh = Math.floor(H / this.patchSize);
    const gw = Math.floor(W / this.patchSize);
    if (gh * gw === N && H === W) return this.posEmbed;
    const D = this.embedDim;
    const m = this.interpMatrix(H, W);
    const rows = m.length / N;
    if (rows !== gh * gw) throw new Error(`VisionTransformer: interpolated grid has ${rows} cells, expected ${gh}x${gw}`);
    const cls = tf.slice(this.posEmbed, [0, 0, 0], [1, 1, D]);
    const patch = tf.reshape(tf.slice(this.posEmbed, [0, 1, 0], [1, N, D]), [N, D]);
    const resized = tf.matMul(tf.tensor2d(m, [rows, N]), patch); // [gh*gw, D]
    return tf.concat([cls, tf.reshape(resized, [1, rows, D])], 1);
  }

  /** Patch tokens with the CLS token in front, plus position embedding: `[B, N+1, D]`. */
  prepareTokens(x: Tensor): Tensor {
    this.checkInput(x);
    const [B, H, W] = x.shape as [number, number, number, number];
    const p = this.patchEmbed.proj.forward(x); // [B, gh, gw, D]
    const [, gh, gw, D] = p.shape as [number, number, number, number];
    const tokens = tf.reshape(p, [B, gh * gw, D]); // row-major grid, as PyTorch's flatten(2)
    const cls = B === 1 ? this.clsToken : tf.tile(this.clsToken, [B, 1, 1]); // [B, 1, D]
    return tf.add(tf.concat([cls, tokens], 1), this.interpolatePosEncoding(H, W));
  }

  private runBlocks(x: Tensor, upTo: number, rng: Rng, each?: (x: Tensor, i: number) => void): Tensor {
    for (let i = 0; i < upTo; i++) {
      x = (this.blocks[i] as Block).forward(x, rng);
      each?.(x, i);
    }
    return x;
  }

  /** All tokens after the final norm: `[B, N+1, D]` (CLS first). */
  forwardTokens(x: Tensor, options: ForwardOptions = {}): Tensor {
    return tf.tidy(() => this.norm.forward(this.runBlocks(this.prepareTokens(x), this.depth, options.rng ?? this.rng)));
  }

  /** CLS token after the final norm: `[B, D]`. */
  forward(x: Tensor, options: ForwardOptions = {}): Tensor {
    return tf.tidy(() => {
      const t = this.runBlocks(this.prepareTokens(x), this.depth, options.rng ?? this.rng);
      const [B, , D] = t.shape as [number, number, number];
      return this.norm.forward(tf.reshape(tf.slice(t, [0, 0, 0], [B, 1, D]), [B, D]));
    });
  }

  /** Attention weights of the last block: `[B, heads, N+1, N+1]`. */
  getLastSelfAttention(x: Tensor, options: ForwardOptions = {}): Tensor {
    return tf.tidy(() => {
      const t = this.runBlocks(this.prepareTokens(x), this.depth - 1, options.rng ?? this.rng);
      const last = this.blocks[this.depth - 1] as Block;
      return last.attn.attentionWeights(last.norm1.forward(t));
    });
  }

  /** Outputs of the last `n` blocks, each through the final norm: `n` tensors `[B, N+1, D]`. */
  getIntermediateLayers(x: Tensor, n = 1, options: ForwardOptions = {}): Tensor[] {
    if (!Number.isInteger(n) || n < 1 || n > this.depth) {
      throw new Error(`getIntermediateLayers: n must be an integer in [1, ${this.depth}], got ${n}`);
    }
    return tf.tidy(() => {
      const out: Tensor[] = [];
      this.runBlocks(this.prepareTokens(x), this.depth, options.rng ?? this.rng, (t, i) => {
        if (this.depth - i <= n) out.push(this.norm.forward(t));
      });
      return out;
    });
  }
}
