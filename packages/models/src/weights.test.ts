import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '@ssl/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, fixture, get, maxAbsDiff } from './fixtures.test-helpers.js';
import { serializeSafetensors } from './safetensors.js';
import { buildModel, inferModelSpec, MissingNumHeadsError } from './spec.js';
import { VisionTransformer } from './vision_transformer.js';
import { loadBackbone, loadWeights, MODEL_SPEC_FILE, readWeights, SPEC_METADATA_KEY } from './weights.js';

const file = (name: string) => join(FIXTURES, name);
let io: Record<string, tf.Tensor>;

beforeAll(async () => {
  io = await fixture('torch_checkpoints_io.safetensors');
});
afterAll(() => tf.dispose(Object.values(io)));

function featuresOf(model: { forward(x: tf.Tensor): tf.Tensor; eval(): unknown }, x: tf.Tensor): tf.Tensor {
  model.eval();
  return model.forward(x);
}

describe('loadBackbone: outputs equal PyTorch on torch.save files (fixtures/make_torch_checkpoints.py)', () => {
  it('a bare ViT state dict (float16): spec inferred with the vit_tiny heads, no flags', async () => {
    const warm = await loadBackbone(file('vit_tiny_bare.pth')); // first use of the backend and kernels makes their own constants
    tf.dispose(featuresOf(warm.model, get(io, 'bare.x')));
    warm.model.dispose();
    const before = tf.memory().numTensors;
    const b = await loadBackbone(file('vit_tiny_bare.pth'));
    expect(b.layout).toBe('bare');
    expect(b.key).toBeNull();
    expect(b.spec).toEqual({
      arch: 'vit',
      options: { embedDim: 192, depth: 1, numHeads: 3, patchSize: 16, inChans: 3, imgSize: 224, mlpRatio: 4, qkvBias: true },
    });
    const y = featuresOf(b.model, get(io, 'bare.x'));
    expect(maxAbsDiff(y, get(io, 'bare.cls'))).toBeLessThan(1e-5);
    y.dispose();
    b.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a main_dino.py save dict: the teacher by default (heads from args.arch), the student with key', async () => {
    const t = await loadBackbone(file('dino_checkpoint.pth'));
    expect(t.layout).toBe('main_dino');
    expect(t.key).toBe('teacher');
    expect(t.notes[0]).toBe('main_dino.py checkpoint of epoch 3');
    expect(t.notes.some((n) => /stripped 'backbone\.' from \d+ keys/.test(n))).toBe(true);
    expect(t.notes.some((n) => /left out \d+ tensors beyond the backbone \(head\./.test(n))).toBe(true);
    expect(t.spec).toMatchObject({ arch: 'vit', options: { embedDim: 48, depth: 1, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28 } });
    const x = get(io, 'dino.x');
    const yt = featuresOf(t.model, x);
    expect(maxAbsDiff(yt, get(io, 'dino.teacher_cls'))).toBeLessThan(1e-5);
    const s = await loadBackbone(file('dino_checkpoint.pth'), { key: 'student' });
    expect(s.notes.some((n) => /stripped 'module\.' from \d+ keys/.test(n))).toBe(true);
    const ys = featuresOf(s.model, x);
    expect(maxAbsDiff(ys, get(io, 'dino.student_cls'))).toBeLessThan(1e-5);
    expect(maxAbsDiff(ys, yt)).toBeGreaterThan(1e-2); // the two networks differ, so the key mattered
    tf.dispose([yt, ys]);
    t.model.dispose();
    s.model.dispose();
  });

  it('a PAWS checkpoint: the WRN encoder under module., heads left out, BatchNorm statistics loaded', async () => {
    const b = await loadBackbone(file('paws_checkpoint.pth'));
    expect(b.layout).toBe('paws');
    expect(b.key).toBe('encoder');
    expect(b.spec).toEqual({ arch: 'wide_resnet', options: { depth: 10, widenFactor: 1, inChans: 3 } });
    expect(b.notes.some((n) => /left out \d+ tensors beyond the backbone \(fc\./.test(n))).toBe(true);
    const y = featuresOf(b.model, get(io, 'paws.x'));
    expect(maxAbsDiff(y, get(io, 'paws.features'))).toBeLessThan(1e-5);
    y.dispose();
    b.model.dispose();
  });

  it('Hugging Face ViTModel names (query/key/value -> qkv), heads and eps from config.json beside the file', async () => {
    const b = await loadBackbone(file('hf-vit/model.safetensors'));
    expect(b.layout).toBe('huggingface');
    expect(b.spec).toMatchObject({ arch: 'vit', options: { embedDim: 48, numHeads: 3, normEps: 1e-6 } });
    expect(b.notes.some((n) => n.includes("left out 'pooler.dense.weight'"))).toBe(true);
    const y = featuresOf(b.model, get(io, 'dino.x'));
    expect(maxAbsDiff(y, get(io, 'dino.teacher_cls'))).toBeLessThan(1e-5);
    y.dispose();
    b.model.dispose();
  });
});

describe('loadWeights', () => {
  it('returns the backbone state dict with official names, from a path or bytes', async () => {
    const fromPath = await loadWeights(file('dino_checkpoint.pth'));
    const fromBytes = await loadWeights(new Uint8Array(readFileSync(file('dino_checkpoint.pth'))), { key: 'teacher', format: 'torch' });
    expect(Object.keys(fromPath)).toEqual(Object.keys(fromBytes));
    expect(Object.keys(fromPath).slice(0, 3)).toEqual(['cls_token', 'pos_embed', 'patch_embed.proj.weight']);
    expect(maxAbsDiff(fromPath['pos_embed'] as tf.Tensor, fromBytes['pos_embed'] as tf.Tensor)).toBe(0);
    tf.dispose([...Object.values(fromPath), ...Object.values(fromBytes)]);
  });

  it('names the sections when --checkpoint-key is not one of them; a bare file ignores the key as the official code', async () => {
    await expect(loadWeights(file('dino_checkpoint.pth'), { key: 'ema' })).rejects.toThrow(
      /dino_checkpoint\.pth: no section 'ema' \(--checkpoint-key\); it has: student, teacher, optimizer, dino_loss/,
    );
    const w = await readWeights(file('vit_tiny_bare.pth'), { key: 'teacher' });
    expect(w.notes[0]).toMatch(/no section 'teacher': the file is a bare state dict/);
    tf.dispose(Object.values(w.stateDict));
  });

  it('asks for --num-heads for a ViT width no preset has and no record says', async () => {
    const sd = await loadWeights(file('hf-vit/model.safetensors'));
    const bytes = serializeSafetensors(sd);
    await expect(loadBackbone(bytes, { name: 'w48.safetensors' })).rejects.toThrow(MissingNumHeadsError);
    await expect(loadBackbone(bytes, { name: 'w48.safetensors' })).rejects.toThrow(/w48\.safetensors: a ViT of width 48.*\(--num-heads\)/);
    const b = await loadBackbone(bytes, { numHeads: 4 });
    expect(b.spec.arch === 'vit' && b.spec.options.numHeads).toBe(4);
    b.model.dispose();
    tf.dispose(Object.values(sd));
  });

  it('reads the spec recorded in safetensors metadata and in a checkpoint directory of ours', async () => {
    const vit = new VisionTransformer({ embedDim: 32, depth: 1, numHeads: 2, patchSize: 4, inChans: 1, imgSize: 8, seed: 1 });
    const spec = inferModelSpec(vit.stateDict(), { numHeads: 2 });
    const sd = vit.stateDict();
    const withSpec = serializeSafetensors(sd, { [SPEC_METADATA_KEY]: JSON.stringify(spec) });
    const a = await loadBackbone(withSpec);
    expect(a.spec).toEqual(spec);
    const dir = mkdtempSync(join(tmpdir(), 'ssl-weights-'));
    const ck = join(dir, 'checkpoint');
    mkdirSync(ck);
    const prefixed = Object.fromEntries(Object.entries(sd).map(([k, t]) => [`teacher.backbone.${k}`, t]));
    writeFileSync(join(ck, 'checkpoint.safetensors'), serializeSafetensors(prefixed, { format: 'ssl-vision-checkpoint' }));
    writeFileSync(join(ck, 'state.json'), JSON.stringify({ config: { model: { num_heads: 2 } } }));
    const b = await loadBackbone(dir);
    expect(b.layout).toBe('ssl-vision');
    expect(b.spec).toEqual(spec);
    const x = tf.randomNormal([1, 8, 8, 1]);
    vit.eval();
    const want = vit.forward(x);
    const got = featuresOf(b.model, x);
    expect(maxAbsDiff(got, want)).toBe(0);
    // ssl-train: the engine's state.json holds the loop's config; the model's is in the run directory's config.json.
    writeFileSync(join(ck, 'state.json'), JSON.stringify({ config: { outDim: 256, teacherTemp: 0.04 } }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: { arch: 'vit_tiny', num_heads: 2 } }));
    const c = await loadBackbone(join(ck));
    expect(c.spec).toEqual(spec);
    // The full spec ssl-train writes beside config.json wins over the head count.
    const recordedSpec = { arch: 'vit', options: { ...spec.options, normEps: 1e-5 } };
    writeFileSync(join(dir, MODEL_SPEC_FILE), JSON.stringify(recordedSpec));
    const d = await loadBackbone(dir);
    expect(d.spec).toEqual(recordedSpec);
    d.model.dispose();
    tf.dispose([x, want, got, ...Object.values(sd)]);
    [vit, a.model, b.model, c.model].forEach((m) => m.dispose());
  });

  it('says what is wrong with a file that is neither format', async () => {
    await expect(loadWeights(new Uint8Array([0x80, 2, 0x7d]), { name: 'old.pth' })).rejects.toThrow(/old\.pth: not a safetensors file \(it looks like a pickle/);
    await expect(loadWeights(file('missing.pth'))).rejects.toThrow(/no such file or directory: .*missing\.pth/);
  });
});

describe('inferModelSpec', () => {
  it('reads ResNet block type, stage depths, stem and width; buildModel rebuilds the same shapes', () => {
    for (const spec of [
      { arch: 'resnet', options: { block: 'bottleneck', layers: [2, 1, 1, 3], cifarStem: false, inChans: 3, baseWidth: 8 } },
      { arch: 'resnet', options: { block: 'basic', layers: [1, 2, 1, 1], cifarStem: true, inChans: 1, baseWidth: 4 } },
      { arch: 'wide_resnet', options: { depth: 16, widenFactor: 1, inChans: 3 } },
    ] as const) {
      const m = buildModel(spec as never);
      const shapes = Object.fromEntries(Object.entries(m.stateDictShapes()).map(([k, shape]) => [k, { shape }]));
      expect(inferModelSpec(shapes)).toEqual(spec);
      m.dispose();
    }
  });
});
