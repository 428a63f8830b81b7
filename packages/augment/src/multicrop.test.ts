import { Rng } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { createImage } from './image.js';
import { MultiCrop, multiCropDecodeSide } from './multicrop.js';
import { buildTransform, DataAugmentationDINO, DINO_FASHION_MNIST, dinoSpec, evalSpec, pawsSpec } from './presets.js';

function testImage(h: number, w: number, c: 1 | 3, seed = 0) {
  const img = createImage(h, w, c);
  const rng = new Rng(seed);
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng.integer(0, 256);
  return img;
}

describe('multi-crop', () => {
  it('DINO defaults: 2 x 224 then 8 x 96, with the official parameters', () => {
    const spec = dinoSpec();
    expect(spec.views.map((v) => [v.size, v.count ?? 1, v.scale])).toEqual([
      [224, 1, [0.4, 1]],
      [224, 1, [0.4, 1]],
      [96, 8, [0.05, 0.4]],
    ]);
    expect(spec.views.map((v) => v.blur?.p)).toEqual([1, 0.1, 0.5]);
    expect(spec.views.map((v) => v.solarize?.p)).toEqual([undefined, 0.2, undefined]);
    for (const v of spec.views) {
      expect(v.colorJitter).toEqual({ brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1, p: 0.8 });
      expect([v.flip, v.grayscale, v.interpolation]).toEqual([0.5, 0.2, 'bicubic']);
    }
    expect(spec.mean).toEqual([0.485, 0.456, 0.406]);
  });

  it('Fashion-MNIST preset: 1 channel, 28 and 12, normalised, deterministic per rng key', () => {
    const aug = new DataAugmentationDINO({ ...DINO_FASHION_MNIST, localCropsNumber: 4 });
    expect(aug.shapes).toEqual([[28, 28, 1], [28, 28, 1], [12, 12, 1], [12, 12, 1], [12, 12, 1], [12, 12, 1]]);
    const img = testImage(28, 28, 1);
    const a = aug.apply(img, new Rng(7).fork(0, 5));
    const b = aug.apply(img, new Rng(7).fork(0, 5));
    const c = aug.apply(img, new Rng(7).fork(0, 6));
    expect(a.map((x) => x.length)).toEqual([784, 784, 144, 144, 144, 144]);
    a.forEach((x, i) => expect(x).toEqual(b[i]));
    expect(a[0]).not.toEqual(c[0]);
    // Values lie in the normalised range of [0, 255].
    for (const x of a) for (const v of x) expect(v >= (0 - 0.286) / 0.353 - 1e-6 && v <= (1 - 0.286) / 0.353 + 1e-6).toBe(true);
  });

  it('a view depends only on its own crop index (adding local crops keeps the earlier ones)', () => {
    const img = testImage(40, 50, 3);
    const few = new DataAugmentationDINO({ globalSize: 16, localSize: 8, localCropsNumber: 2 });
    const many = new DataAugmentationDINO({ globalSize: 16, localSize: 8, localCropsNumber: 5 });
    const a = few.apply(img, new Rng(1));
    const b = many.apply(img, new Rng(1));
    for (let k = 0; k < 4; k++) expect(a[k]).toEqual(b[k]);
  });

  it('writes into given targets at an offset', () => {
    const aug = new DataAugmentationDINO({ ...DINO_FASHION_MNIST, localCropsNumber: 1 });
    const img = testImage(28, 28, 1);
    const targets = aug.shapes.map(([h, w, c]) => ({ data: new Float32Array(3 * h * w * c), offset: h * w * c }));
    const out = aug.apply(img, new Rng(3), targets);
    const ref = aug.apply(img, new Rng(3));
    out.forEach((o, k) => {
      expect(o).toBe(targets[k]!.data);
      expect(o.subarray(ref[k]!.length, 2 * ref[k]!.length)).toEqual(ref[k]);
      expect(o[0]).toBe(0);
    });
  });

  it('identity pipeline: full-image crop equals the normalised input', () => {
    const img = testImage(12, 12, 3);
    const mc = new MultiCrop({ channels: 3, mean: [0, 0, 0], std: [1, 1, 1], views: [{ size: 12, scale: [1, 1], ratio: [1, 1] }] });
    const [v] = mc.apply(img, new Rng(0));
    expect(Array.from(v!)).toEqual(Array.from(img.data).map((x) => Math.fround(x / 255)));
  });

  it('PAWS presets carry the official parameters', () => {
    const imnet = pawsSpec({ dataset: 'imagenet' });
    expect(imnet.views.map((v) => [v.size, v.count, v.scale])).toEqual([[224, 2, [0.14, 1]], [96, 6, [0.05, 0.14]]]);
    expect(imnet.views[0]!.colorJitter).toEqual({ brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2, p: 0.8 });
    expect(imnet.views[0]!.blur).toEqual({ p: 0.5 });
    const cifar = pawsSpec({ dataset: 'cifar10' });
    expect(cifar.views.map((v) => [v.size, v.count, v.scale])).toEqual([[32, 2, [0.75, 1]], [18, 6, [0.3, 0.75]]]);
    expect(cifar.views[0]!.solarize).toEqual({ p: 0.2, randomThreshold: true });
    expect(cifar.views[0]!.equalize).toEqual({ p: 0.2 });
    expect(cifar.views[0]!.grayscale).toBeUndefined();
    expect(cifar.mean).toEqual([0.4914, 0.4822, 0.4465]);
    expect(pawsSpec({ dataset: 'imagenet', multicrop: 0 }).views.map((v) => v.scale)).toEqual([[0.08, 1]]);
    expect(pawsSpec({ dataset: 'cifar10', multicrop: 0 }).views.map((v) => v.scale)).toEqual([[0.5, 1]]);
    const t = buildTransform({ kind: 'paws', dataset: 'cifar10' });
    expect(t.apply(testImage(32, 32, 3), new Rng(0)).map((x) => x.length)).toEqual([...Array(2).fill(32 * 32 * 3), ...Array(6).fill(18 * 18 * 3)]);
  });

  it('rejects bad specs and inputs with clear errors', () => {
    expect(() => buildTransform({ kind: 'nope' } as never)).toThrow(/unknown transform kind 'nope'/);
    expect(() => new MultiCrop({ channels: 3, mean: [0.5], std: [0.5], views: [{ size: 4 }] })).toThrow(/mean\/std need 3 values/);
    expect(() => new MultiCrop({ channels: 1, mean: [0], std: [1], views: [{ size: 4, scale: [0.5, 0.2] }] })).toThrow(/scale/);
    const aug = new DataAugmentationDINO(DINO_FASHION_MNIST);
    expect(() => aug.apply({ data: new Uint8Array(3), height: 2, width: 2, channels: 1 }, new Rng(0))).toThrow(/expected 2x2x1/);
  });

  it('multiCropDecodeSide: the shorter side that keeps every crop at >= 1 source pixel per output pixel', () => {
    // DINO's local crops: 96 / sqrt(0.05 * 3/4) = 495.8; the global crops need only 224 / sqrt(0.4 * 3/4) = 409.
    expect(multiCropDecodeSide(dinoSpec())).toBe(496);
    expect(multiCropDecodeSide(dinoSpec({ localCropsNumber: 0 }))).toBe(409);
    expect(multiCropDecodeSide(evalSpec({ size: 224, resize: 256 }))).toBe(256);
  });
});
