import { DType, encodeModel, GraphBuilder, type ModelMeta } from './graph.js';
import { inferModelSpec, type VitSpecOptions } from '@ssl/models';
import { take, type StateDict } from './state.js';

/** ViT hyper-parameters that the weights alone do not fix. */
export interface ViTExportConfig {
  numHeads: number;
  /** LayerNorm epsilon; DINO's vit_tiny/small/base use 1e-6. */
  layerNormEps?: number;
}

/**
 * The ViT spec of a state dict (`inferModelSpec` of @ssl/models: the one place that reads shapes
 * off the official names), with the head count and LayerNorm eps of `config`.
 */
function vitSpec(sd: StateDict, config: ViTExportConfig): VitSpecOptions {
  const spec = inferModelSpec(sd, { numHeads: config.numHeads });
  if (spec.arch !== 'vit') throw new Error(`ViT export: the state dict holds a ${spec.arch}, not a ViT`);
  return { ...spec.options, ...(config.layerNormEps !== undefined ? { normEps: config.layerNormEps } : {}) };
}

/**
 * Builds the ONNX graph of a DINO VisionTransformer backbone.
 *
 * Input `input` [B, C, H, W] float (NCHW, normalised pixels); B, H, W dynamic.
 * Outputs: `cls` [B, D] (CLS token after the final norm, the DINO feature), `tokens` [B, N+1, D]
 * (all tokens after the final norm), `attention` [B, heads, N+1, N+1] (last block's softmax
 * attention, as `get_last_selfattention`).
 *
 * The position embedding follows the official `interpolate_pos_encoding`: used as is when the
 * patch count equals the pretraining one and H == W, otherwise resized bicubically
 * (a = -0.75, half-pixel centres) with the scale factor ((H // p) + 0.1) / sqrt(N) computed
 * inside the graph from the input shape, so any image size works with one model.
 */
