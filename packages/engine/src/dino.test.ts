import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DINO_FASHION_MNIST } from '@ssl/augment';
import { DataLoader, FashionMNIST, fashionMnistFixtureDir } from '@ssl/data';
import type { Dataset } from '@ssl/data';
import { DINOHead, MultiCropWrapper, VisionTransformer } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { trainDino } from './dino.js';
import type { DinoConfig, DinoStepEvent } from './dino.js';
import { NonFiniteLossError } from './train-common.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ssl-dino-'));
  dirs.push(d);
  return d;
}

const LOCAL = 2;
function tinyNet(dropPathRate: number) {
  const vit = new VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, dropPathRate, seed: 1 });
  const head = new DINOHead({ inDim: 16, outDim: 32, hiddenDim: 24, bottleneckDim: 8, seed: 2 });
  return new MultiCropWrapper(vit, head);
}

async function tinyLoader(n: number, batchSize: number) {
  const ds = await FashionMNIST.load({ root: fashionMnistFixtureDir(), split: 'train' });
  const small: Dataset = { length: n, get: (i) => ds.get(i), targets: ds.targets?.subarray(0, n) };
  return new DataLoader({
    dataset: small,
    transform: { kind: 'dino', ...DINO_FASHION_MNIST, localCropsNumber: LOCAL },
    batchSize,
    seed: 7,
  });
}

function config(outputDir: string, epochs: number): Partial<DinoConfig> & { outputDir: string } {
  return {
    outputDir, epochs, outDim: 32, localCropsNumber: LOCAL, batchSizePerGpu: 4, lr: 0.05, warmupEpochs: 1,
    warmupTeacherTemp: 0.04, teacherTemp: 0.07, warmupTeacherTempEpochs: 1, freezeLastLayer: 1, clipGrad: 0.5,
    saveckpFreq: 1, seed: 0,
  };
}

function weights(net: MultiCropWrapper): Float32Array[] {
  return net.parameters().map((v) => v.dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - ((b[i] as Float32Array)[j] as number))))));
  return m;
}

