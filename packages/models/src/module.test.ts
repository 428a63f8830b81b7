import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { BatchNorm, Conv2d, Linear } from './layers.js';
import { Module, adaptStateDictKeys } from './module.js';

class Net extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;
  readonly fc: Linear;
  readonly token;
  constructor(seed = 1) {
    super();
    this.token = this.registerParameter('token', tf.zeros([1, 3]));
    this.conv = this.registerModule('conv', new Conv2d(2, 3, 3, { padding: 1, rng: seed }));
    this.bn = this.registerModule('bn', new BatchNorm(3));
    this.fc = this.registerModule('fc', new Linear(3, 4, { rng: seed + 1 }));
  }
  forward(x: Tensor): Tensor {
    return tf.tidy(() => this.fc.forward(tf.add(tf.mean(this.bn.forward(this.conv.forward(x)), [1, 2]), this.token)));
  }
}

describe('Module', () => {
  it('names parameters and buffers in PyTorch state-dict order with PyTorch layouts', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'token', 'conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'fc.weight', 'fc.bias',
    ]);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    const sd = net.stateDict();
    expect(Object.keys(sd)).toEqual([
      'token', 'conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var',
      'bn.num_batches_tracked', 'fc.weight', 'fc.bias',
    ]);
    expect(sd['conv.weight']!.shape).toEqual([3, 2, 3, 3]); // OIHW
    expect(net.conv.weight.shape).toEqual([3, 3, 2, 3]); // HWIO inside
    expect(sd['fc.weight']!.shape).toEqual([4, 3]);
    expect(sd['bn.num_batches_tracked']!.dtype).toBe('int32');
    // OIHW[o, i, h, w] == HWIO[h, w, i, o]
    const oihw = sd['conv.weight']!.arraySync() as number[][][][];
    const hwio = net.conv.weight.arraySync() as number[][][][];
    expect(oihw[2]![1]![0]![2]).toBe(hwio[0]![2]![1]![2]);
    expect(net.numParameters()).toBe(3 + 54 + 3 + 3 + 3 + 12 + 4);
    tf.dispose(Object.values(sd));
    net.dispose();
  });

  it('loads a state dict into a second instance: identical outputs', () => {
    const a = new Net(1);
    const b = new Net(7);
    const x = tf.randomNormal([2, 5, 5, 2]);
    a.forward(x).dispose(); // moves running stats off their init
    a.eval();
    b.eval();
    const sd = a.stateDict();
    const res = b.loadStateDict(sd);
    expect(res).toEqual({ missing: [], unexpected: [], mismatched: [], stripped: [] });
    const ya = a.forward(x);
    const yb = b.forward(x);
    expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
    expect(b.bn.numBatchesTracked.dataSync()[0]).toBe(1);
    tf.dispose([x, ya, yb, ...Object.values(sd)]);
    a.dispose();
    b.dispose();
  });

  it('strict load lists every missing, unexpected and mismatched key in one error and loads nothing', () => {
    const net = new Net();
    const before = Array.from(net.fc.weight.dataSync());
    const sd = net.stateDict();
    const bad: Record<string, Tensor> = { ...sd, extra: tf.zeros([1]), 'fc.weight': tf.zeros([4, 5]) };
    delete bad['bn.bias'];
    delete bad.token;
    let msg = '';
    try {
      net.loadStateDict(bad, { strict: true });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/2 missing key\(s\): token, bn.bias/);
    expect(msg).toMatch(/1 unexpected key\(s\): extra/);
    expect(msg).toMatch(/fc.weight expected \[4,3\] got \[4,5\]/);
    expect(Array.from(net.fc.weight.dataSync())).toEqual(before);
    const res = net.loadStateDict(bad, { strict: false });
    expect(res.missing).toEqual(['token', 'bn.bias']);
    expect(res.unexpected).toEqual(['extra']);
    expect(res.mismatched).toEqual([{ key: 'fc.weight', expected: [4, 3], got: [4, 5] }]);
    tf.dispose([...Object.values(sd), bad.extra!, bad['fc.weight']!]);
    net.dispose();
  });

  it('strips official checkpoint prefixes and reports it', () => {
    const net = new Net();
    const sd = net.stateDict();
    const wrapped: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(sd)) {
      wrapped[`teacher.backbone.${k}`] = v;
      wrapped[`student.module.backbone.${k}`] = v;
    }
    wrapped['teacher.head.w'] = sd.token!;
    const strict = () => net.loadStateDict(wrapped);
    expect(strict).toThrow(/1 unexpected key\(s\): head.w/);
    const res = net.loadStateDict(wrapped, { strict: false });
    expect(res.stripped).toEqual(["took section 'teacher.' (11 keys), left out 10 keys outside it", "stripped 'backbone.' from 10 keys"]);
    expect(res.missing).toEqual([]);
    const st = net.loadStateDict(
      Object.fromEntries(Object.entries(wrapped).filter(([k]) => k.startsWith('student.'))),
      { section: 'student' },
    );
    expect(st.stripped).toEqual(["took section 'student.' (10 keys)", "stripped 'module.' from 10 keys", "stripped 'backbone.' from 10 keys"]);
    // keys that already match are never stripped
    const m = adaptStateDictKeys(['backbone.x', 'head.y'], new Set(['backbone.x', 'head.y']));
    expect(m.stripped).toEqual([]);
    expect(() => net.loadStateDict(sd, { section: 'ema' })).toThrow(/section 'ema' requested but no key starts with 'ema.'/);
    tf.dispose(Object.values(sd));
    net.dispose();
  });

  it('train()/eval() reach every descendant; frozen parameters are left out of trainableParameters()', () => {
    class Frozen extends Module {
      readonly inner = this.registerModule('inner', new Net());
      readonly g = this.registerParameter('g', tf.ones([2]), { trainable: false });
    }
    const f = new Frozen();
    f.eval();
    expect(f.namedModules().every(([, m]) => !m.training)).toBe(true);
    f.train();
    expect(f.inner.bn.training).toBe(true);
    expect(f.parameters()).toHaveLength(8);
    expect(f.trainableParameters()).toHaveLength(7);
    expect(f.namedTrainableParameters().map(([n]) => n)).not.toContain('g');
    f.dispose();
  });

  it('BatchNorm matches the PyTorch update rule: batch stats in training, running stats in eval', () => {
    const bn = new BatchNorm(2);
    const x = tf.tensor([[1, 10], [2, 20], [4, 40], [5, 30]]); // [4, 2]
    const y = bn.forward(x);
    // channel 0: mean 3, biased var 2.5, unbiased 10/3
    expect((y.arraySync() as number[][])[0]![0]).toBeCloseTo((1 - 3) / Math.sqrt(2.5 + 1e-5), 5);
    expect(Array.from(bn.runningMean.dataSync())[0]).toBeCloseTo(0.3, 6);
    expect(Array.from(bn.runningVar.dataSync())[0]).toBeCloseTo(0.9 + 0.1 * (10 / 3), 6);
    bn.eval();
    const z = bn.forward(x);
    expect((z.arraySync() as number[][])[0]![0]).toBeCloseTo((1 - 0.3) / Math.sqrt(0.9 + 1 / 3 + 1e-5), 5);
    expect(bn.numBatchesTracked.dataSync()[0]).toBe(1);
    tf.dispose([x, y, z]);
    bn.dispose();
  });
});
