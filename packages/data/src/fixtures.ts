import { fileURLToPath } from 'node:url';

/** The committed Fashion-MNIST subset (2,000 train, 500 test), shipped with this package. */
export function fashionMnistFixtureDir(): string {
  // Both src/ (tests) and dist/ (built) sit one level below the package root.
  return fileURLToPath(new URL('../fixtures/fashion-mnist/', import.meta.url));
}

/** Where Debian's `dataset-fashion-mnist` installs the full dataset. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Three small CC0 / public-domain photographs (JPEG), for pictures and benchmarks. */
export function photosFixtureDir(): string {
  return fileURLToPath(new URL('../fixtures/photos/', import.meta.url));
}
