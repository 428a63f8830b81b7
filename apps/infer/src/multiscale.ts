import { interpolateBilinearArray, MULTISCALE_SCALES } from '@ssl/eval';
import type { Prepared } from './preprocess.js';

/**
 * A prepared (normalised, CHW) image rescaled as the official `utils.multi_scale` rescales the
 * model input: bilinear on the normalised tensor, size floor(side * s). Scale 1 is the image itself.
 */
export function scalePrepared(p: Prepared, scale: number): Prepared {
  if (scale === 1) return p;
  // CHW is C single-channel planes: [C, H, W, 1] in the NHWC helper's terms.
  const r = interpolateBilinearArray(p.chw, [p.channels, p.height, p.width, 1], scale);
  return { chw: r.data, channels: p.channels, height: r.dims[1], width: r.dims[2], image: p.image };
}

/**
 * The multi-scale embedding of one image (DINO's `--multiscale` for retrieval): the model's
 * embedding at scales 1, 1/sqrt(2), 1/2, summed, divided by 3 and L2-normalised.
 */
export async function multiScaleEmbedding(
  p: Prepared,
  embed: (scaled: Prepared) => Promise<Float32Array>,
  scales: readonly number[] = MULTISCALE_SCALES,
): Promise<Float32Array> {
  const parts = await Promise.all(scales.map((s) => embed(scalePrepared(p, s))));
  const first = parts[0];
  if (!first) throw new Error('multiScaleEmbedding: no scales');
  const v = new Float32Array(first.length);
  for (const f of parts) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + (f[i] as number) / parts.length;
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.max(Math.sqrt(n), 1e-12);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / n;
  return v;
}
