import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gaussianBlur } from './blur.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, equalize, grayscale, hflip, solarize } from './color.js';
import type { ImageU8 } from './image.js';
import { MultiCrop } from './multicrop.js';
import { normalizeInto, normalizeTables } from './normalize.js';
import { resizedCrop, type Interpolation } from './resample.js';
import { Rng } from '@ssl/tensor';
import { setWasmKernels, wasmKernels } from './wasm.js';

// Reference outputs of torchvision 0.14 / Pillow 9.4, made by fixtures/make_fixtures.py.
interface Enc {
  h: number;
  w: number;
  c: number;
  data: string;
}
interface Case {
  op: string;
  src: 'rgb' | 'gray';
  params: Record<string, number | string>;
  out: Enc;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/transforms.json', import.meta.url), 'utf8')) as {
  inputs: Record<string, Enc>;
  cases: Case[];
  normalize: { mean: number[]; std: number[]; out: string };
};

function decode(e: Enc): ImageU8 {
  const data = new Uint8Array(Buffer.from(e.data, 'base64'));
  return { data, height: e.h, width: e.w, channels: e.c as 1 | 3 };
}
const input = (src: string): ImageU8 => decode(fx.inputs[src] as Enc);

function run(c: Case): ImageU8 {
  const img = input(c.src);
  const p = c.params as {
    top: number; left: number; height: number; width: number; outHeight: number; outWidth: number;
    factor: number; threshold: number; radius: number; size: number; resize: number; interpolation: Interpolation;
  };
  switch (c.op) {
    case 'resizedCrop':
      return resizedCrop(img, { top: p.top, left: p.left, height: p.height, width: p.width }, p.outHeight, p.outWidth, p.interpolation);
    case 'brightness':
      return adjustBrightness(img, p.factor);
    case 'contrast':
      return adjustContrast(img, p.factor);
    case 'saturation':
      return adjustSaturation(img, p.factor);
    case 'hue':
      return adjustHue(img, p.factor);
    case 'grayscale':
      return grayscale(img);
    case 'solarize':
      return solarize(img, p.threshold);
    case 'equalize':
      return equalize(img);
    case 'gaussianBlur':
      return gaussianBlur(img, p.radius);
    case 'hflip':
      return hflip(img);
    case 'resizeCenterCrop': {
      const mc = new MultiCrop({
        channels: img.channels,
        mean: Array(img.channels).fill(0),
        std: Array(img.channels).fill(1),
        views: [{ size: p.size, center: { resize: p.resize }, interpolation: p.interpolation }],
      });
      const v = mc.applyView(img, 0, new Rng(0));
      return { ...v, data: v.data.slice() };
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

describe('transforms equal torchvision + Pillow', () => {
  for (const c of fx.cases) {
    it(`${c.op} ${c.src} ${JSON.stringify(c.params)}`, () => {
      const want = decode(c.out);
      const got = run(c);
      expect([got.height, got.width, got.channels]).toEqual([want.height, want.width, want.channels]);
      let maxDiff = 0;
      let mismatches = 0;
      for (let i = 0; i < want.data.length; i++) {
        const d = Math.abs((got.data[i] as number) - (want.data[i] as number));
        if (d > maxDiff) maxDiff = d;
        if (d) mismatches++;
      }
      // Integer-exact ops are bit-equal to Pillow; allow nothing more than the 1/255 of the brief.
      expect({ maxDiff, mismatches }).toEqual({ maxDiff: 0, mismatches: 0 });
    });
  }

  it('resampling and blur: the WebAssembly kernels and the TypeScript loops agree with Pillow', () => {
    expect(wasmKernels()).not.toBeNull();
    const cases = fx.cases.filter((c) => ['resizedCrop', 'resizeCenterCrop', 'gaussianBlur'].includes(c.op));
    for (const wasm of [true, false]) {
      setWasmKernels(wasm);
      try {
        for (const c of cases) expect(Buffer.from(run(c).data).equals(Buffer.from(decode(c.out).data))).toBe(true);
      } finally {
        setWasmKernels(true);
      }
    }
  });

  it('ToTensor + Normalize in float32', () => {
    const want = new Float32Array(new Uint8Array(Buffer.from(fx.normalize.out, 'base64')).buffer);
    const got = normalizeInto(input('rgb'), normalizeTables(fx.normalize.mean, fx.normalize.std));
    expect(got.length).toBe(want.length);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs((got[i] as number) - (want[i] as number)));
    expect(maxDiff).toBeLessThan(1e-6);
  });
});
