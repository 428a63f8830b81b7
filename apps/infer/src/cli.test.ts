import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackbone, writeSafetensors } from '@ssl/models';
import { OnnxFeatureExtractor, readModelMetadata } from '@ssl/onnx';
import { tf } from '@ssl/tensor';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from './commands.js';
import { describeModel } from './model.js';
import { testImage, tinyVitStateDict } from './fixtures.test-helpers.js';
import { prepareImage, resolvePreprocess, stack } from './preprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'ssl-infer-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function capture(argv: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await runCli(['node', 'ssl-infer', ...argv]);
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
  return out;
}

describe('ssl-infer CLI', () => {
  const weights = join(dir, 'vit.safetensors');
  const ckpt = join(dir, 'ckpt');
  const images = join(dir, 'images');
  beforeAll(async () => {
    const sd = tinyVitStateDict(3);
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(sd)) tensors[k] = tf.tensor(v.data, v.shape);
    await writeSafetensors(weights, tensors);
    const prefixed: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(tensors)) prefixed[`teacher.backbone.${k}`] = v;
    rmSync(ckpt, { recursive: true, force: true });
    mkdirSync(ckpt);
    await writeSafetensors(join(ckpt, 'checkpoint.safetensors'), prefixed);
    tf.dispose(Object.values(tensors));
    mkdirSync(images);
    writeFileSync(join(images, 'a.png'), await testImage(41, 50, 40));
    writeFileSync(join(images, 'b.png'), await testImage(42, 32, 32)); // already at crop size
    writeFileSync(join(images, 'notes.txt'), 'skipped: not an image extension');
  });

  it('exports weights and checkpoints to ONNX, checking the arch flags', async () => {
    const out = join(dir, 'm.onnx');
    await capture(['export', '--weights', weights, '--arch', 'vit', '--num-heads', '4', '--patch-size', '8', '--out', out]);
    const meta = readModelMetadata(new Uint8Array(readFileSync(out)));
    expect(meta).toMatchObject({ 'ssl.arch': 'vit', 'ssl.num_heads': '4', 'ssl.patch_size': '8', 'ssl.embed_dim': '32', 'ssl.img_size': '32' });
    // Width 32 is no preset: the head count comes from the flag, or from the checkpoint's state.json.
    await expect(capture(['export', '--checkpoint', ckpt, '--out', join(dir, 'c.onnx')])).rejects.toThrow(/give it \(--num-heads\)/);
    await capture(['export', '--checkpoint', ckpt, '--embed-dim', '32', '--num-heads', '4', '--out', join(dir, 'c.onnx')]);
    expect(existsSync(join(dir, 'c.onnx'))).toBe(true);
    writeFileSync(join(ckpt, 'state.json'), JSON.stringify({ epoch: 1, config: { model: { arch: 'vit_tiny', num_heads: 4 } } }));
    await capture(['export', '--checkpoint', ckpt, '--out', join(dir, 'c2.onnx')]);
    expect(readModelMetadata(new Uint8Array(readFileSync(join(dir, 'c2.onnx'))))['ssl.num_heads']).toBe('4');
    // The run's facts travel in the export, for the server's /v1/model and web page.
    writeFileSync(join(ckpt, 'state.json'), JSON.stringify({ kind: 'dino', epoch: 14, step: 3280, savedAt: '2026-12-01T10:00:00.000Z', config: { model: { num_heads: 4 } } }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ method: 'dino', data: { dataset: 'fashion-mnist' }, optimization: { epochs: 14 } }));
    await capture(['export', '--checkpoint', ckpt, '--out', join(dir, 'c3.onnx')]);
    const run = describeModel(readModelMetadata(new Uint8Array(readFileSync(join(dir, 'c3.onnx'))))).run;
    expect(run).toEqual({ method: 'dino', epoch: '14', step: '3280', savedAt: '2026-12-01T10:00:00.000Z', dataset: 'fashion-mnist', epochs: '14' });
    rmSync(join(dir, 'config.json'));
    await expect(capture(['export', '--weights', weights, '--arch', 'vit_small', '--out', join(dir, 'x.onnx')])).rejects.toThrow(/--embed-dim 384 does not match the weights \(32\)/);
    await expect(capture(['export', '--weights', weights, '--arch', 'resnet50', '--out', join(dir, 'x.onnx')])).rejects.toThrow(/the weights hold a ViT/);
    await expect(capture(['export', '--weights', weights, '--arch', 'vit_huge', '--out', join(dir, 'x.onnx')])).rejects.toThrow(/unknown "vit_huge"/);
  });

  it('embeds images as JSON lines equal to a direct ORT run with the default (model-size) transform', async () => {
    const model = join(dir, 'm.onnx');
    const text = await capture(['embed', '--model', model, images]);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { file: string; embedding: number[] });
    expect(lines.map((l) => l.file)).toEqual([join(images, 'a.png'), join(images, 'b.png')]);
    const pre = resolvePreprocess({ crop: 32 }); // model img size 32 -> crop 32, resize round(32 * 256 / 224) = 37
    expect(pre.resize).toBe(37);
    const fx = await OnnxFeatureExtractor.create({ model, intraOpThreads: 1 });
    try {
      const prepared = await Promise.all(lines.map((l) => prepareImage(l.file, pre)));
      const ref = (await fx.run({ input: stack(prepared) }, ['cls']))['cls']!;
      lines.forEach((l, i) => l.embedding.forEach((v, j) => expect(v).toBeCloseTo(ref.data[i * 32 + j] as number, 5)));
    } finally {
      await fx.close();
    }
    // The same from the weights, exported on the fly.
    const again = await capture(['embed', '--weights', weights, '--num-heads', '4', join(images, 'a.png')]);
    expect(JSON.parse(again).embedding).toEqual(lines[0]!.embedding);
  });

  it('embed over a folder skips and counts the files that cannot be read', async () => {
    const messy = join(dir, 'messy');
    mkdirSync(join(messy, 'sub'), { recursive: true });
    copyFileSync(join(images, 'a.png'), join(messy, 'a.png'));
    copyFileSync(join(images, 'b.png'), join(messy, 'sub', 'b.png'));
    writeFileSync(join(messy, 'garbage.jpg'), Buffer.from('not a jpeg at all'));
    writeFileSync(join(messy, 'empty.png'), Buffer.alloc(0));
    writeFileSync(join(messy, '.DS_Store'), Buffer.alloc(16));
    writeFileSync(join(messy, 'notes.txt'), 'notes');
    const said: string[] = [];
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (said.push(String(s)), true));
    let text: string;
    try {
      let out = '';
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
      try {
        await runCli(['node', 'ssl-infer', 'embed', '--model', join(dir, 'm.onnx'), messy]);
      } finally {
        spy.mockRestore();
      }
      text = out;
    } finally {
      err.mockRestore();
    }
    const files = text.trim().split('\n').map((l) => (JSON.parse(l) as { file: string }).file);
    expect(files).toEqual([join(messy, 'a.png'), join(messy, 'sub', 'b.png')]);
    const stderr = said.join('');
    expect(stderr).toContain(`skipped ${join(messy, 'empty.png')}`);
    expect(stderr).toContain(`skipped ${join(messy, 'garbage.jpg')}`);
    expect(stderr).toContain('embedded 2 of 4 images; 2 could not be read and were skipped');
  });

  it('writes attention PNGs per head with threshold masks', async () => {
    const out = join(dir, 'att');
    await capture(['attention', '--model', join(dir, 'm.onnx'), '--threshold', '0.6', '--out', out, join(images, 'a.png')]);
    const files = readdirSync(join(out, 'a')).sort();
    expect(files).toEqual(
      ['img.png', ...['head0', 'head1', 'head2', 'head3', 'mean'].flatMap((h) => [`attn-${h}.png`, `mask_th0.6_${h}.png`])].sort(),
    );
    await expect(capture(['attention', '--model', join(dir, 'm.onnx'), '--threshold', '2', '--out', out, images])).rejects.toThrow(/--threshold must be in/);
  });

  it('embeds a real photo with a bare .pth and no architecture flags as PyTorch does (fixtures/make_pth_embedding.py)', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/pth_embedding.json', import.meta.url)), 'utf8')) as {
      weights: string;
      photo: string;
      embedding: number[];
    };
    const text = await capture(['embed', '--weights', join(root, ref.weights), join(root, ref.photo)]);
    const got = (JSON.parse(text) as { embedding: number[] }).embedding;
    expect(got).toHaveLength(192);
    const diff = Math.max(...got.map((v, i) => Math.abs(v - (ref.embedding[i] as number))));
    console.log(`bare .pth embedding vs PyTorch: max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
  });

  it('embeds with a PAWS checkpoint .pth (Wide ResNet inferred, no flags) as our tfjs forward of the same encoder', async () => {
    const pth = fileURLToPath(new URL('../../../packages/models/fixtures/paws_checkpoint.pth', import.meta.url));
    const onnx = join(dir, 'paws.onnx');
    await capture(['export', '--weights', pth, '--out', onnx]);
    expect(describeModel(readModelMetadata(readFileSync(onnx))).architecture).toMatchObject({ family: 'wide_resnet', depth: 10, widenFactor: 1, numFeatures: 64 });
    const image = join(images, 'a.png');
    const got = (JSON.parse(await capture(['embed', '--weights', pth, image])) as { embedding: number[] }).embedding;
    expect(got).toHaveLength(64);
    const { chw, channels, height, width } = await prepareImage(image, resolvePreprocess());
    const b = await loadBackbone(pth);
    b.model.eval();
    const want = tf.tidy(() => b.model.forward(tf.transpose(tf.tensor(chw, [1, channels, height, width]), [0, 2, 3, 1])).dataSync());
    b.model.dispose();
    const diff = Math.max(...got.map((v, i) => Math.abs(v - (want[i] as number))));
    console.log(`PAWS .pth embedding (ORT) vs tfjs: max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
  });
});
