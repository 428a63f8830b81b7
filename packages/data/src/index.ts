export { parseIdx, readIdx } from './idx.js';
export type { IdxArray, IdxDataType } from './idx.js';
export { DEBIAN_FASHION_MNIST_DIR, fashionMnistFixtureDir } from './fixtures.js';
