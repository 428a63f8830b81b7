import { describe, expect, it } from 'vitest';
import { pixelFeatures } from './pixels.js';

describe('pixelFeatures', () => {
  it('maps each value, then scales every row to unit L2 norm (F.normalize: eps 1e-12 keeps a zero row at zero)', () => {
    const f = pixelFeatures({ data: Uint8Array.from([3, 4, 0, 0, 255, 0]), count: 3 }, (v) => v / 255);
    expect([f.rows, f.cols]).toEqual([3, 2]);
    // row 0: (3, 4) / 5; row 1 stays zero; row 2: (1, 0)
    [0.6, 0.8, 0, 0, 1, 0].forEach((v, i) => expect(f.data[i]).toBeCloseTo(v, 6));
    expect(() => pixelFeatures({ data: new Uint8Array(5), count: 2 })).toThrow(/5 values do not split into 2 rows/);
  });
});
