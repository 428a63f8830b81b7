import type { Dataset, DatasetSpec } from './dataset.js';
import { FashionMNIST } from './fashion-mnist.js';
import { ImageFolder } from './image-folder.js';
import { Subset } from './subset.js';

/** Reopen a dataset from its `spec` (what worker threads do). */
export async function openDataset(spec: DatasetSpec): Promise<Dataset> {
  switch (spec?.kind) {
    case 'fashion-mnist':
      return FashionMNIST.load({ root: spec.root, split: spec.split, channels: spec.channels ?? 1 });
    case 'image-folder':
      return ImageFolder.create(spec.root, { channels: spec.channels ?? 3, ...(spec.extensions ? { extensions: spec.extensions } : {}) });
    case 'subset':
      return new Subset(await openDataset(spec.base), spec.indices);
    default:
      throw new RangeError(`openDataset: unknown dataset kind '${(spec as { kind?: unknown })?.kind}'`);
  }
}
