import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { autocast, bf16Support, currentPrecision, initBackend, parsePrecision, resolvePrecision, setAutocastLogger, tf } from './index.js';

const cpuHasBf16 = existsSync('/proc/cpuinfo') && /\bavx512_bf16\b|\bamx_bf16\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
const onednnInstalled = existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
const bf16Expected = cpuHasBf16 && onednnInstalled;

/** float32 -> nearest bf16 (ties to even), as float32. */
function roundBf16(t: tf.Tensor): tf.Tensor {
  const out = new Float32Array(t.dataSync() as Float32Array);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i]! + 0x7fff + ((bits[i]! >>> 16) & 1)) >>> 0) & 0xffff0000;
  return tf.tensor(out, t.shape);
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

beforeAll(async () => {
  await initBackend({ backend: 'native', env: {} });
});

describe('precision settings', () => {
  it('parses precisions and rejects others by name', () => {
    expect(parsePrecision(' BF16 ')).toBe('bf16');
    expect(parsePrecision('FP16')).toBe('fp16');
    expect(() => parsePrecision('fp8', '--precision')).toThrow(/--precision='fp8' is not a precision; expected one of: bf16, fp16, fp32/);
  });

  it('SSL_PRECISION=fp32 forces float32; the default is bf16 only where it runs', () => {
    expect(resolvePrecision('bf16', { SSL_PRECISION: 'fp32' })).toEqual({ precision: 'fp32', reason: 'SSL_PRECISION=fp32 forces float32' });
    expect(resolvePrecision('fp32', {}).precision).toBe('fp32');
    expect(resolvePrecision(undefined, {}).precision).toBe(bf16Expected ? 'bf16' : 'fp32');
    expect(bf16Support({}).bf16).toBe(bf16Expected);
    expect(() => resolvePrecision(undefined, { SSL_PRECISION: 'half' })).toThrow(/SSL_PRECISION='half'/);
  });
});

describe.runIf(bf16Expected)('autocast on the native backend', () => {
  it('runs matmuls on bf16-rounded inputs inside the scope, float32 outside, and nests', () => {
    tf.tidy(() => {
      const a = tf.randomNormal([48, 96], 0, 1, 'float32', 1);
      const b = tf.randomNormal([96, 40], 0, 1, 'float32', 2);
      const f32 = tf.matMul(a, b);
      const reference = tf.matMul(roundBf16(a), roundBf16(b));
      const inside = autocast('bf16', () => {
        expect(currentPrecision()).toBe('bf16');
        const nested = autocast('fp32', () => tf.matMul(a, b));
        expect(currentPrecision()).toBe('bf16');
        expect(maxDiff(nested, f32)).toBe(0);
        return tf.matMul(a, b);
      });
      expect(currentPrecision()).toBe('fp32');
      expect(inside.dtype).toBe('float32');
      expect(maxDiff(inside, reference)).toBeLessThan(1e-4);
      expect(maxDiff(inside, f32)).toBeGreaterThan(1e-3);
      expect(maxDiff(tf.matMul(a, b), f32)).toBe(0);
    });
  });

  it('covers the backward pass when tf.variableGrads runs inside the scope', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([32, 64], 0, 1, 'float32', 3);
      const w = tf.variable(tf.randomNormal([64, 16], 0, 1, 'float32', 4));
      const t = tf.randomNormal([32, 16], 0, 1, 'float32', 5); // not bf16-exact: dy must be rounded
      const loss = () => tf.sum(tf.mul(tf.matMul(x, w), t)) as tf.Scalar;
      const { grads } = autocast('bf16', () => tf.variableGrads(loss, [w]));
      const reference = tf.matMul(roundBf16(x), roundBf16(t), true, false); // dW = x^T dy, both rounded
      expect(maxDiff(grads[w.name]!, reference)).toBeLessThan(1e-4);
      const f32 = tf.matMul(x, t, true, false);
      expect(maxDiff(grads[w.name]!, f32)).toBeGreaterThan(1e-3);
      w.dispose();
    });
  });

  it('restores the precision when fn throws, and rejects an async fn', () => {
    expect(() => autocast('bf16', () => {
      throw new Error('boom');
    })).toThrow('boom');
    expect(currentPrecision()).toBe('fp32');
    expect(() => autocast('bf16', async () => 1)).toThrow(/synchronous/);
    expect(currentPrecision()).toBe('fp32');
  });
});

describe('float32 fallback', () => {
  it('on a backend without bf16 kernels runs float32 and says why once', async () => {
    const lines: string[] = [];
    setAutocastLogger((l) => lines.push(l));
    await initBackend({ backend: 'cpu', env: {} });
    try {
      const a = tf.tensor2d([[1 + 2 ** -8]]);
      for (let i = 0; i < 3; i++) {
        expect(autocast('bf16', () => tf.matMul(a, tf.tensor2d([[1]])).dataSync()[0])).toBe(1 + 2 ** -8);
      }
      expect(lines).toEqual(["[ssl] bf16 autocast unavailable, running float32: the 'cpu' backend has no bf16 kernels"]);
      // fp16 (webgpu's) likewise: float32 here, said once, and the scope reports float32.
      for (let i = 0; i < 2; i++) {
        expect(autocast('fp16', () => [currentPrecision(), tf.matMul(a, tf.tensor2d([[1]])).dataSync()[0]])).toEqual(['fp32', 1 + 2 ** -8]);
      }
      expect(lines[1]).toBe("[ssl] fp16 autocast unavailable, running float32: the 'cpu' backend has no fp16 kernels");
      expect(lines.length).toBe(2);
      expect(resolvePrecision('fp16', {})).toEqual({ precision: 'fp32', reason: "the 'cpu' backend has no fp16 kernels" });
    } finally {
      setAutocastLogger((l) => console.warn(l));
      await initBackend({ backend: 'native', env: {} });
    }
  }, 30_000);

  // A CPU without AVX512-BF16, faked: oneDNN's own ONEDNN_MAX_CPU_ISA caps its dispatch below bf16.
  it.runIf(onednnInstalled)('with bf16 instructions missing (ONEDNN_MAX_CPU_ISA=AVX512_CORE) runs float32, the reason printed once', () => {
    const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');
    const script = `
      const { autocast, initBackend, tf } = await import(${JSON.stringify(dist)});
      await initBackend({ backend: 'native' });
      const native = await import('@ssl/backend-native');
      const s = native.nativeBackendStatus();
      const a = tf.tensor2d([[1 + 2 ** -8]]);
      const ys = [0, 1, 2].map(() => autocast('bf16', () => tf.matMul(a, tf.tensor2d([[1]])).dataSync()[0]));
      console.log(JSON.stringify({ isa: s.isa, bf16: s.bf16, ys }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(dirname(fileURLToPath(import.meta.url)), '..'),
      env: { ...process.env, ONEDNN_MAX_CPU_ISA: 'AVX512_CORE', SSL_THREADS: '1' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { isa: string; bf16: boolean; ys: number[] };
    expect(out).toEqual({ isa: 'avx512_core', bf16: false, ys: [1 + 2 ** -8, 1 + 2 ** -8, 1 + 2 ** -8] });
    const notices = r.stderr.split('\n').filter((l) => l.includes('bf16 autocast unavailable'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^\[ssl\] bf16 autocast unavailable, running float32: oneDNN [\d.]+ dispatches to avx512_core, which has no bf16 instructions \(AVX512-BF16 or AMX\)$/);
  }, 60_000);
});
