import { Rng } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { featureMap } from './feature-map.js';

/** Three well separated clusters of 12 points each in 16-D (directions differ, so cosine separates them). */
function clusters(seed: number): { rows: number[][]; label: number[] } {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  const label: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 12; i++) {
      rows.push(Array.from({ length: 16 }, (_, d) => (d % 3 === c ? 1 : 0) + 0.05 * rng.uniform(-1, 1)));
      label.push(c);
    }
  }
  return { rows, label };
}

describe('featureMap', () => {
  it('is deterministic for a seed, differs for another seed, and lies in [0, 1]', () => {
    const { rows } = clusters(1);
    const a = featureMap(rows, { seed: 3, nEpochs: 100 });
    const b = featureMap(rows, { seed: 3, nEpochs: 100 });
    const c = featureMap(rows, { seed: 4, nEpochs: 100 });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Array.from(a.y)).toEqual(Array.from(b.y));
    expect(Array.from(a.x)).not.toEqual(Array.from(c.x));
    for (const v of [...a.x, ...a.y]) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('keeps clusters together: every point is nearer its own cluster mean than the others', () => {
    const { rows, label } = clusters(2);
    const { x, y } = featureMap(rows, { seed: 0, nNeighbors: 8, nEpochs: 200 });
    const cx = [0, 0, 0];
    const cy = [0, 0, 0];
    label.forEach((c, i) => {
      cx[c] = (cx[c] as number) + (x[i] as number) / 12;
      cy[c] = (cy[c] as number) + (y[i] as number) / 12;
    });
    let right = 0;
    label.forEach((c, i) => {
      const d = [0, 1, 2].map((k) => Math.hypot((x[i] as number) - (cx[k] as number), (y[i] as number) - (cy[k] as number)));
      if (d.indexOf(Math.min(...d)) === c) right++;
    });
    expect(right).toBe(rows.length);
  });

  it('lays out tiny inputs without optimising', () => {
    expect(Array.from(featureMap([[1, 0]]).x)).toEqual([0.5]);
    expect(featureMap([[1, 0], [0, 1]]).x.length).toBe(2);
    expect(featureMap({ data: new Float32Array(0), rows: 0, cols: 4 }).x.length).toBe(0);
  });
});
