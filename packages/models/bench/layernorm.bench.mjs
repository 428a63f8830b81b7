import { initBackend, tf } from '@ssl/tensor';
import { LayerNorm } from '../dist/index.js';
// LayerNorm forward + backward (dx, dweight, dbias) at ViT-Tiny token shapes: the hand-written gradient
// against autograd through the plain formula, interleaved in one run (best of 15 rounds of 5).
await initBackend({});
const ln = new LayerNorm(192, 1e-6);
const x = tf.variable(tf.randomNormal([32, 65, 192]));
const plain = (t) => { const xc = tf.sub(t, tf.mean(t, -1, true)); return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-6))), ln.weight), ln.bias); };
const run = (f) => { const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(f(x))), [x, ln.weight, ln.bias]); tf.dispose([value, ...Object.values(grads)]); };
const best = { plain: Infinity, custom: Infinity };
for (let round = 0; round < 15; round++) for (const [name, f] of [['plain', plain], ['custom', (t) => ln.forward(t)]]) {
  const t0 = performance.now(); for (let i = 0; i < 5; i++) run(f); best[name] = Math.min(best[name], (performance.now() - t0) / 5);
}
console.log(`best of 15 x 5 (ms per LayerNorm fwd+bwd incl. dx, [32,65,192], ${tf.getBackend()}): plain autograd ${best.plain.toFixed(2)}, custom gradient ${best.custom.toFixed(2)}`);
