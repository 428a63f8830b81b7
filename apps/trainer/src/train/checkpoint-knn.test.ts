import { fileURLToPath } from 'node:url';
import { fashionMnistFixtureDir } from '@ssl/data';
import { knnEvaluate } from '@ssl/eval';
import { loadWeights, VisionTransformer } from '@ssl/models';
import { initBackend, tf } from '@ssl/tensor';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../program.js';
import { weightsKnn } from './checkpoint-knn.js';
import { loadEvalImages, openDatasets } from './run.js';

// torch.save fixtures (packages/models/fixtures/make_torch_checkpoints.py): a main_dino.py save dict
// of a 1-channel 28-px ViT (patch 4, width 48, 1 block, args.arch vit_tiny: 3 heads) and a PAWS WRN on RGB.
const fixture = (name: string) => fileURLToPath(new URL(`../../../../packages/models/fixtures/${name}`, import.meta.url));
const DINO_PTH = fixture('dino_checkpoint.pth');
const PAWS_PTH = fixture('paws_checkpoint.pth');
const data = fashionMnistFixtureDir();
const sizes = { trainImages: 300, testImages: 100, k: 20, T: 0.07 };

beforeAll(async () => {
  await initBackend();
});

describe('ssl-train knn --weights (any weights file, architecture inferred)', () => {
  it('evaluates the teacher of an official main_dino.py checkpoint as the same ViT built by hand', async () => {
    const before = tf.memory().numTensors;
    const r = await weightsKnn(DINO_PTH, { ...sizes, key: 'teacher', dataset: 'fashion-mnist', dataPath: data });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.weights.layout).toBe('main_dino');
    expect(r.weights.key).toBe('teacher');
    expect(r.weights.spec).toMatchObject({ arch: 'vit', options: { embedDim: 48, depth: 1, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28 } });
    expect([r.model.trainImages, r.model.testImages]).toEqual([300, 100]);

    // reference: the architecture written out by hand (as the fixture script builds it), the teacher's tensors in it
    const vit = new VisionTransformer({ embedDim: 48, depth: 1, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28, seed: 0 });
    const sd = await loadWeights(DINO_PTH, { key: 'teacher' });
    vit.loadStateDict(sd, { strict: false });
    tf.dispose(Object.values(sd));
    vit.eval();
    const sets = await openDatasets({ data: { dir: data } as never }, 'fashion-mnist', null, 0);
    const memory = await loadEvalImages(sets.train, 28, sets, 300);
    const test = await loadEvalImages(sets.test as never, 28, sets, 100);
    const ref = await knnEvaluate(vit, memory, test, 20, 0.07);
    vit.dispose();
    expect([r.model.top1, r.model.top5]).toEqual([ref.top1, ref.top5]);
    expect(r.model.top1).toBeGreaterThan(10); // a perturbed random ViT still beats chance on Fashion-MNIST
  });

  it('takes another section with --checkpoint-key, and says which sections exist for a wrong one', async () => {
    const student = await weightsKnn(DINO_PTH, { ...sizes, key: 'student', dataset: 'fashion-mnist', dataPath: data });
    expect(student.weights.key).toBe('student');
    expect(student.weights.notes.join('; ')).toMatch(/stripped 'module\.'/);
    await expect(weightsKnn(DINO_PTH, { ...sizes, key: 'ema', dataset: 'fashion-mnist', dataPath: data })).rejects.toThrow(/no section 'ema'.*student, teacher/);
  });

  it('refuses weights whose channels do not match the data, naming both', async () => {
    await expect(weightsKnn(PAWS_PTH, { ...sizes, dataset: 'fashion-mnist', dataPath: data })).rejects.toThrow(
      /paws_checkpoint\.pth: the wide_resnet takes 3-channel images; .* has 1-channel images/,
    );
  });

  it('runs from the CLI with the official flag spellings', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
    try {
      const code = await main(['knn', '--pretrained_weights', DINO_PTH, '--checkpoint_key', 'teacher', '--data-path', data, '--train-images', '300', '--test-images', '100']);
      expect(code).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const out = lines.join('\n');
    expect(out).toMatch(/weights: .*dino_checkpoint\.pth \(main_dino, 'teacher'\): \{"arch":"vit"/);
    expect(out).toMatch(/vit weights: k-NN \(k=20\) top-1 \d+\.\d\d%, top-5 \d+\.\d\d% \(300 train, 100 test images\)/);
    expect(out).toMatch(/pixels, same code and images: top-1/);
    expect(await main(['knn', '--weights', DINO_PTH, '--checkpoint', '/nonexistent'])).toBe(1);
  });
});
