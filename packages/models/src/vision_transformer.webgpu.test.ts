// The ViT through the fused attention kernel (webgpu's SslAttention) against the same ViT through
// the composite of matMul and softmax, on one backend with one set of weights: the kernel is
// unregistered for the second run. Skipped, with the reason printed, where no WebGPU adapter exists
// (@ssl/backend-webgpu's own suite covers the kernel against the cpu backend).
import { FUSED_KERNELS, hasFusedKernel, initBackend, tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { VisionTransformer } from './vision_transformer.js';

let reason = '';
try {
  await initBackend({ backend: 'webgpu', env: {} });
} catch (err) {
  reason = err instanceof Error ? err.message : String(err);
  console.warn(`ViT on webgpu skipped: ${reason}`);
}

/** Loss value and every parameter's gradient of sum(ViT(x) * w), read back. */
async function forwardAndGrads(m: VisionTransformer, x: Tensor, w: Tensor): Promise<Float32Array[]> {
  const params = m.trainableParameters();
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.forwardTokens(x), w)) as tf.Scalar, params);
  const outs = [value, ...params.map((p) => grads[p.name]!)];
  const read = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([value, ...Object.values(grads)]);
  return read;
}

describe.runIf(reason === '')('VisionTransformer on webgpu: fused attention', () => {
  it('equals the unfused composite, forward and every gradient (50 tokens, head dim 32)', async () => {
    expect(hasFusedKernel(FUSED_KERNELS.attention)).toBe(true);
    // 28 px, patch 4: 49 patches + CLS = 50 tokens, not a multiple of the kernel's 64 lanes.
    const m = new VisionTransformer({ embedDim: 64, depth: 2, numHeads: 2, patchSize: 4, inChans: 1, imgSize: 28, seed: 3 });
    const x = tf.randomNormal([2, 28, 28, 1], 0, 1, 'float32', 4);
    const w = tf.randomNormal([2, 50, 64], 0, 1, 'float32', 5);

    const fusedKernel = tf.getKernel(FUSED_KERNELS.attention, 'webgpu')!;
    let calls = 0;
    tf.unregisterKernel(FUSED_KERNELS.attention, 'webgpu');
    tf.registerKernel({ ...fusedKernel, kernelFunc: (args) => (calls++, fusedKernel.kernelFunc(args)) });
    const fused = await forwardAndGrads(m, x, w);
    expect(calls).toBe(2); // one per block

    tf.unregisterKernel(FUSED_KERNELS.attention, 'webgpu');
    let composite: Float32Array[];
    try {
      expect(hasFusedKernel(FUSED_KERNELS.attention)).toBe(false);
      composite = await forwardAndGrads(m, x, w);
    } finally {
      tf.registerKernel(fusedKernel);
    }

    expect(fused.length).toBe(composite.length);
    fused.forEach((f, i) => {
      const c = composite[i]!;
      let worst = 0;
      for (let j = 0; j < c.length; j++) worst = Math.max(worst, Math.abs(f[j]! - c[j]!) / (1e-4 + 1e-4 * Math.abs(c[j]!)));
      expect(worst, `output ${i} (0: loss, then the gradients)`).toBeLessThanOrEqual(1);
    });
    tf.dispose([x, w]);
    m.dispose();
  });
});
