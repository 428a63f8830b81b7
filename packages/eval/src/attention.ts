import { tf } from '@ssl/tensor';

/**
 * What the attention tools need from a model: the last block's self-attention (softmax weights,
 * `[B, heads, N+1, N+1]`, token 0 = CLS) and the patch size. `@ssl/models` VisionTransformer fits.
 */
export interface SelfAttentionModel {
  getLastSelfAttention(x: tf.Tensor4D): tf.Tensor;
}

/** Per-head CLS-to-patch attention maps of one image. */
export interface AttentionMaps {
  heads: number;
  /** Feature-map grid (image size / patch size). */
  gridH: number;
  gridW: number;
  /** `[heads * gridH * gridW]`, head-major, row-major grid. */
  maps: Float32Array;
}

/**
 * CLS-to-patch attention of the last block for each image of a batch, as visualize_attention.py:
 * `attentions[:, :, 0, 1:]` reshaped to the patch grid. `images` is NHWC with H and W multiples of
 * `patchSize` (use `cropToPatchMultiple` first, as the official script crops).
 */
export async function clsAttentionMaps(model: SelfAttentionModel, images: tf.Tensor4D, patchSize: number): Promise<AttentionMaps[]> {
  const [B, H, W] = images.shape;
  if (!Number.isInteger(patchSize) || patchSize < 1) throw new Error(`patchSize must be a positive integer, got ${patchSize}`);
  if (H % patchSize !== 0 || W % patchSize !== 0) {
    throw new Error(`images: height ${H} and width ${W} must be multiples of patchSize ${patchSize}; crop with cropToPatchMultiple`);
  }
  const gridH = H / patchSize;
  const gridW = W / patchSize;
  const cls = tf.tidy(() => {
    const attn = model.getLastSelfAttention(images) as tf.Tensor4D; // [B, heads, N+1, N+1]
    if (attn.rank !== 4) throw new Error(`getLastSelfAttention returned rank ${attn.rank}, expected [B, heads, N+1, N+1]`);
    const [b, heads, n1] = attn.shape;
    if (b !== B || n1 !== gridH * gridW + 1) {
      throw new Error(`getLastSelfAttention returned shape [${attn.shape.join(', ')}], expected [${B}, heads, ${gridH * gridW + 1}, ${gridH * gridW + 1}]`);
    }
    return tf.reshape(tf.slice(attn, [0, 0, 0, 1], [B, heads, 1, n1 - 1]), [B, heads, n1 - 1]); // [B, heads, N]
  });
  const heads = cls.shape[1] as number;
  const data = (await cls.data()) as Float32Array; // awaited: a webgpu tensor has no dataSync in Node
  cls.dispose();
  const per = heads * gridH * gridW;
  return Array.from({ length: B }, (_, b) => ({ heads, gridH, gridW, maps: data.slice(b * per, (b + 1) * per) }));
}

/** Crop NHWC images to the largest multiple of the patch size, top-left anchored (as official). */
export function cropToPatchMultiple(images: tf.Tensor4D, patchSize: number): tf.Tensor4D {
  const [B, H, W, C] = images.shape;
  const h = H - (H % patchSize);
  const w = W - (W % patchSize);
  if (h === 0 || w === 0) throw new Error(`images: ${H}x${W} is smaller than one ${patchSize}x${patchSize} patch`);
  return h === H && w === W ? tf.clone(images) : tf.slice(images, [0, 0, 0, 0], [B, h, w, C]);
}

/**
 * DINO's threshold mask of one attention map: sort the values ascending, normalise them to sum
 * to 1, take the cumulative sum and keep the positions whose cumsum is > 1 - threshold, i.e. the
 * smallest set of largest values holding `threshold` of the mass. Computed in float32 as
 * visualize_attention.py does. Equal values are ordered by position (torch.sort leaves that
 * order unspecified), which matters only when equal values straddle the cut.
 */
export function thresholdMask(attn: ArrayLike<number>, threshold = 0.6): Uint8Array {
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`threshold must be in [0, 1], got ${threshold}`);
  const n = attn.length;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (attn[a] as number) - (attn[b] as number) || a - b);
  let sum = 0;
  for (let i = 0; i < n; i++) sum = Math.fround(sum + (attn[order[i] as number] as number));
  const cut = Math.fround(1 - threshold);
  const mask = new Uint8Array(n);
  let cum = 0;
  for (let i = 0; i < n; i++) {
    const p = order[i] as number;
    cum = Math.fround(cum + Math.fround((attn[p] as number) / sum));
    if (cum > cut) mask[p] = 1;
  }
  return mask;
}

/** Threshold masks of every head of `maps` (`[heads * gridH * gridW]`), head-major. */
export function thresholdMasks(maps: AttentionMaps, threshold = 0.6): Uint8Array {
  const n = maps.gridH * maps.gridW;
  const out = new Uint8Array(maps.heads * n);
  for (let h = 0; h < maps.heads; h++) out.set(thresholdMask(maps.maps.subarray(h * n, (h + 1) * n), threshold), h * n);
  return out;
}

/** Mean over heads of the attention maps: `[gridH * gridW]`. */
export function meanHeadMap(maps: AttentionMaps): Float32Array {
  const n = maps.gridH * maps.gridW;
  const out = new Float32Array(n);
  for (let h = 0; h < maps.heads; h++) for (let i = 0; i < n; i++) out[i] = (out[i] as number) + (maps.maps[h * n + i] as number);
  for (let i = 0; i < n; i++) out[i] = (out[i] as number) / maps.heads;
  return out;
}

/**
 * Nearest-neighbour upsampling of a row-major `[h, w]` map by an integer factor, as
 * `nn.functional.interpolate(scale_factor=patch_size, mode="nearest")`: each cell becomes a
 * `scale x scale` block.
 */
export function upsampleNearest<T extends Float32Array | Uint8Array>(map: T, h: number, w: number, scale: number): T {
  if (map.length !== h * w) throw new Error(`upsampleNearest: map has ${map.length} values, expected ${h}x${w}`);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`upsampleNearest: scale must be a positive integer, got ${scale}`);
  const W = w * scale;
  const out = new (map.constructor as new (n: number) => T)(h * scale * W);
  for (let y = 0; y < h * scale; y++) {
    const row = Math.floor(y / scale) * w;
    for (let x = 0; x < W; x++) out[y * W + x] = map[row + Math.floor(x / scale)] as number;
  }
  return out;
}
