import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClassStratifiedSampler, DataLoader, FashionMNIST, fashionMnistFixtureDir, perClassSubset, Subset, SupportBatches } from '@ssl/data';
import type { Dataset } from '@ssl/data';
import { BatchNorm, groupByResolution, Linear, Module, PAWSModel, VisionTransformer } from '@ssl/models';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { trainPaws } from './paws.js';
import type { PawsConfig, PawsNetwork, PawsStepEvent } from './paws.js';
import type { ConfigInput } from './train-common.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ssl-paws-'));
  dirs.push(d);
  return d;
}

const MULTICROP = 2;
const CLASSES_PER_BATCH = 5;
const PER_CLASS = 1;

/**
 * A small PAWS encoder shaped as paws_train.init_model (backbone, projection `fc` with BatchNorm,
 * prediction `pred`), each resolution group through the network on its own: enough to exercise
 * the loop (BatchNorm buffers, `bn`/`bias` LARS exclusion, stochastic depth RNG) on a tiny ViT.
 */
class TinyPawsEncoder extends Module {
  readonly backbone = this.registerModule('', new VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 3, embedDim: 16, depth: 1, numHeads: 2, dropPathRate: 0.1, seed: 3 }));
  readonly fc1 = this.registerModule('fc1', new Linear(16, 16, { rng: 4 }));
  readonly bn1 = this.registerModule('bn1', new BatchNorm(16));
  readonly fc2 = this.registerModule('fc2', new Linear(16, 8, { rng: 5 }));
  readonly pred = this.registerModule('pred', new Linear(8, 8, { rng: 6 }));

  forward(inputs: Tensor[], _options: { returnBeforeHead: true }): { h: Tensor; z: Tensor } {
    return tf.tidy(() => {
      const hs: Tensor[] = [];
      for (const group of groupByResolution(inputs)) {
        const x = this.backbone.forward(tf.concat(group, 0));
        hs.push(this.fc2.forward(tf.relu(this.bn1.forward(this.fc1.forward(x)))));
      }
      const h = tf.concat(hs, 0);
      return { h, z: this.pred.forward(h) };
    });
  }
}

function tinyEncoder() {
  return new TinyPawsEncoder();
}

// PAWS's CIFAR-10 transforms at Fashion-MNIST's size, on the images as 3 channels
const augment = { size: 28, multicropSize: 14 };

async function data(nUnlabelled: number, batchSize = 4) {
  const ds = await FashionMNIST.load({ root: fashionMnistFixtureDir(), split: 'train', channels: 3 });
  const unlabelled: Dataset = new Subset(ds, Array.from({ length: nUnlabelled }, (_, i) => i));
  const labelled = new Subset(ds, perClassSubset(ds.targets as Int32Array, 2, 0));
  const loader = new DataLoader({
    dataset: unlabelled,
    transform: { kind: 'paws', dataset: 'cifar10', multicrop: MULTICROP, ...augment },
    batchSize,
    seed: 5,
  });
  const support = new SupportBatches({
    dataset: labelled,
    transform: { kind: 'paws', dataset: 'cifar10', views: 2, multicrop: 0, ...augment },
    sampler: new ClassStratifiedSampler({ targets: labelled.targets as Int32Array, batchSize: PER_CLASS, classesPerBatch: CLASSES_PER_BATCH, seed: 6 }),
    seed: 6,
  });
  return { loader, support };
}

/** The tiny run's output directory and config groups, `over` merged into the groups. */
function config(outputDir: string, epochs: number, over: ConfigInput<PawsConfig> = {}): { outputDir: string; config: ConfigInput<PawsConfig> } {
  const groups: ConfigInput<PawsConfig> = {
    criterion: { classes_per_batch: CLASSES_PER_BATCH, supervised_imgs_per_class: PER_CLASS, supervised_views: 2, unsupervised_batch_size: 4 },
    data: { multicrop: MULTICROP, label_smoothing: 0.1 },
    optimization: { epochs, warmup: 1, start_lr: 0.1, lr: 0.4, final_lr: 0.01 },
    logging: { saveckp_freq: 1 },
  };
  for (const [g, v] of Object.entries(over)) Object.assign((groups[g as keyof PawsConfig] ??= {}) as object, v);
  return { outputDir, config: groups };
}

const weights = (m: Module) => [...m.parameters(), ...m.namedBuffers().map(([, b]) => b)].map((v) => v.dataSync() as Float32Array);
function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - ((b[i] as Float32Array)[j] as number))))));
  return m;
}

