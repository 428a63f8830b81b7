import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackbone } from '@ssl/models';
import { bf16Support, initBackend } from '@ssl/tensor';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openModel, runCli } from './commands.js';
import { NativeExtractor } from './native-engine.js';
import { prepareImage, resolvePreprocess, stack } from './preprocess.js';
import { startServer } from './server.js';

// A real photo through a bare .pth ViT-Tiny (1 block, patch 16, 224 px) with PyTorch's float32
// embedding beside it (fixtures/make_pth_embedding.py).
const root = fileURLToPath(new URL('../../../', import.meta.url));
const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/pth_embedding.json', import.meta.url)), 'utf8')) as {
  weights: string;
  photo: string;
  embedding: number[];
};
const weights = join(root, ref.weights);
const photo = join(root, ref.photo);
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const onednnInstalled = existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');

type Line = { file: string; embedding: number[]; precision: string; engine: string };

async function capture(argv: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    await runCli(['node', 'ssl-infer', ...argv]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return { out, err };
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

let bf16Here = false;
beforeAll(async () => {
  await initBackend({ backend: 'native', env: {} });
  bf16Here = bf16Support().bf16;
});

describe('ssl-infer --precision', () => {
  // bf16 keeps 8 mantissa bits: each matmul input is off by at most 2^-9 (0.2%) relative, the sums
  // stay float32, so one block moves the 192-dim embedding by well under 1% (measured: 1 - cos
  // 4e-6). 1 - cos < 1e-4 (a 1.4% relative error) fails on a kernel that drops float32 accumulation
  // or mis-rounds, and leaves room for other CPUs' summation orders.
  it('embeds a real photo in bf16 on the native backend, within cosine 0.9999 of float32 (ORT) and of PyTorch', async () => {
    const fp32 = JSON.parse((await capture(['embed', '--weights', weights, photo])).out) as Line;
    expect(fp32).toMatchObject({ precision: 'fp32', engine: 'onnxruntime' });
    const { out, err } = await capture(['embed', '--weights', weights, '--precision', 'bf16', photo]);
    const bf16 = JSON.parse(out) as Line;
    if (!bf16Here) {
      // No bf16 here: float32 on ONNX Runtime, the same numbers, and why.
      expect(bf16).toMatchObject({ precision: 'fp32', engine: 'onnxruntime' });
      expect(bf16.embedding).toEqual(fp32.embedding);
      expect(err).toMatch(/bf16 autocast unavailable, running float32 on ONNX Runtime: /);
      return;
    }
    expect(bf16).toMatchObject({ precision: 'bf16', engine: 'native' });
    expect(err).toMatch(/running bf16 on the native backend \(bf16 requested: oneDNN [\d.]+ on \w+\)/);
    expect(1 - cosine(bf16.embedding, fp32.embedding)).toBeLessThan(1e-4);
    expect(1 - cosine(bf16.embedding, ref.embedding)).toBeLessThan(1e-4);
    // It did run in bf16: not the float32 numbers.
    expect(maxAbsDiff(bf16.embedding, fp32.embedding)).toBeGreaterThan(1e-5);
  });

  it('the native engine in float32 equals ONNX Runtime (embedding and attention), and bf16 attention stays close', async () => {
    const pre = resolvePreprocess({});
    const input = stack([await prepareImage(photo, pre)]);
    const { model: ort } = await openModel({ weights });
    const native32 = new NativeExtractor((await loadBackbone(weights)).model, 'fp32');
    const native16 = new NativeExtractor((await loadBackbone(weights)).model, 'bf16');
    try {
      const a = await ort.extractor.run({ input }, ['cls', 'attention']);
      const b = await native32.run({ input }, ['cls', 'attention']);
      expect(b['cls']!.dims).toEqual(a['cls']!.dims);
      expect(b['attention']!.dims).toEqual(a['attention']!.dims); // [1, 3, 197, 197]
      expect(maxAbsDiff(b['cls']!.data, a['cls']!.data)).toBeLessThan(1e-4);
      expect(maxAbsDiff(b['attention']!.data, a['attention']!.data)).toBeLessThan(1e-5);
      // Attention probabilities in [0, 1] from bf16 q.k products: within 1e-2 of float32.
      const c = await native16.run({ input }, ['attention']);
      expect(maxAbsDiff(c['attention']!.data, a['attention']!.data)).toBeLessThan(1e-2);
      await expect(native32.run({ input }, ['tokens'])).rejects.toThrow(/no output "tokens" \(model has cls, attention\)/);
    } finally {
      await ort.extractor.close();
      await native32.close();
      await native16.close();
    }
  });

  it('an .onnx model with --precision bf16 is an error naming the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-infer-prec-'));
    try {
      await expect(capture(['embed', '--model', join(dir, 'm.onnx'), '--precision', 'bf16', photo])).rejects.toThrow(/give --weights FILE or --checkpoint DIR/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves bf16 and says so in /v1/model and the embeddings response', async () => {
    const { model, pre } = await openModel({ weights, precision: 'bf16' });
    const indexDir = mkdtempSync(join(tmpdir(), 'ssl-infer-prec-index-'));
    const s = await startServer({ model, port: 0, preprocess: pre, indexDir });
    try {
      const want = bf16Here ? { engine: 'native', precision: 'bf16' } : { engine: 'onnxruntime', precision: 'fp32' };
      const info = (await (await fetch(`${s.url}/v1/model`)).json()) as Record<string, unknown>;
      expect(info).toMatchObject(want);
      expect(info['precisionReason']).toEqual(expect.any(String));
      const res = await fetch(`${s.url}/v1/embeddings`, { method: 'POST', body: readFileSync(photo), headers: { 'content-type': 'image/jpeg' } });
      const body = (await res.json()) as { engine: string; precision: string; data: { embedding: number[] }[] };
      expect(body).toMatchObject({ ...want, dim: 192 });
      expect(1 - cosine(body.data[0]!.embedding, ref.embedding)).toBeLessThan(1e-4);
    } finally {
      await s.close();
      rmSync(indexDir, { recursive: true, force: true });
    }
  });
});

describe('ssl-infer --precision bf16 where bf16 cannot run', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [CLI, 'embed', '--weights', weights, '--precision', 'bf16', '--threads', '1', photo], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
  let fp32: Line;
  beforeAll(async () => {
    fp32 = JSON.parse((await capture(['embed', '--weights', weights, photo])).out) as Line;
  });
  afterAll(() => vi.restoreAllMocks());

  const cases: [string, Record<string, string>, RegExp, boolean][] = [
    ['SSL_PRECISION=fp32', { SSL_PRECISION: 'fp32' }, /SSL_PRECISION=fp32 forces float32$/, true],
    // A CPU without AVX512-BF16, faked: oneDNN's own ONEDNN_MAX_CPU_ISA caps its dispatch below bf16.
    ['no bf16 instructions (ONEDNN_MAX_CPU_ISA=AVX512_CORE)', { ONEDNN_MAX_CPU_ISA: 'AVX512_CORE' }, /dispatches to avx512_core, which has no bf16 instructions/, onednnInstalled],
  ];
  for (const [name, env, reason, runs] of cases) {
    it.runIf(runs)(`${name}: float32 on ONNX Runtime, the same embedding, the reason printed once`, () => {
      const r = run(env);
      expect(r.status, r.stderr).toBe(0);
      const line = JSON.parse(r.stdout) as Line;
      expect(line).toMatchObject({ precision: 'fp32', engine: 'onnxruntime' });
      expect(line.embedding).toEqual(fp32.embedding);
      const notices = r.stderr.split('\n').filter((l) => l.includes('bf16 autocast unavailable'));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/^ssl-infer: bf16 autocast unavailable, running float32 on ONNX Runtime: /);
      expect(notices[0]).toMatch(reason);
    }, 60_000);
  }
});

describe('ssl-infer --precision fp16', () => {
  it('is refused by name: fp16 is webgpu autocast for training', () => {
    const r = spawnSync(process.execPath, [CLI, 'embed', '--weights', weights, '--precision', 'fp16', photo], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--precision='fp16' is for training on webgpu; ssl-infer takes bf16 or fp32/);
  });
});
