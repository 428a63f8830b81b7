import type { Matrix } from './matrix.js';

/**
 * Rows of pixel values scaled to unit L2 norm (`F.normalize`, eps 1e-12): pixels as k-NN features,
 * the baseline a learned representation has to beat. `transform` maps each stored value first
 * (e.g. uint8 -> the training normalisation).
 */
export function pixelFeatures(images: { data: ArrayLike<number>; count: number }, transform: (v: number) => number = (v) => v): Matrix {
  const cols = images.data.length / images.count;
  if (!Number.isInteger(cols)) throw new Error(`pixelFeatures: ${images.data.length} values do not split into ${images.count} rows`);
  const data = new Float32Array(images.count * cols);
  for (let r = 0; r < images.count; r++) {
    let sq = 0;
    for (let j = 0; j < cols; j++) {
      const v = transform(images.data[r * cols + j] as number);
      data[r * cols + j] = v;
      sq += v * v;
    }
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    for (let j = 0; j < cols; j++) data[r * cols + j] = (data[r * cols + j] as number) * inv;
  }
  return { data, rows: images.count, cols };
}
