import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEBIAN_FASHION_MNIST_DIR, fashionMnistFixtureDir, readIdx } from '@ssl/data';

export interface DataLocation {
  dir: string;
  /** Where it came from, for the log and the report. */
  origin: 'data_path' | 'debian' | 'fixture';
}

const FMNIST_FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

function findIdx(dir: string, base: string): string | undefined {
  for (const name of [`${base}.gz`, base]) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** Where the training data is: the given path, else the Debian Fashion-MNIST, else the committed subset. */
export function resolveDataLocation(dataset: 'fashion-mnist' | 'folder', dataPath: string | null): DataLocation {
  if (dataPath !== null) {
    const dir = resolve(dataPath);
    if (!existsSync(dir)) throw new Error(`data_path ${dir} does not exist`);
    if (!statSync(dir).isDirectory()) throw new Error(`data_path ${dir} is not a directory`);
    if (dataset === 'fashion-mnist') {
      const missing = FMNIST_FILES.train.filter((b) => !findIdx(dir, b));
      if (missing.length) {
        throw new Error(`data_path ${dir} has no Fashion-MNIST IDX files (missing ${missing.map((m) => `${m}[.gz]`).join(', ')}); use --dataset folder for image folders`);
      }
    } else {
      if (readdirSync(dir).length === 0) throw new Error(`data_path ${dir} is empty: expected images (in any layout) or one sub-folder of images per class`);
    }
    return { dir, origin: 'data_path' };
  }
  if (dataset === 'folder') throw new Error('--dataset folder needs --data-path DIR (a folder of images, or one sub-folder of images per class)');
  if (FMNIST_FILES.train.every((b) => findIdx(DEBIAN_FASHION_MNIST_DIR, b))) return { dir: DEBIAN_FASHION_MNIST_DIR, origin: 'debian' };
  return { dir: fashionMnistFixtureDir(), origin: 'fixture' };
}

export interface PixelSplit {
  /** uint8, [n, 28, 28] row-major */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
}

/** Read one Fashion-MNIST split, optionally its first `limit` images (0 = all). */
export async function readFashionMnist(dir: string, split: 'train' | 'test', limit = 0): Promise<PixelSplit> {
  const [imgBase, lblBase] = FMNIST_FILES[split];
  const imgPath = findIdx(dir, imgBase);
  const lblPath = findIdx(dir, lblBase);
  if (!imgPath || !lblPath) throw new Error(`${dir}: missing Fashion-MNIST ${split} files (${imgBase}[.gz], ${lblBase}[.gz])`);
  const [img, lbl] = await Promise.all([readIdx(imgPath), readIdx(lblPath)]);
  const [n, h, w] = img.dims as [number, number, number];
  if (lbl.dims[0] !== n) throw new Error(`${dir}: ${n} ${split} images but ${lbl.dims[0]} labels`);
  const count = limit > 0 ? Math.min(limit, n) : n;
  return {
    images: (img.data as Uint8Array).subarray(0, count * h * w),
    labels: Int32Array.from((lbl.data as Uint8Array).subarray(0, count)),
    count,
    height: h,
    width: w,
  };
}
