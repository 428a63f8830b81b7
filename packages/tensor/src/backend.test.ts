import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, formatBackendReport, gpuDeviceNode, initBackend, resolveThreads } from './backend.js';

describe('initBackend', () => {
  // These two probe every backend, Dawn's adapter request included where a GPU device node exists:
  // seconds on a busy machine.
  it('falls back from the installed-but-unloadable tfjs-node-gpu and says why', async () => {
    const info = await initBackend({ env: {} });
    expect(info.attempts.map((a) => a.name)).toEqual([...BACKEND_ORDER]);
    const tensorflow = info.attempts[0]!;
    expect(tensorflow.ok).toBe(false);
    // tfjs-node-gpu is a devDependency here; its libtensorflow download never ran.
    expect(tensorflow.reason).toMatch(/@tensorflow\/tfjs-node-gpu is installed but does not load/);
    // Told from its empty addon folder, without importing its JavaScript (0.5-1.5 s).
    expect(tensorflow.reason).toMatch(/tfjs-node-gpu is installed but does not load \(no native addon under @tensorflow\/tfjs-node-gpu\/lib\/\)/);
    expect(info.name).not.toBe('tensorflow');
    expect(tf.getBackend()).toBe(info.name);
    const chosen = info.attempts.filter((a) => a.ok);
    expect(chosen).toHaveLength(1);
    expect(chosen[0]!.name).toBe(info.name);
    const report = formatBackendReport(info);
    for (const name of BACKEND_ORDER) expect(report).toContain(name);
    // The chosen backend computes.
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync());
    expect(Array.from(y)).toEqual([11]);
  }, 30_000);

  it('takes webgpu only on a real GPU adapter, and says which adapter it saw', async () => {
    const info = await initBackend({ env: {} });
    const webgpu = info.attempts.find((a) => a.name === 'webgpu')!;
    // This machine has no GPU: no device node (Dawn not even loaded), no adapter at all, or only
    // CPU Vulkan (a fallback adapter).
    expect(webgpu.ok).toBe(false);
    expect(webgpu.reason).toMatch(/no GPU device|Vulkan|fallback adapter|no WebGPU adapter|does not load/);
    if (gpuDeviceNode() === undefined) expect(webgpu.reason).toMatch(/^no GPU device .*SSL_BACKEND=webgpu uses it anyway/);
    expect(formatBackendReport(info)).toContain(webgpu.reason);
  }, 30_000);

  it('finds the device node a GPU driver needs, and none in an empty /dev', () => {
    if (process.platform !== 'linux') return;
    const dev = mkdtempSync(join(tmpdir(), 'ssl-dev-'));
    expect(gpuDeviceNode(dev)).toBeUndefined();
    mkdirSync(join(dev, 'dri'));
    writeFileSync(join(dev, 'dri', 'card0'), ''); // a display node alone: no render node
    expect(gpuDeviceNode(dev)).toBeUndefined();
    writeFileSync(join(dev, 'nvidiactl'), '');
    expect(gpuDeviceNode(dev)).toBe(join(dev, 'nvidiactl'));
    writeFileSync(join(dev, 'dri', 'renderD128'), '');
    expect(gpuDeviceNode(dev)).toBe(join(dev, 'dri', 'renderD128'));
  });

  it('forces a backend through SSL_BACKEND and reports it', async () => {
    const info = await initBackend({ env: { SSL_BACKEND: 'cpu', SSL_THREADS: '1' } });
    expect(info.name).toBe('cpu');
    expect(info.threads).toBe(1);
    expect(info.reason).toMatch(/^forced/);
    expect(info.attempts.find((a) => a.name === 'wasm')!.reason).toMatch(/cpu was forced/);
  });

  it('the cpu backend does not print tfjs\'s "install tfjs-node" banner on its first tensor', async () => {
    const cpu = tf.findBackend('cpu') as unknown as { firstUse: boolean };
    cpu.firstUse = true; // as a fresh process has it
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await initBackend({ backend: 'cpu', env: {} });
      tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)).dataSync());
      expect(warn.mock.calls.map((c) => String(c[0]))).not.toContainEqual(expect.stringContaining('TensorFlow.js in Node.js'));
    } finally {
      warn.mockRestore();
    }
  });

  it('forces wasm', async () => {
    const info = await initBackend({ backend: 'wasm', env: {} });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(Array.from(tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)).dataSync()))).toEqual([5]);
  });

  it('a forced backend that cannot load is a clear error naming the cause', async () => {
    await expect(initBackend({ env: { SSL_BACKEND: 'tensorflow' } })).rejects.toThrow(
      /backend 'tensorflow' was forced but cannot load: .*tfjs-node-gpu is installed but does not load/,
    );
    await expect(initBackend({ env: { SSL_BACKEND: 'gpu' } })).rejects.toThrow(
      /SSL_BACKEND='gpu' is not a backend; expected one of: tensorflow, webgpu, native, wasm, cpu/,
    );
  });

  it('validates the thread count', () => {
    expect(resolveThreads(undefined, { SSL_THREADS: '3' })).toBe(3);
    expect(resolveThreads(2, { SSL_THREADS: '3' })).toBe(2);
    expect(resolveThreads(undefined, {})).toBeGreaterThanOrEqual(1);
    expect(() => resolveThreads(undefined, { SSL_THREADS: 'many' })).toThrow(/SSL_THREADS='many'/);
    expect(() => resolveThreads(0)).toThrow(/positive integer/);
  });
});
