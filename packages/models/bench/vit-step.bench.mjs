/**
 * Time of one ViT train step (forward + backward through a DINOHead, multi-crop) and of inference,
 * on the backend `initBackend` picks (`SSL_BACKEND` forces one). Run: `pnpm --filter @ssl/models bench` (after a build).
 * Shapes: ViT-Tiny width, 4 blocks, 32px crops with patch 4 (65 tokens), batch 32, as the
 * project's reference measurement.
 */
import { initBackend, tf } from '@ssl/tensor';
import { DINOHead, MultiCropWrapper, VisionTransformer } from '../dist/index.js';

const info = await initBackend({ log: (l) => console.log(l) });
const depth = Number(process.env.DEPTH ?? 4);
const batch = Number(process.env.BATCH ?? 32);
const reps = Number(process.env.REPS ?? 3);
const vit = new VisionTransformer({ embedDim: 192, depth, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 32, dropPathRate: 0.1 });
const model = new MultiCropWrapper(vit, new DINOHead({ inDim: 192, outDim: 4096, hiddenDim: 512, bottleneckDim: 128 }));
const x = tf.randomNormal([batch, 32, 32, 1]);
const params = model.trainableParameters();

function time(label, f) {
  f(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  console.log(`${label}: ${((performance.now() - t0) / reps).toFixed(1)} ms (${info.name}, batch ${batch}, depth ${depth})`);
}

time('train step (fwd + bwd)', () => {
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.forward(x))) , params);
  tf.dispose([value, ...Object.values(grads)]);
});
model.eval();
time('inference forward', () => {
  tf.tidy(() => model.forward(x).dataSync());
});