describe('trainDino', () => {
  it('N steps straight equal N/2 steps + checkpoint + resume + N/2 steps', async () => {
    const loader = await tinyLoader(8, 4); // 2 iterations per epoch, 2 epochs
    // straight
    const a = { student: tinyNet(0.1), teacher: tinyNet(0) };
    const lossesA: DinoStepEvent[] = [];
    const outA = tmp();
    const ra = await trainDino({ ...a, loader, config: config(outA, 2), onStep: (e) => lossesA.push(e) });
    expect(lossesA.length).toBe(4);
    // half, then a fresh process-like restart from the checkpoint
    const outB = tmp();
    const b1 = { student: tinyNet(0.1), teacher: tinyNet(0) };
    const lossesB: DinoStepEvent[] = [];
    const rb1 = await trainDino({ ...b1, loader, config: config(outB, 2), stopAtEpoch: 1, onStep: (e) => lossesB.push(e) });
    expect(rb1.endEpoch).toBe(1);
    rb1.dinoLoss.dispose();
    b1.student.dispose();
    b1.teacher.dispose();
    const b2 = { student: tinyNet(0.1), teacher: tinyNet(0) };
    const said: string[] = [];
    const rb2 = await trainDino({ ...b2, loader, config: config(outB, 2), onStep: (e) => lossesB.push(e), log: (l) => said.push(l) });
    expect(said[0]).toMatch(/^resumed from .*checkpoint: epoch 1, step 2$/);
    expect(said.some((l) => l.startsWith('warning'))).toBe(false);
    expect(rb2.startEpoch).toBe(1);
    expect(lossesB.map((e) => e.step)).toEqual([0, 1, 2, 3]);
    lossesA.forEach((e, i) => {
      const f = lossesB[i] as DinoStepEvent;
      expect(Math.abs(e.loss - f.loss)).toBeLessThan(1e-6);
      expect(f.lr).toBe(e.lr);
      expect(f.momentum).toBe(e.momentum);
      expect(f.teacherTemp).toBe(e.teacherTemp);
    });
    // the loss moved and the temperature warm-up crossed epochs
    expect(lossesA[0]?.teacherTemp).toBe(0.04);
    expect(lossesA[3]?.teacherTemp).toBe(0.07);
    expect(maxAbsDiff(weights(a.student), weights(b2.student))).toBeLessThan(1e-6);
    expect(maxAbsDiff(weights(a.teacher), weights(b2.teacher))).toBeLessThan(1e-6);
    expect(maxAbsDiff([ra.dinoLoss.center.dataSync() as Float32Array], [rb2.dinoLoss.center.dataSync() as Float32Array])).toBeLessThan(1e-6);
    // the teacher moved away from its init and differs from the student (EMA, not a copy)
    expect(maxAbsDiff(weights(a.teacher), weights(a.student))).toBeGreaterThan(1e-5);
    // official layout: checkpoint + checkpoint0000/0001, log.txt lines with the official fields
    expect(readdirSync(outA).sort()).toEqual(['checkpoint', 'checkpoint0000', 'checkpoint0001', 'log.txt', 'steps.jsonl']);
    const lines = readFileSync(join(outA, 'log.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([0, 1]);
    for (const k of ['train_loss', 'train_lr', 'train_wd', 'images_per_sec', 'tf_num_tensors', 'rss_mb']) expect(lines[0]).toHaveProperty(k);
    const state = JSON.parse(readFileSync(join(outA, 'checkpoint', 'state.json'), 'utf8'));
    expect(state).toMatchObject({ kind: 'dino', epoch: 2, step: 4 });
    expect(Object.keys(state.rng)).toContain('student.backbone');
    for (const r of [ra, rb2]) r.dinoLoss.dispose();
    for (const n of [a.student, a.teacher, b2.student, b2.teacher]) n.dispose();
  }, 120_000);

  it('keeps tf.memory().numTensors flat over 50 steps', async () => {
    const loader = await tinyLoader(40, 4); // 10 iterations per epoch
    const net = { student: tinyNet(0.1), teacher: tinyNet(0) };
    const counts: number[] = [];
    const r = await trainDino({ ...net, loader, config: { ...config(tmp(), 5), saveckpFreq: 0 }, logEvery: 0, onStep: () => counts.push(tf.memory().numTensors) });
    expect(counts.length).toBe(50);
    // the last layer's AdamW moments appear at epoch 1 (it is frozen in epoch 0); flat from then on
    expect(counts[10]).toBe((counts[0] as number) + 2);
    expect(new Set(counts.slice(10)).size).toBe(1);
    r.dinoLoss.dispose();
    net.student.dispose();
    net.teacher.dispose();
  }, 120_000);

  it('trains with the sgd and lars optimizers too, and rejects an unknown one', async () => {
    const loader = await tinyLoader(8, 4);
    for (const optimizer of ['sgd', 'lars'] as const) {
      const net = { student: tinyNet(0), teacher: tinyNet(0) };
      const before = weights(net.student);
      const losses: number[] = [];
      const r = await trainDino({ ...net, loader, config: { ...config(tmp(), 1), optimizer, warmupEpochs: 0, freezeLastLayer: 0 }, onStep: (e) => losses.push(e.loss) });
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(before, weights(net.student))).toBeGreaterThan(0);
      r.dinoLoss.dispose();
      net.student.dispose();
      net.teacher.dispose();
    }
    const net = { student: tinyNet(0), teacher: tinyNet(0) };
    await expect(trainDino({ ...net, loader, config: { ...config(tmp(), 1), optimizer: 'adam' as 'adamw' } })).rejects.toThrow(/optimizer must be 'adamw', 'sgd' or 'lars'/);
    net.student.dispose();
    net.teacher.dispose();
  }, 120_000);

  it('stops on a non-finite loss with a clear message, leaving the last good checkpoint', async () => {
    const loader = await tinyLoader(8, 4);
    const out = tmp();
    const net = { student: tinyNet(0), teacher: tinyNet(0) };
    const r = await trainDino({ ...net, loader, config: config(out, 3), stopAtEpoch: 1 });
    r.dinoLoss.dispose();
    const saved = readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8');
    // poison a student weight: the next loss is NaN
    const [, v] = net.student.namedParameters().find(([n]) => n === 'head.mlp.0.weight') ?? [];
    v?.assign(tf.fill(v.shape, Number.NaN));
    const before = tf.memory().numTensors;
    await expect(trainDino({ ...net, loader, config: config(out, 3), resume: false })).rejects.toThrow(NonFiniteLossError);
    await expect(trainDino({ ...net, loader, config: config(tmp(), 3), resume: false })).rejects.toThrow(/Loss is NaN at epoch 0, iteration 0/);
    expect(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).toBe(saved);
    expect(tf.memory().numTensors).toBe(before); // a failed run frees its loss and optimizer state
    net.student.dispose();
    net.teacher.dispose();
  }, 120_000);
});
