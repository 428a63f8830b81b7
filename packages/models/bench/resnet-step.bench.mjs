/**
 * ResNet-18 (ImageNet stem, 1 channel) train step at the shapes of `ssl-train paws --preset
 * fmnist_paws`: 228 images 28x28 and 256 images 12x12, forward + backward (sum of squared
 * features as the loss), on the native backend with its BatchNorm, MaxPool and Tile kernels and,
 * in the same process, with those kernels swapped for the JS cpu ones (BatchNorm then runs
 * @ssl/tensor's composite of tfjs ops). Run: `node bench/resnet-step.bench.mjs` (after a build);
 * REPS (default 2), BATCH_SCALE (default 1) shrink or grow it.
 */
import { initBackend, tf } from '@ssl/tensor';
import { createModel } from '../dist/index.js';

const info = await initBackend({ backend: 'native', log: (l) => console.log(l) });
if (info.name !== 'native') throw new Error(`this bench needs the native backend, got ${info.name}`);
const reps = Number(process.env.REPS ?? 2);
const scale = Number(process.env.BATCH_SCALE ?? 1);
const model = createModel('resnet18', { inChans: 1 });
model.train();
const batches = [
  tf.randomNormal([Math.round(228 * scale), 28, 28, 1]),
  tf.randomNormal([Math.round(256 * scale), 12, 12, 1]),
];
const params = model.trainableParameters();

const NEW_KERNELS = ['SslBatchNorm', 'SslBatchNormGrad', 'FusedBatchNorm', 'MaxPool', 'MaxPoolGrad', 'Tile'];
const nativeConfigs = NEW_KERNELS.map((k) => tf.getKernel(k, 'native')).filter((k) => k !== undefined);

/** Swap the new native kernels for the JS cpu ones (fused BatchNorm: none, so the composite), or back. */
function useNewKernels(on) {
  for (const k of NEW_KERNELS) if (tf.getKernel(k, 'native')) tf.unregisterKernel(k, 'native');
  if (on) for (const c of nativeConfigs) tf.registerKernel(c);
  else
    for (const k of NEW_KERNELS) {
      const cpu = tf.getKernel(k, 'cpu');
      if (cpu) tf.registerKernel({ ...cpu, backendName: 'native' });
    }
}

function step() {
  for (const x of batches) {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.forward(x))), params);
    tf.dispose([value, ...Object.values(grads)]);
  }
}

function time(label) {
  step(); // warm-up (and buffer pool)
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) step();
  const ms = (performance.now() - t0) / reps;
  console.log(`${label}: ${ms.toFixed(0)} ms/step (${batches[0].shape[0]}x28x28 + ${batches[1].shape[0]}x12x12, fwd + bwd)`);
  return ms;
}

useNewKernels(false);
const before = time('resnet18 step, native without the BatchNorm/MaxPool/Tile kernels');
useNewKernels(true);
const after = time('resnet18 step, native with them');
console.log(`speed-up: ${(before / after).toFixed(2)}x`);
tf.dispose(batches);
model.dispose();
