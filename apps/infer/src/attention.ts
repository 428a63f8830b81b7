import type { ImageU8 } from '@ssl/augment';
import { colorize, maskOverlay, meanHeadMap, rgbToPng, thresholdMask, upsampleNearest, type AttentionMaps } from '@ssl/eval';
import type { FloatTensor } from '@ssl/onnx';

/**
 * CLS-to-patch attention of one image from the model's `attention` output
 * ([heads, N+1, N+1] once the batch axis is gone): row 0 without its first column, as DINO's
 * visualize_attention.py (`attentions[0, :, 0, 1:]`).
 */
export function clsMaps(attention: FloatTensor, gridH: number, gridW: number): AttentionMaps {
  const [heads, n1] = attention.dims as [number, number, number];
  const n = gridH * gridW;
  if (n1 !== n + 1) throw new Error(`attention has ${n1} tokens, expected ${n + 1} for a ${gridH}x${gridW} grid`);
  const maps = new Float32Array(heads * n);
  for (let h = 0; h < heads; h++) maps.set(attention.data.subarray(h * n1 * n1 + 1, h * n1 * n1 + n1), h * n);
  return { heads, gridH, gridW, maps };
}

/** Image bytes as RGB (grey repeated) for overlays. */
export function toRgb(img: ImageU8): Uint8Array {
  if (img.channels === 3) return img.data;
  const out = new Uint8Array(img.height * img.width * 3);
  for (let i = 0; i < img.height * img.width; i++) out.fill(img.data[i] as number, i * 3, i * 3 + 3);
  return out;
}

/** Per head (and the head mean last): viridis heat map and the threshold-mask overlay, RGB at image size. */
export function attentionImages(
  img: ImageU8,
  maps: AttentionMaps,
  patchSize: number,
  threshold: number,
): { tag: string; heat: Uint8Array; mask: Uint8Array }[] {
  const rgb = toRgb(img);
  const n = maps.gridH * maps.gridW;
  const list: [string, Float32Array][] = [];
  for (let h = 0; h < maps.heads; h++) list.push([`head${h}`, maps.maps.subarray(h * n, (h + 1) * n)]);
  list.push(['mean', meanHeadMap(maps)]);
  return list.map(([tag, m]) => ({
    tag,
    heat: colorize(upsampleNearest(m, maps.gridH, maps.gridW, patchSize)),
    mask: maskOverlay(rgb, img.height, img.width, upsampleNearest(thresholdMask(m, threshold), maps.gridH, maps.gridW, patchSize)),
  }));
}

/** The tiles of `attentionImages` as PNGs (heat map and mask overlay per head, then the mean), as the CLI writes them. */
export async function attentionTilesPng(img: ImageU8, maps: AttentionMaps, patchSize: number, threshold: number): Promise<{ tag: string; heat: Buffer; mask: Buffer }[]> {
  return Promise.all(
    attentionImages(img, maps, patchSize, threshold).map(async (t) => ({
      tag: t.tag,
      heat: await rgbToPng(t.heat, img.height, img.width),
      mask: await rgbToPng(t.mask, img.height, img.width),
    })),
  );
}

/** One PNG: the heat maps of all heads side by side (then the mean), over a row of mask overlays. */
export async function attentionMosaicPng(img: ImageU8, maps: AttentionMaps, patchSize: number, threshold: number): Promise<Buffer> {
  const tiles = attentionImages(img, maps, patchSize, threshold);
  const H = img.height;
  const W = img.width;
  const cols = tiles.length;
  const out = new Uint8Array(2 * H * cols * W * 3);
  tiles.forEach((t, c) => {
    for (let y = 0; y < H; y++) {
      out.set(t.heat.subarray(y * W * 3, (y + 1) * W * 3), (y * cols * W + c * W) * 3);
      out.set(t.mask.subarray(y * W * 3, (y + 1) * W * 3), ((y + H) * cols * W + c * W) * 3);
    }
  });
  return rgbToPng(out, 2 * H, cols * W);
}
