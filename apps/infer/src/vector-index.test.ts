import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VectorIndex } from './vector-index.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ssl-index-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const v = (...xs: number[]): Float32Array => Float32Array.from(xs);

describe('VectorIndex (usearch)', () => {
  it('ranks by cosine similarity, replaces by id, filters unlabelled entries, and reopens', () => {
    const dir = tmp();
    const ix = VectorIndex.open(dir, 3);
    ix.add([
      { id: 'x', label: 'a', vector: v(1, 0, 0) },
      { id: 'y', vector: v(0, 1, 0) },
      { id: 'z', label: 'b', vector: v(1, 1, 0) },
    ]);
    const nb = ix.search(v(2, 0.1, 0), 3);
    expect(nb.map((n) => n.id)).toEqual(['x', 'z', 'y']);
    expect(nb[0]!.similarity).toBeCloseTo(2 / Math.hypot(2, 0.1), 5);
    expect(nb[1]!.similarity).toBeCloseTo(2.1 / (Math.hypot(2, 0.1) * Math.SQRT2), 5);
    expect(ix.search(v(0, 1, 0), 2, { labelledOnly: true }).map((n) => n.id)).toEqual(['z', 'x']);
    expect(ix.labels()).toEqual(['a', 'b']);

    ix.add([{ id: 'x', label: 'c', vector: v(0, 0, 1) }]); // same id: replaced
    expect(ix.size).toBe(3);
    expect(ix.search(v(0, 0, 1), 1)[0]).toMatchObject({ id: 'x', label: 'c' });
    const after = ix.search(v(1, 0, 0), 3).map((n) => n.id);
    expect(after[0]).toBe('z'); // x and y are both orthogonal to the query now
    expect(after.slice(1).sort()).toEqual(['x', 'y']);

    const again = VectorIndex.open(dir, 3);
    expect(again.size).toBe(3);
    expect(again.labels()).toEqual(['b', 'c']);
    expect(again.search(v(0, 0, 1), 1)[0]).toMatchObject({ id: 'x', label: 'c' });
    expect(again.search(v(1, 1, 0), 1)[0]).toMatchObject({ id: 'z', label: 'b' });
    const { entries, missing } = again.embeddings();
    expect(missing).toBe(0);
    expect(entries.map((e) => [e.id, Array.from(e.vector)])).toEqual([['y', [0, 1, 0]], ['z', [1, 1, 0]], ['x', [0, 0, 1]]]);
    again.add([{ id: 'w', vector: v(0, 1, 1) }]);
    expect(VectorIndex.open(dir, 3).size).toBe(4);
  });

  it('refuses vectors of the wrong size and an index of another dimension', () => {
    const dir = tmp();
    const ix = VectorIndex.open(dir, 4);
    expect(ix.search(v(1, 0, 0, 0), 5)).toEqual([]);
    expect(() => ix.add([{ id: 'a', vector: v(1, 2) }])).toThrow(/"a" has 2 values, expected 4/);
    ix.add([{ id: 'a', vector: v(1, 2, 3, 4) }]);
    expect(() => VectorIndex.open(dir, 8)).toThrow(/holds 4-d vectors, but the model gives 8-d/);
  });
});
