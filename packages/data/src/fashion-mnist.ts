import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { convertChannels, type ImageU8 } from '@ssl/augment';
import { checkIndex, type Dataset, type DatasetSpec, type Sample } from './dataset.js';
import { DEBIAN_FASHION_MNIST_DIR, fashionMnistFixtureDir } from './fixtures.js';
import { readIdx } from './idx.js';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

/** The full Debian dataset when installed, else the committed 2,000/500 subset. */
export function defaultFashionMnistDir(): string {
  return existsSync(join(DEBIAN_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz')) ? DEBIAN_FASHION_MNIST_DIR : fashionMnistFixtureDir();
}

export interface FashionMnistOptions {
  /** Directory of the four IDX files (`.gz` or raw). Default `defaultFashionMnistDir()`. */
  root?: string;
  split?: 'train' | 'test';
  /** 1 (default, as stored) or 3 (grey replicated, for RGB models). */
  channels?: 1 | 3;
}

/** Fashion-MNIST from its IDX files: 28x28 grey images, 10 classes. */
export class FashionMNIST implements Dataset {
  readonly classes = FASHION_MNIST_CLASSES;
  readonly length: number;
  readonly spec: DatasetSpec;

  private constructor(
    readonly root: string,
    readonly split: 'train' | 'test',
    private readonly images: Uint8Array,
    readonly targets: Int32Array,
    private readonly channels: 1 | 3,
  ) {
    this.length = targets.length;
    this.spec = { kind: 'fashion-mnist', root, split, channels };
  }

  static async load(options: FashionMnistOptions = {}): Promise<FashionMNIST> {
    const root = options.root ?? defaultFashionMnistDir();
    const split = options.split ?? 'train';
    if (split !== 'train' && split !== 'test') throw new RangeError(`FashionMNIST: split must be 'train' or 'test', got '${split}'`);
    const prefix = split === 'train' ? 'train' : 't10k';
    const find = (name: string) => {
      for (const f of [`${name}.gz`, name]) if (existsSync(join(root, f))) return join(root, f);
      throw new Error(`FashionMNIST: ${join(root, name)}(.gz) not found (expected the four IDX files in ${root})`);
    };
    const imgPath = find(`${prefix}-images-idx3-ubyte`);
    const lblPath = find(`${prefix}-labels-idx1-ubyte`);
    const [images, labels] = await Promise.all([readIdx(imgPath), readIdx(lblPath)]);
    if (images.type !== 'uint8' || images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28) {
      throw new Error(`FashionMNIST: ${imgPath}: expected uint8 [N, 28, 28] images, got ${images.type} [${images.dims.join(', ')}]`);
    }
    if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
      throw new Error(`FashionMNIST: ${lblPath}: expected ${images.dims[0]} labels, got [${labels.dims.join(', ')}]`);
    }
    return new FashionMNIST(root, split, images.data as Uint8Array, Int32Array.from(labels.data as Uint8Array), options.channels ?? 1);
  }

  get(index: number): Sample {
    checkIndex(index, this.length, 'FashionMNIST');
    const image: ImageU8 = { data: this.images.subarray(index * 784, (index + 1) * 784), height: 28, width: 28, channels: 1 };
    return { image: this.channels === 3 ? convertChannels(image, 3) : image, label: this.targets[index] as number };
  }

  describe(index: number): string {
    return `fashion-mnist ${this.split}[${index}]`;
  }
}
