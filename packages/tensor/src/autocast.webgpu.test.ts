// autocast('fp16') on the webgpu backend (its matmuls read binary16 operands); skipped, with the
// reason printed, where no WebGPU adapter exists (@ssl/backend-webgpu's suite tests the kernels).
import { describe, expect, it } from 'vitest';
import { FUSED_KERNELS, attention, autocast, currentPrecision, initBackend, resolvePrecision, setAutocastLogger, tf } from './index.js';

let reason = '';
try {
  await initBackend({ backend: 'webgpu', env: {} });
} catch (err) {
  reason = err instanceof Error ? err.message : String(err);
  console.warn(`autocast on webgpu skipped: ${reason}`);
}

describe.runIf(reason === '')('autocast on the webgpu backend', () => {
  it('fp16 rounds matmul operands to binary16 inside the scope (1 + 2^-11 is a tie: it rounds to 1), float32 outside', async () => {
    const a = tf.tensor2d([[1 + 2 ** -11, 3 + 2 ** -10]]);
    const b = tf.tensor2d([[1], [1]]);
    const inside = autocast('fp16', () => {
      expect(currentPrecision()).toBe('fp16');
      return tf.matMul(a, b);
    });
    expect(currentPrecision()).toBe('fp32');
    expect(Array.from(await inside.data())).toEqual([4]); // 1 + 3 (3 + 2^-10 is a tie too, to even: 3)
    expect(Array.from(await tf.matMul(a, b).data())).toEqual([4 + 2 ** -11 + 2 ** -10]);
    expect(resolvePrecision('fp16', {})).toMatchObject({ precision: 'fp16' });
    expect(resolvePrecision('fp16', {}).reason).toMatch(/binary16/);
    // The trainer's default (bf16 where it runs) stays float32 on webgpu: fp16 only when asked.
    expect(resolvePrecision(undefined, {}).precision).toBe('fp32');
  });

  it('bf16 runs float32 there and says why once', () => {
    const lines: string[] = [];
    setAutocastLogger((l) => lines.push(l));
    try {
      for (let i = 0; i < 2; i++) expect(autocast('bf16', () => currentPrecision())).toBe('fp32');
      expect(lines).toEqual(["[ssl] bf16 autocast unavailable, running float32: the 'webgpu' backend runs fp16 autocast, not bf16 (ask for fp16)"]);
    } finally {
      setAutocastLogger((l) => console.warn(l));
    }
  });

  it('attention passes the scope to its kernel: fp16 inside equals the kernel asked for fp16', async () => {
    const [q, k, v] = [1, 2, 3].map((s) => tf.randomNormal([2, 10, 8], 0, 1, 'float32', s)) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const fused = autocast('fp16', () => attention(q, k, v, 0.5));
    const kernel = tf.engine().runKernel(FUSED_KERNELS.attention, { q, k, v }, { scale: 0.5, precision: 'fp16' }) as tf.Tensor;
    const f32 = attention(q, k, v, 0.5);
    expect(Array.from(await fused.data())).toEqual(Array.from(await kernel.data()));
    expect(Array.from(await fused.data())).not.toEqual(Array.from(await f32.data()));
  });
});
