import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage } from '@ssl/augment';
import { describe, expect, it } from 'vitest';
import { prepareImage, resolvePreprocess, stack, transformImage } from './preprocess.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
interface Case {
  name: string;
  file: string;
  resize: number;
  crop: number;
  channels: 1 | 3;
  mean: number[];
  std: number[];
  shape: number[];
  values: number[];
}
const cases = JSON.parse(readFileSync(join(FIX, 'eval_transform.json'), 'utf8')) as Case[];

describe('preprocessing = DINO eval transform', () => {
  for (const c of cases) {
    it(`matches torchvision Resize(${c.resize}, bicubic) + CenterCrop(${c.crop}) + Normalize: ${c.name}`, async () => {
      const p = await prepareImage(join(FIX, c.file), resolvePreprocess({ resize: c.resize, crop: c.crop, channels: c.channels, mean: c.mean, std: c.std }));
      expect([p.channels, p.height, p.width]).toEqual(c.shape);
      let worst = 0;
      p.chw.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (c.values[i] as number)))));
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('uses an image already at the crop size as is (no resampling round trip)', async () => {
    const img = await decodeImage(readFileSync(join(FIX, 'gray.png')), { channels: 1 });
    const p = transformImage(img, resolvePreprocess({ crop: 28, channels: 1 }));
    expect(p.image.data).toEqual(img.data);
    p.chw.forEach((v, i) => expect(v).toBeCloseTo(((img.data[i] as number) / 255 - 0.5) / 0.5, 6));
  });

  it('defaults to 256 / 224 with ImageNet statistics and checks its options', () => {
    expect(resolvePreprocess()).toMatchObject({ resize: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channels: 3 });
    expect(() => resolvePreprocess({ crop: 224, resize: 200 })).toThrow(/resize \(200\) must be an integer >= crop \(224\)/);
    expect(() => resolvePreprocess({ channels: 1, mean: [0.1, 0.2, 0.3] })).toThrow(/need 1 values/);
    expect(() => stack([])).toThrow(/no images/);
  });
});
