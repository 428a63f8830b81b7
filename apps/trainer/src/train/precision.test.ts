import { existsSync, readFileSync } from 'node:fs';
import { initBackend } from '@ssl/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config/load.js';
import { choosePrecision } from './runner.js';

const cpuHasBf16 = existsSync('/proc/cpuinfo') && /\bavx512_bf16\b|\bamx_bf16\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
const bf16Expected = cpuHasBf16 && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');

beforeAll(async () => {
  await initBackend({ backend: 'native', env: {} });
});

describe('--precision and the official --use_fp16', () => {
  it('defaults to bf16 where the CPU runs it, as the official mixed-precision default', () => {
    for (const method of ['dino', 'paws'] as const) {
      const c = resolveConfig(method);
      expect(c.runtime.precision).toBe('auto');
      expect(choosePrecision(c).precision).toBe(bf16Expected ? 'bf16' : 'fp32');
    }
  });

  it('--use_fp16 false and --precision fp32 train in float32; --precision beats --use_fp16', () => {
    expect(choosePrecision(resolveConfig('dino', { flags: { use_fp16: false } }))).toEqual({ precision: 'fp32', reason: '--use_fp16 false' });
    expect(choosePrecision(resolveConfig('paws', { flags: { use_fp16: false } })).precision).toBe('fp32');
    expect(choosePrecision(resolveConfig('dino', { flags: { precision: 'fp32' } }))).toEqual({ precision: 'fp32', reason: '--precision fp32' });
    expect(choosePrecision(resolveConfig('dino', { flags: { precision: 'bf16', use_fp16: false } })).precision).toBe(bf16Expected ? 'bf16' : 'fp32');
    expect(() => resolveConfig('dino', { flags: { precision: 'fp8' } })).toThrow(/runtime\.precision/);
  });

  it('--precision fp16 (webgpu only) trains in float32 on native and says why', () => {
    expect(choosePrecision(resolveConfig('dino', { flags: { precision: 'fp16' } }))).toEqual({ precision: 'fp32', reason: "the 'native' backend has no fp16 kernels" });
  });
});
