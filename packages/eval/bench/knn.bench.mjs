/**
 * k-NN at scale: time and peak memory of knnClassifier on random L2-normalised features, for two
 * block budgets. Run: pnpm --filter @ssl/eval bench   (KNN_TRAIN, KNN_TEST, KNN_DIM to resize).
 * The official script holds a [100-chunk, N] similarity block; ours stays under maxBlockElements.
 */
import { initBackend } from '@ssl/tensor';
import { knnClassifier } from '../dist/index.js';

const N = Number(process.env.KNN_TRAIN ?? 100_000);
const Q = Number(process.env.KNN_TEST ?? 1_000);
const D = Number(process.env.KNN_DIM ?? 384);

function randomFeatures(rows, seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const data = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j < D; j++) {
      const v = next();
      data[r * D + j] = v;
      n += v * v;
    }
    n = Math.sqrt(n);
    for (let j = 0; j < D; j++) data[r * D + j] = data[r * D + j] / n;
  }
  return { data, rows, cols: D };
}

async function main() {
  const info = await initBackend();
  const train = randomFeatures(N, 1);
  const test = randomFeatures(Q, 2);
  const trainY = Int32Array.from({ length: N }, (_, i) => i % 1000);
  const testY = Int32Array.from({ length: Q }, (_, i) => i % 1000);
  console.log(`backend ${info.name}; train ${N} x ${D}, test ${Q}, k 20 (features ${((N * D * 4) / 2 ** 20).toFixed(0)} MiB)`);
  for (const maxBlockElements of [1 << 22, 1 << 24]) {
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const t0 = performance.now();
    const r = knnClassifier(train, trainY, test, testY, { k: 20, numClasses: 1000, maxBlockElements });
    const s = (performance.now() - t0) / 1000;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(
      `maxBlockElements 2^${Math.log2(maxBlockElements)}: ${s.toFixed(2)} s, ${(Q / s).toFixed(0)} queries/s, ` +
        `peak RSS +${((peak - rss0) / 2 ** 20).toFixed(0)} MiB over the features; top-1 ${r.top1.toFixed(2)} (chance 0.1)`,
    );
  }
}

void main();
