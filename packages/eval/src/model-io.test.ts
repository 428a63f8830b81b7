import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkpointNumHeads } from './model-io.js';

const root = mkdtempSync(join(tmpdir(), 'ssl-eval-heads-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('reads the head count from state.json, else from the run directory config.json', () => {
  const withState = join(root, 'a', 'checkpoint');
  mkdirSync(withState, { recursive: true });
  writeFileSync(join(withState, 'state.json'), JSON.stringify({ config: { model: { num_heads: 4 } } }));
  writeFileSync(join(root, 'a', 'config.json'), JSON.stringify({ model: { num_heads: 6 } }));
  expect(checkpointNumHeads(withState)).toBe(4);

  // ssl-train: the engine's state.json holds the loop's config; the model's is in the run directory.
  const trainerRun = join(root, 'b', 'checkpoint');
  mkdirSync(trainerRun, { recursive: true });
  writeFileSync(join(trainerRun, 'state.json'), JSON.stringify({ config: { outDim: 256, teacherTemp: 0.04 } }));
  writeFileSync(join(root, 'b', 'config.json'), JSON.stringify({ model: { arch: 'vit_tiny', num_heads: 3 } }));
  expect(checkpointNumHeads(trainerRun)).toBe(3);

  const bare = join(root, 'c');
  mkdirSync(bare);
  expect(checkpointNumHeads(bare)).toBeUndefined();
});
