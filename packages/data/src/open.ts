import type { Dataset, DatasetSpec } from './dataset.js';
import { FashionMNIST } from './fashion-mnist.js';
import { ImageFolder } from './image-folder.js';
import { Subset } from './subset.js';

/** Reopen a dataset from its `spec` (what worker threads do). */
export async function openDataset(spec: DatasetSpec): Promise<Dataset> {
  switch (spec?.kind) {
    case 'fashion-mnist':
      return FashionMNIST.load({ root: spec.root, split: spec.split, channels: spec.channels ?? 1 });
    case 'image-folder': {
      const { kind: _kind, root, ...options } = spec;
      return ImageFolder.create(root, options);
    }
    case 'subset':
      return new Subset(await openDataset(spec.base), spec.indices);
    default:
      throw new RangeError(`openDataset: unknown dataset kind '${(spec as { kind?: unknown })?.kind}'`);
  }
}