export function buildViTGraph(sd: StateDict, config: ViTExportConfig): GraphBuilder {
  const heads = config.numHeads;
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`ViT export: numHeads must be a positive integer, got ${heads}`);
  const spec = vitSpec(sd, config);
  const s = { ...spec, gridSize: spec.imgSize / spec.patchSize, mlpHidden: Math.round(spec.mlpRatio * spec.embedDim) };
  const D = s.embedDim;
  const hd = D / heads;
  const eps = spec.normEps ?? 1e-6;
  const p = s.patchSize;
  const N = s.gridSize * s.gridSize;
  const g = new GraphBuilder();

  const init = (name: string, shape?: (number | null)[]): string => {
    const t = take(sd, name, shape);
    return g.floatInit(name, t.data, t.shape);
  };
  // Linear layers keep PyTorch's [out, in] weight under its official name; the transpose is a
  // constant that ORT folds when it optimises the graph.
  const linear = (x: string, prefix: string, out: number, inp: number): string => {
    const w = init(`${prefix}.weight`, [out, inp]);
    const b = init(`${prefix}.bias`, [out]);
    const wt = g.op('Transpose', [w], { perm: { ints: [1, 0] } });
    return g.op('Add', [g.op('MatMul', [x, wt]), b]);
  };
  const layerNorm = (x: string, prefix: string): string =>
    g.op('LayerNormalization', [x, init(`${prefix}.weight`, [D]), init(`${prefix}.bias`, [D])], {
      axis: { int: -1 },
      epsilon: { float: eps },
    });

  const x = g.input('input', DType.float, ['batch', s.inChans, 'height', 'width']);

  // Patch embedding: Conv(k = stride = p) -> [B, D, h0, w0] -> [B, h0*w0, D]
  const conv = g.op('Conv', [x, init('patch_embed.proj.weight', [D, s.inChans, p, p]), init('patch_embed.proj.bias', [D])], {
    kernel_shape: { ints: [p, p] },
    strides: { ints: [p, p] },
  });
  const flat = g.op('Reshape', [conv, g.int64([0, D, -1])]); // [B, D, n]
  const patches = g.op('Transpose', [flat], { perm: { ints: [0, 2, 1] } }); // [B, n, D]

  // CLS token expanded over the batch: [1, 1, D] -> [B, 1, D]
  const xShape = g.op('Shape', [x]); // [B, C, H, W]
  const batch = g.op('Slice', [xShape, g.int64([0]), g.int64([1])]);
  const clsShape = g.op('Concat', [batch, g.int64([1, D])], { axis: { int: 0 } });
  const cls = g.op('Expand', [init('cls_token', [1, 1, D]), clsShape]);
  const tokens0 = g.op('Concat', [cls, patches], { axis: { int: 1 } }); // [B, n+1, D]

  // Position embedding: official interpolate_pos_encoding.
  const posEmbed = init('pos_embed', [1, N + 1, D]);
  const hw = g.op('Slice', [xShape, g.int64([2]), g.int64([4])]); // [H, W]
  const convShape = g.op('Shape', [conv]);
  const grid = g.op('Slice', [convShape, g.int64([2]), g.int64([4])]); // [h0, w0]
  const npatch = g.op('ReduceProd', [grid], { keepdims: { int: 0 } });
  const sameCount = g.op('Equal', [npatch, g.int64([N], [])]);
  const H = g.op('Gather', [hw, g.int64([0], [])], { axis: { int: 0 } });
  const W = g.op('Gather', [hw, g.int64([1], [])], { axis: { int: 0 } });
  const square = g.op('Equal', [H, W]);
  const keep = g.op('And', [sameCount, square]);

  const thenG = new GraphBuilder(g);
  thenG.output(thenG.op('Identity', [posEmbed]), DType.float);

  const elseG = new GraphBuilder(g);
  {
    const e = elseG;
    const classPos = e.op('Slice', [posEmbed, e.int64([0]), e.int64([1]), e.int64([1])]); // [1, 1, D]
    const patchPos = e.op('Slice', [posEmbed, e.int64([1]), e.int64([N + 1]), e.int64([1])]); // [1, N, D]
    const grid4 = e.op('Reshape', [patchPos, e.int64([1, s.gridSize, s.gridSize, D])]); // [1, g, g, D]
    const nchw = e.op('Transpose', [grid4], { perm: { ints: [0, 3, 1, 2] } }); // [1, D, g, g]
    // scale = (floor(size / p) + 0.1) / sqrt(N), exactly as DINO passes scale_factor; PyTorch
    // then uses that scale (not out/in) for the source coordinates, as ONNX Resize does with `scales`.
    const hwF = e.op('Cast', [hw], { to: { int: DType.float } });
    const cells = e.op('Floor', [e.op('Div', [hwF, e.float([p], [])])]);
    const scaleHW = e.op('Div', [e.op('Add', [cells, e.float([0.1], [])]), e.float([Math.sqrt(N)], [])]);
    const scales = e.op('Concat', [e.float([1, 1]), scaleHW], { axis: { int: 0 } });
    const resized = e.op('Resize', [nchw, '', scales], {
      mode: { string: 'cubic' },
      cubic_coeff_a: { float: -0.75 },
      coordinate_transformation_mode: { string: 'half_pixel' },
    }); // [1, D, h0, w0]
    const nhwc = e.op('Transpose', [resized], { perm: { ints: [0, 2, 3, 1] } }); // [1, h0, w0, D]
    const seq = e.op('Reshape', [nhwc, e.int64([1, -1, D])]); // [1, h0*w0, D]
    e.output(e.op('Concat', [classPos, seq], { axis: { int: 1 } }), DType.float);
  }
  const pos = g.op('If', [keep], {
    then_branch: { graph: thenG.toGraph('pos_embed_as_is') },
    else_branch: { graph: elseG.toGraph('pos_embed_interpolated') },
  });
  let t = g.op('Add', [tokens0, pos]); // [B, N'+1, D]

  const scale = g.float([hd ** -0.5], []);
  const qkvShape = g.int64([0, 0, 3, heads, hd]);
  const mergeShape = g.int64([0, 0, D]);
  let lastAttention = '';
  for (let i = 0; i < s.depth; i++) {
    const b = `blocks.${i}`;
    const h = layerNorm(t, `${b}.norm1`);
    const qkv = g.op('Reshape', [linear(h, `${b}.attn.qkv`, 3 * D, D), qkvShape]); // [B, N, 3, heads, hd]
    const qkvT = g.op('Transpose', [qkv], { perm: { ints: [2, 0, 3, 1, 4] } }); // [3, B, heads, N, hd]
    const [q, k, v] = [0, 1, 2].map((j) => g.op('Gather', [qkvT, g.int64([j], [])], { axis: { int: 0 } })) as [string, string, string];
    const kT = g.op('Transpose', [k], { perm: { ints: [0, 1, 3, 2] } }); // [B, heads, hd, N]
    const logits = g.op('Mul', [g.op('MatMul', [q, kT]), scale]); // [B, heads, N, N]
    const attn = g.op('Softmax', [logits], { axis: { int: -1 } });
    lastAttention = attn;
    const ctx = g.op('MatMul', [attn, v]); // [B, heads, N, hd]
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: { ints: [0, 2, 1, 3] } }), mergeShape]); // [B, N, D]
    t = g.op('Add', [t, linear(merged, `${b}.attn.proj`, D, D)]);

    const h2 = layerNorm(t, `${b}.norm2`);
    const f1 = linear(h2, `${b}.mlp.fc1`, s.mlpHidden, D);
    // Exact GELU (nn.GELU default): 0.5 x (1 + erf(x / sqrt 2)); ORT fuses this pattern.
    const erf = g.op('Erf', [g.op('Div', [f1, g.float([Math.SQRT2], [])])]);
    const gelu = g.op('Mul', [g.op('Mul', [f1, g.op('Add', [erf, g.float([1], [])])]), g.float([0.5], [])]);
    t = g.op('Add', [t, linear(gelu, `${b}.mlp.fc2`, D, s.mlpHidden)]);
  }
  const normed = g.op('LayerNormalization', [t, init('norm.weight', [D]), init('norm.bias', [D])], {
    axis: { int: -1 },
    epsilon: { float: eps },
  }, 'tokens');
  g.op('Gather', [normed, g.int64([0], [])], { axis: { int: 1 } }, 'cls');
  g.op('Identity', [lastAttention], {}, 'attention');
  g.output('cls', DType.float, ['batch', D]);
  g.output('tokens', DType.float, ['batch', 'num_tokens', D]);
  g.output('attention', DType.float, ['batch', heads, 'num_tokens', 'num_tokens']);
  return g;
}

/** Serialises a DINO ViT backbone as ONNX bytes (see `buildViTGraph` for inputs/outputs). */
export function exportViT(sd: StateDict, config: ViTExportConfig, meta: ModelMeta = {}): Uint8Array {
  const s = vitSpec(sd, config);
  const g = buildViTGraph(sd, config);
  return encodeModel(g.toGraph('vision_transformer'), {
    ...meta,
    metadata: {
      'ssl.arch': 'vit',
      'ssl.embed_dim': String(s.embedDim),
      'ssl.depth': String(s.depth),
      'ssl.num_heads': String(config.numHeads),
      'ssl.patch_size': String(s.patchSize),
      'ssl.in_chans': String(s.inChans),
      'ssl.img_size': String(s.imgSize),
      ...meta.metadata,
    },
  });
}
