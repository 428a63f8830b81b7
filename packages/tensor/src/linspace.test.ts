import { describe, expect, it } from 'vitest';
import { linspace } from './linspace.js';

describe('linspace', () => {
  it('is np.linspace (endpoint included, the last value exact)', () => {
    expect(Array.from(linspace(0, 1, 5))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    // i * step + start, as numpy; the endpoint is `stop` itself, not 3 * step + start
    const t = linspace(0.04, 0.07, 4);
    expect(t[1]).toBe((0.07 - 0.04) / 3 + 0.04);
    expect(t[3]).toBe(0.07);
    expect(Array.from(linspace(3, 9, 1))).toEqual([3]);
    expect(linspace(3, 9, 0).length).toBe(0);
    expect(() => linspace(0, 1, 2.5)).toThrow(/num must be a non-negative integer, got 2.5/);
  });
});
