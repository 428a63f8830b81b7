import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testImage, tinyVitOnnx } from './fixtures.test-helpers.js';
import { loadTest } from './loadtest.js';
import { startServer } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'ssl-infer-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('load (autocannon on loopback, 2 s per phase)', () => {
  it('serves without errors below the queue limit, answers 429 above it, and stays healthy', async () => {
    const s = await startServer({
      model: tinyVitOnnx(),
      port: 0,
      preprocess: { crop: 32, resize: 36 },
      indexDir: dir,
      intraOpThreads: 1,
      batch: { maxBatch: 8, maxWaitMs: 2, maxQueue: 8 },
    });
    try {
      const img = await testImage(31);
      const below = await loadTest(`${s.url}/v1/embeddings`, img, 4, 2);
      expect(below.errors).toBe(0);
      expect(below.status['200']).toBe(below.requests);
      expect(below.requests).toBeGreaterThan(20);

      const above = await loadTest(`${s.url}/v1/embeddings`, img, 48, 2);
      expect(above.errors).toBe(0);
      expect(above.status['429'] ?? 0).toBeGreaterThan(0);
      expect(above.status['200'] ?? 0).toBeGreaterThan(0);
      expect(Object.keys(above.status).filter((c) => c.startsWith('5'))).toEqual([]);

      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      const after = await fetch(`${s.url}/v1/embeddings`, { method: 'POST', body: img, headers: { 'content-type': 'image/png' } });
      expect(after.status).toBe(200);
      expect(s.batcher.depth).toBe(0);
    } finally {
      await s.close();
    }
  });
});
