import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageFeatures, imageToRgb, knnSearch, rgbToPng } from '@ssl/eval';
import type { EvalImages, FeatureModel } from '@ssl/eval';
import { tf } from '@ssl/tensor';

/** Pixels between the images of a strip. */
const GAP = 4;

/**
 * What a run without labels can show of its features: for each of the first `count` images, a PNG
 * strip of that image and its `k` nearest other images (cosine similarity of the model's L2-normalised
 * features, as the k-NN evaluation). Returns the files written into `dir`.
 */
export async function writeNeighbourStrips(model: FeatureModel, images: EvalImages, dir: string, count: number, k = 5): Promise<string[]> {
  const n = Math.min(count, images.count);
  const kk = Math.min(k, images.count - 1);
  if (n === 0 || kk <= 0) return [];
  const features = await imageFeatures(model, images);
  const queries = { data: features.data.subarray(0, n * features.cols), rows: n, cols: features.cols };
  // one more than needed: the query itself is its own nearest neighbour
  const found = await knnSearch(features, queries, kk + 1);
  const { height: H, width: W, channels: C } = images;
  const px = H * W * C;
  const stripW = (kk + 1) * W + kk * GAP;
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (let q = 0; q < n; q++) {
    const row = Array.from(found.indices.subarray(q * found.k, (q + 1) * found.k));
    const others = row.filter((i) => i !== q).slice(0, kk);
    const strip = new Uint8Array(H * stripW * 3).fill(255);
    for (const [slot, index] of [q, ...others].entries()) {
      const image = tf.tensor3d(images.data.subarray(index * px, (index + 1) * px), [H, W, C]);
      const rgb = await imageToRgb(image);
      image.dispose();
      for (let y = 0; y < H; y++) strip.set(rgb.subarray(y * W * 3, (y + 1) * W * 3), (y * stripW + slot * (W + GAP)) * 3);
    }
    const file = join(dir, `img${q}-neighbours.png`);
    writeFileSync(file, await rgbToPng(strip, H, stripW));
    written.push(file);
  }
  return written;
}