describe('trainPaws', () => {
  it('N steps straight equal N/2 steps + checkpoint + resume + N/2 steps', async () => {
    const { loader, support } = await data(8); // 2 iterations per epoch, 2 epochs
    const a = tinyEncoder();
    const ea: PawsStepEvent[] = [];
    const outA = tmp();
    await trainPaws({ encoder: a, loader, support, ...config(outA, 2), onStep: (e) => ea.push(e) });
    const outB = tmp();
    const eb: PawsStepEvent[] = [];
    const b1 = tinyEncoder();
    const r1 = await trainPaws({ encoder: b1, loader, support, ...config(outB, 2), stopAtEpoch: 1, onStep: (e) => eb.push(e) });
    expect(r1.endEpoch).toBe(1);
    b1.dispose();
    const b2 = tinyEncoder();
    const r2 = await trainPaws({ encoder: b2, loader, support, ...config(outB, 2), onStep: (e) => eb.push(e) });
    expect(r2.startEpoch).toBe(1);
    expect(eb.map((e) => e.step)).toEqual([0, 1, 2, 3]);
    ea.forEach((e, i) => {
      const f = eb[i] as PawsStepEvent;
      expect(Math.abs(e.loss - f.loss)).toBeLessThan(1e-6);
      expect(Math.abs(e.rloss - f.rloss)).toBeLessThan(1e-6);
      expect(f.lr).toBe(e.lr);
      expect(e.rloss).toBeLessThanOrEqual(0); // me-max is -entropy
    });
    // WarmupCosineSchedule: 2 warm-up steps 0.1 -> 0.4, then cosine to 0.01 over 2 steps
    [0.1, 0.25, 0.4, 0.205].forEach((lr, i) => expect(ea[i]?.lr).toBeCloseTo(lr, 12));
    expect(maxAbsDiff(weights(a), weights(b2))).toBeLessThan(1e-6);
    const lines = readFileSync(join(outA, 'log.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([0, 1]);
    expect(lines[0]).toHaveProperty('train_rloss');
    a.dispose();
    b2.dispose();
  }, 120_000);

  it('stops on shouldStop mid-epoch, and a resume (also after a crash past a mid-epoch checkpoint) equals a straight run', async () => {
    const { loader, support } = await data(12); // 3 iterations per epoch, 2 epochs
    const a = tinyEncoder();
    const ea: PawsStepEvent[] = [];
    const outA = tmp();
    await trainPaws({ encoder: a, loader, support, ...config(outA, 2), onStep: (e) => ea.push(e) });
    const refLine = readFileSync(join(outA, 'log.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))[1];

    const resumeAndCompare = async (out: string, before: PawsStepEvent[]) => {
      const b = tinyEncoder();
      const events = [...before];
      const said: string[] = [];
      const r = await trainPaws({ encoder: b, loader, support, ...config(out, 2), onStep: (e) => events.push(e), log: (l) => said.push(l) });
      expect(said[0]).toMatch(/^resumed from .*checkpoint: epoch 1, step 4 \(batch 1 of 3 of that epoch\)$/);
      expect(r).toMatchObject({ startEpoch: 1, startIteration: 1, step: 6, stopped: null });
      expect(events.map((e) => e.step)).toEqual([0, 1, 2, 3, 4, 5]);
      ea.forEach((e, i) => {
        const f = events[i] as PawsStepEvent;
        expect(Math.abs(e.loss - f.loss)).toBeLessThan(1e-6);
        expect(Math.abs(e.rloss - f.rloss)).toBeLessThan(1e-6);
        expect(f.lr).toBe(e.lr);
      });
      expect(maxAbsDiff(weights(a), weights(b))).toBeLessThan(1e-6);
      const line = readFileSync(join(out, 'log.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.epoch === 1);
      for (const k of ['train_loss', 'train_ploss', 'train_rloss']) expect(Math.abs(line[k] - refLine[k])).toBeLessThan(1e-6);
      b.dispose();
    };

    // stopped by shouldStop after 4 steps: batch 1 of epoch 1
    const outB = tmp();
    const b1 = tinyEncoder();
    const eb: PawsStepEvent[] = [];
    const epochEnds: number[] = [];
    const r1 = await trainPaws({
      encoder: b1, loader, support, ...config(outB, 2), onStep: (e) => eb.push(e), shouldStop: () => eb.length === 4,
      onEpochEnd: (info) => void epochEnds.push(info.epoch),
    });
    expect(r1).toMatchObject({ stopped: 'requested', endEpoch: 1, endIteration: 1, step: 4 });
    expect(epochEnds).toEqual([0]);
    expect(JSON.parse(readFileSync(join(outB, 'checkpoint', 'state.json'), 'utf8'))).toMatchObject({ kind: 'paws', epoch: 1, iteration: 1, step: 4 });
    b1.dispose();
    await resumeAndCompare(outB, eb);

    // a checkpoint every 2 steps, then a crash after step 5 (which no checkpoint holds)
    const outC = tmp();
    const c1 = tinyEncoder();
    const ec: PawsStepEvent[] = [];
    const crash = (e: PawsStepEvent) => {
      if (e.step === 4) throw new Error('crash');
      ec.push(e);
    };
    await expect(trainPaws({ encoder: c1, loader, support, ...config(outC, 2), checkpointEverySteps: 2, onStep: crash })).rejects.toThrow(/crash/);
    expect(JSON.parse(readFileSync(join(outC, 'checkpoint', 'state.json'), 'utf8'))).toMatchObject({ epoch: 1, iteration: 1, step: 4 });
    c1.dispose();
    await resumeAndCompare(outC, ec);
    a.dispose();
  }, 120_000);

  it('keeps tf.memory().numTensors flat over 50 steps', async () => {
    const { loader, support } = await data(20, 2); // 10 iterations per epoch
    const enc = tinyEncoder();
    const counts: number[] = [];
    // mid-epoch checkpoints every 3 steps too: saving frees what it creates
    await trainPaws({
      encoder: enc, loader, support, ...config(tmp(), 5, { logging: { saveckp_freq: 0 } }), logEvery: 0, checkpointEverySteps: 3,
      onStep: () => counts.push(tf.memory().numTensors),
    });
    expect(counts.length).toBe(50);
    expect(new Set(counts.slice(1)).size).toBe(1);
    enc.dispose();
  }, 120_000);

  it("trains @ssl/models' PAWSModel (projection + prediction heads with BatchNorm)", async () => {
    const { loader, support } = await data(8);
    const vit = new VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 3, embedDim: 16, depth: 1, numHeads: 2, seed: 8 });
    const encoder: PawsNetwork = new PAWSModel(vit, { hiddenDim: 16, outputDim: 8, usePred: true, seed: 9 });
    const before = weights(encoder);
    const events: PawsStepEvent[] = [];
    await trainPaws({ encoder, loader, support, ...config(tmp(), 1), onStep: (e) => events.push(e) });
    expect(events.length).toBe(2);
    expect(events.every((e) => Number.isFinite(e.loss) && e.rloss <= 0)).toBe(true);
    expect(maxAbsDiff(before, weights(encoder))).toBeGreaterThan(0);
    encoder.dispose();
  }, 120_000);

  it("optimizer 'adamw' bounds a ViT's bias steps by ~lr, where LARS gives excluded biases plain SGD at the full lr", async () => {
    const { loader, support } = await data(8); // 2 iterations
    const biasChange = async (optimizer: PawsConfig['optimization']['optimizer'], lr: number) => {
      const vit = new VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 3, embedDim: 16, depth: 1, numHeads: 2, seed: 8 });
      const encoder = new PAWSModel(vit, { hiddenDim: 16, outputDim: 8, usePred: true, seed: 9 });
      const biases = () => encoder.namedParameters().filter(([n]) => n.startsWith('blocks.') && n.endsWith('.bias')).map(([, v]) => v.dataSync() as Float32Array);
      const before = biases();
      await trainPaws({ encoder, loader, support, ...config(tmp(), 1, { optimization: { optimizer, warmup: 0, start_lr: lr, lr, final_lr: lr }, logging: { saveckp_freq: 0 } }), logEvery: 0 });
      const d = maxAbsDiff(before, biases());
      encoder.dispose();
      return d;
    };
    // two Adam steps move an element by about 2 lr at most (bias-corrected m / sqrt(v) stays near 1)
    const adam = await biasChange('adamw', 1e-3);
    expect(adam).toBeGreaterThan(0);
    expect(adam).toBeLessThanOrEqual(2.5e-3);
    // the official LARS at the CIFAR-10 lr moves the same biases by lr x gradient: far more
    expect(await biasChange('lars', 3.2)).toBeGreaterThan(100 * adam);
  }, 120_000);

  it('takes fractional warm-up epochs (rounded to whole steps) and names a bad optimizer', async () => {
    const { loader, support } = await data(8); // 2 iterations per epoch
    const enc = tinyEncoder();
    const lrs: number[] = [];
    // 0.5 epoch of 2 iterations = 1 warm-up step: 0.1, then cosine from 0.4 to 0.01 over 3 steps
    await trainPaws({ encoder: enc, loader, support, ...config(tmp(), 2, { optimization: { warmup: 0.5 }, logging: { saveckp_freq: 0 } }), logEvery: 0, onStep: (e) => lrs.push(e.lr) });
    [0.1, 0.4, 0.01 + 0.39 * 0.75, 0.01 + 0.39 * 0.25].forEach((lr, i) => expect(lrs[i]).toBeCloseTo(lr, 12));
    const n = tf.memory().numTensors;
    await expect(
      trainPaws({ encoder: enc, loader, support, ...config(tmp(), 1, { optimization: { optimizer: 'adam' as never } }) }),
    ).rejects.toThrow(/optimizer must be 'lars' or 'adamw', got 'adam'/);
    expect(tf.memory().numTensors).toBe(n);
    enc.dispose();
  }, 120_000);
});
