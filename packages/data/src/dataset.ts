import type { ImageU8 } from '@ssl/augment';

/** One labelled image. `label` is -1 when unknown. */
export interface Sample {
  image: ImageU8;
  label: number;
}

/**
 * A random-access image dataset (torch's map-style Dataset). `get` may be async (files are decoded
 * on demand). Images returned may be views into shared storage: treat them as read-only.
 */
export interface Dataset {
  readonly length: number;
  get(index: number): Sample | Promise<Sample>;
  /** Class names, index = label. */
  readonly classes?: readonly string[];
  /** Every sample's label without decoding (samplers and label subsets need them). */
  readonly targets?: Int32Array;
  /** Name of sample `index` for logs and errors (a file path where there is one). */
  describe?(index: number): string;
  /** Plain-data description from which a worker thread reopens the same dataset (see `openDataset`). */
  readonly spec?: DatasetSpec;
}

export type DatasetSpec =
  | { kind: 'fashion-mnist'; root: string; split: 'train' | 'test'; channels?: 1 | 3 }
  | {
      kind: 'image-folder';
      root: string;
      channels?: 1 | 3;
      extensions?: string[];
      labels?: 'auto' | 'classes' | 'none';
      cacheFile?: string;
      minDecodedSide?: number;
    }
  | { kind: 'subset'; base: DatasetSpec; indices: number[] };

export function checkIndex(index: number, length: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${what}: index ${index} out of range [0, ${length})`);
  }
}
