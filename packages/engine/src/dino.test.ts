import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DINO_FASHION_MNIST } from '@ssl/augment';
import { DataLoader, FashionMNIST, fashionMnistFixtureDir } from '@ssl/data';
import type { Dataset } from '@ssl/data';
import { DINOHead, MultiCropWrapper, VisionTransformer } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { cosineScheduler } from '@ssl/optim';
import { trainDino } from './dino.js';
import type { DinoConfig, DinoEpochStats, DinoStepEvent } from './dino.js';
import { NonFiniteLossError } from './train-common.js';
import type { ConfigInput, EpochEndInfo } from './train-common.js';

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

/** The tiny run's output directory and config groups, `over` merged into the groups. */
function config(outputDir: string, epochs: number, over: ConfigInput<DinoConfig> = {}): { outputDir: string; config: ConfigInput<DinoConfig> } {
  const groups: ConfigInput<DinoConfig> = {
    model: { out_dim: 32 },
    data: { local_crops_number: LOCAL },
    loss: { warmup_teacher_temp: 0.04, teacher_temp: 0.07, warmup_teacher_temp_epochs: 1 },
    optimization: { epochs, batch_size_per_gpu: 4, lr: 0.05, warmup_epochs: 1, freeze_last_layer: 1, clip_grad: 0.5 },
    logging: { saveckp_freq: 1 },
    runtime: { seed: 0 },
  };
  for (const [g, v] of Object.entries(over)) Object.assign(groups[g as keyof DinoConfig] as object, v);
  return { outputDir, config: groups };
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
    const ra = await trainDino({ ...a, loader, ...config(outA, 2), onStep: (e) => lossesA.push(e) });
    expect(lossesA.length).toBe(4);
    // half, then a fresh process-like restart from the checkpoint
    const outB = tmp();
    const b1 = { student: tinyNet(0.1), teacher: tinyNet(0) };
    const lossesB: DinoStepEvent[] = [];
    const rb1 = await trainDino({ ...b1, loader, ...config(outB, 2), stopAtEpoch: 1, onStep: (e) => lossesB.push(e) });
    expect(rb1.endEpoch).toBe(1);
    rb1.dinoLoss.dispose();
    b1.student.dispose();
    b1.teacher.dispose();
    const b2 = { student: tinyNet(0.1), teacher: tinyNet(0) };
    const said: string[] = [];
    const rb2 = await trainDino({ ...b2, loader, ...config(outB, 2), onStep: (e) => lossesB.push(e), log: (l) => said.push(l) });
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

  describe('stopping and resuming inside an epoch (3 batches per epoch, 2 epochs)', () => {
    let straight: Promise<{ events: DinoStepEvent[]; student: Float32Array[]; teacher: Float32Array[]; center: Float32Array; log: Record<string, number>[] }> | null = null;
    const runStraight = () =>
      (straight ??= (async () => {
        const loader = await tinyLoader(12, 4);
        const net = { student: tinyNet(0.1), teacher: tinyNet(0) };
        const events: DinoStepEvent[] = [];
        const out = tmp();
        const r = await trainDino({ ...net, loader, ...config(out, 2), onStep: (e) => events.push(e) });
        expect(r.stopped).toBeNull();
        const res = {
          events, student: weights(net.student), teacher: weights(net.teacher), center: r.dinoLoss.center.dataSync() as Float32Array,
          log: readFileSync(join(out, 'log.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)),
        };
        r.dinoLoss.dispose();
        net.student.dispose();
        net.teacher.dispose();
        return res;
      })());

    /** Resume in `out` with fresh networks (a new process) and compare everything with the straight run. */
    async function resumeAndCompare(out: string, before: DinoStepEvent[], expectSaid: RegExp) {
      const ref = await runStraight();
      const loader = await tinyLoader(12, 4);
      const net = { student: tinyNet(0.1), teacher: tinyNet(0) };
      const said: string[] = [];
      const events = [...before];
      const r = await trainDino({ ...net, loader, ...config(out, 2), onStep: (e) => events.push(e), log: (l) => said.push(l) });
      expect(said[0]).toMatch(expectSaid);
      expect(r).toMatchObject({ startEpoch: 1, startIteration: 1, endEpoch: 2, endIteration: 0, step: 6, stopped: null });
      expect(events.map((e) => e.step)).toEqual([0, 1, 2, 3, 4, 5]);
      ref.events.forEach((e, i) => {
        const f = events[i] as DinoStepEvent;
        expect(Math.abs(e.loss - f.loss)).toBeLessThan(1e-6);
        expect([f.lr, f.wd, f.momentum, f.teacherTemp]).toEqual([e.lr, e.wd, e.momentum, e.teacherTemp]);
      });
      expect(maxAbsDiff(ref.student, weights(net.student))).toBeLessThan(1e-6);
      expect(maxAbsDiff(ref.teacher, weights(net.teacher))).toBeLessThan(1e-6);
      expect(maxAbsDiff([ref.center], [r.dinoLoss.center.dataSync() as Float32Array])).toBeLessThan(1e-6);
      // epoch 1's log.txt line averages its 3 batches, 1 from before the stop and 2 after, as the straight run's
      const line = readFileSync(join(out, 'log.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.epoch === 1);
      const refLine = ref.log.find((l) => l.epoch === 1) as Record<string, number>;
      expect(Math.abs(line.train_loss - (refLine.train_loss as number))).toBeLessThan(1e-6);
      expect([line.train_lr, line.train_wd]).toEqual([refLine.train_lr, refLine.train_wd]);
      r.dinoLoss.dispose();
      net.student.dispose();
      net.teacher.dispose();
    }

    it('shouldStop saves the current step and returns; resuming continues mid-epoch as a straight run', async () => {
      const loader = await tinyLoader(12, 4);
      const out = tmp();
      const net = { student: tinyNet(0.1), teacher: tinyNet(0) };
      const events: DinoStepEvent[] = [];
      const ends: EpochEndInfo<DinoEpochStats>[] = [];
      const r = await trainDino({
        ...net, loader, ...config(out, 2), onStep: (e) => events.push(e), shouldStop: () => events.length === 4,
        onEpochEnd: async (info) => {
          await new Promise((resolve) => setTimeout(resolve, 1)); // awaited before the next epoch
          ends.push(info);
        },
      });
      expect(r).toMatchObject({ stopped: 'requested', endEpoch: 1, endIteration: 1, step: 4, lastCheckpoint: join(out, 'checkpoint') });
      expect(ends.map((i) => [i.epoch, i.step, i.last, i.stopping, i.checkpoint])).toEqual([[0, 3, false, false, join(out, 'checkpoint')]]);
      expect(ends[0]?.loss).toBe(ends[0]?.stats.train_loss);
      const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8'));
      expect(state).toMatchObject({ kind: 'dino', epoch: 1, iteration: 1, step: 4, extra: { iterationsPerEpoch: 3 } });
      r.dinoLoss.dispose();
      net.student.dispose();
      net.teacher.dispose();
      await resumeAndCompare(out, events, /^resumed from .*checkpoint: epoch 1, step 4 \(batch 1 of 3 of that epoch\)$/);
    }, 120_000);

    it('writes a checkpoint every N steps inside epochs; after a crash, resuming equals a straight run', async () => {
      const loader = await tinyLoader(12, 4);
      const out = tmp();
      const net = { student: tinyNet(0.1), teacher: tinyNet(0) };
      const events: DinoStepEvent[] = [];
      const said: string[] = [];
      const crash = (e: DinoStepEvent) => {
        if (e.step === 4) throw new Error('crash after step 5'); // as kill -9: step 5 is not in any checkpoint
        events.push(e);
      };
      await expect(trainDino({ ...net, loader, ...config(out, 2), checkpointEverySteps: 2, onStep: crash, log: (l) => said.push(l) })).rejects.toThrow(/crash/);
      expect(said.filter((l) => l.startsWith('checkpoint at'))).toEqual([
        `checkpoint at epoch 0, step 2 (batch 2 of 3): saved ${join(out, 'checkpoint')}`,
        `checkpoint at epoch 1, step 4 (batch 1 of 3): saved ${join(out, 'checkpoint')}`,
      ]);
      expect(JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8'))).toMatchObject({ epoch: 1, iteration: 1, step: 4 });
      net.student.dispose();
      net.teacher.dispose();
      // a mid-epoch checkpoint only continues with the same batches per epoch
      const other = { student: tinyNet(0.1), teacher: tinyNet(0) };
      await expect(trainDino({ ...other, loader: await tinyLoader(16, 4), ...config(out, 2) })).rejects.toThrow(
        /saved in the middle of an epoch of 3 batches, but the loader now gives 4/,
      );
      await expect(trainDino({ ...other, loader, ...config(tmp(), 2), checkpointEveryMinutes: -1 })).rejects.toThrow(
        /checkpointEveryMinutes must be a number >= 0 \(0: off\), got -1/,
      );
      // by the clock: with a tiny interval, after every step inside an epoch
      const timed: string[] = [];
      const rt = await trainDino({ ...other, loader, ...config(tmp(), 2, { logging: { saveckp_freq: 0 } }), stopAtEpoch: 1, checkpointEveryMinutes: 1e-9, log: (l) => timed.push(l) });
      expect(timed.filter((l) => l.startsWith('checkpoint at')).length).toBe(2);
      rt.dinoLoss.dispose();
      other.student.dispose();
      other.teacher.dispose();
      await resumeAndCompare(out, events, /^resumed from .*checkpoint: epoch 1, step 4 \(batch 1 of 3 of that epoch\)$/);
    }, 120_000);
  });

  it('keeps tf.memory().numTensors flat over 50 steps', async () => {
    const loader = await tinyLoader(40, 4); // 10 iterations per epoch
    const net = { student: tinyNet(0.1), teacher: tinyNet(0) };
    const counts: number[] = [];
    // mid-epoch checkpoints every 3 steps too: saving frees what it creates
    const r = await trainDino({
      ...net, loader, ...config(tmp(), 5, { logging: { saveckp_freq: 0 } }), logEvery: 0, checkpointEverySteps: 3, onStep: () => counts.push(tf.memory().numTensors),
    });
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
      const r = await trainDino({ ...net, loader, ...config(tmp(), 1, { optimization: { optimizer, warmup_epochs: 0, freeze_last_layer: 0 } }), onStep: (e) => losses.push(e.loss) });
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(before, weights(net.student))).toBeGreaterThan(0);
      r.dinoLoss.dispose();
      net.student.dispose();
      net.teacher.dispose();
    }
    const net = { student: tinyNet(0), teacher: tinyNet(0) };
    await expect(trainDino({ ...net, loader, ...config(tmp(), 1, { optimization: { optimizer: 'adam' as 'adamw' } }) })).rejects.toThrow(/optimizer must be 'adamw', 'sgd' or 'lars'/);
    net.student.dispose();
    net.teacher.dispose();
  }, 120_000);

  it('replan lays every schedule out over fewer epochs from the next step on, saves it, and a resumed run continues it exactly', async () => {
    const loader = await tinyLoader(8, 4); // 2 steps per epoch
    // configured 4 epochs; a budget decides 2 after the first step
    const cfg = config(tmp(), 4, { loss: { warmup_teacher_temp_epochs: 0 } });
    const a = { student: tinyNet(0), teacher: tinyNet(0) };
    const ea: DinoStepEvent[] = [];
    const calls: number[] = [];
    const replan = (at: { step: number }) => (calls.push(at.step), at.step === 1 ? 2 : null);
    const ra = await trainDino({ ...a, loader, ...cfg, replan, onStep: (e) => ea.push(e) });
    ra.dinoLoss.dispose();
    expect(calls).toEqual([1]); // asked until it answered
    expect([ra.endEpoch, ra.step, ea.length]).toEqual([2, 4, 4]);
    const lr = cosineScheduler((0.05 * 4) / 256, 1e-6, 2, 2, { warmupEpochs: 1 });
    const wd = cosineScheduler(0.04, 0.4, 2, 2);
    const mom = cosineScheduler(0.996, 1, 2, 2);
    // step 0 ran on the 4-epoch schedule; from step 1 on, the 2-epoch one, ending at its last value (lr at its minimum)
    expect(ea[0]?.wd).toBe(cosineScheduler(0.04, 0.4, 4, 2)[0]);
    ea.slice(1).forEach((e, i) => expect([e.lr, e.wd, e.momentum]).toEqual([lr[i + 1], wd[i + 1], mom[i + 1]]));
    expect(ea[3]?.lr).toBe(Math.min(...lr.slice(2)));
    const state = JSON.parse(readFileSync(join(cfg.outputDir, 'checkpoint', 'state.json'), 'utf8')) as { epoch: number; config: { optimization: { epochs: number } } };
    expect([state.epoch, state.config.optimization.epochs]).toEqual([2, 2]);

    // the same run stopped after epoch 1 and resumed with the planned 2 epochs ends with the same weights
    const cfgB = config(tmp(), 4, { loss: { warmup_teacher_temp_epochs: 0 } });
    const b1 = { student: tinyNet(0), teacher: tinyNet(0) };
    const r1 = await trainDino({ ...b1, loader, ...cfgB, replan: (at) => (at.step === 1 ? 2 : null), stopAtEpoch: 1 });
    r1.dinoLoss.dispose();
    expect(r1.endEpoch).toBe(1);
    const b2 = { student: tinyNet(0), teacher: tinyNet(0) };
    const said: string[] = [];
    const r2 = await trainDino({ ...b2, loader, ...config(cfgB.outputDir, 2, { loss: { warmup_teacher_temp_epochs: 0 } }), log: (l) => said.push(l) });
    r2.dinoLoss.dispose();
    expect(said.join('\n')).not.toContain('config differs');
    expect(r2.step).toBe(4);
    expect(maxAbsDiff(weights(b2.teacher), weights(a.teacher))).toBeLessThan(1e-6);
    await expect(trainDino({ ...{ student: tinyNet(0), teacher: tinyNet(0) }, loader, ...config(tmp(), 2), replan: () => 3 })).rejects.toThrow(
      /replan must give an integer number of epochs in \[1, 2\], got 3/,
    );
    for (const n of [a, b1, b2]) {
      n.student.dispose();
      n.teacher.dispose();
    }
  }, 120_000);

  it('stops on a non-finite loss with a clear message, leaving the last good checkpoint', async () => {
    const loader = await tinyLoader(8, 4);
    const out = tmp();
    const net = { student: tinyNet(0), teacher: tinyNet(0) };
    const r = await trainDino({ ...net, loader, ...config(out, 3), stopAtEpoch: 1 });
    r.dinoLoss.dispose();
    const saved = readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8');
    // poison a student weight: the next loss is NaN
    const [, v] = net.student.namedParameters().find(([n]) => n === 'head.mlp.0.weight') ?? [];
    v?.assign(tf.fill(v.shape, Number.NaN));
    const before = tf.memory().numTensors;
    await expect(trainDino({ ...net, loader, ...config(out, 3), resume: false })).rejects.toThrow(NonFiniteLossError);
    await expect(trainDino({ ...net, loader, ...config(tmp(), 3), resume: false })).rejects.toThrow(/Loss is NaN at epoch 0, iteration 0/);
    expect(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).toBe(saved);
    expect(tf.memory().numTensors).toBe(before); // a failed run frees its loss and optimizer state
    net.student.dispose();
    net.teacher.dispose();
  }, 120_000);
});
