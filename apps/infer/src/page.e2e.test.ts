import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testImage, tinyVitOnnx } from './fixtures.test-helpers.js';
import { startServer, type InferServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';

describe('web page in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssl-infer-e2e-'));
  let server: InferServer;
  let browser: BrowserContext;

  beforeAll(async () => {
    server = await startServer({ model: tinyVitOnnx(), port: 0, preprocess: { crop: 32, resize: 36 }, indexDir: join(dir, 'index'), intraOpThreads: 1 });
    const form = new FormData();
    form.append('ids', 'first,second');
    form.append('labels', 'a,b');
    for (const seed of [21, 22]) form.append('image', new Blob([await testImage(seed)], { type: 'image/png' }), `${seed}.png`);
    const res = await fetch(`${server.url}/v1/index`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    // A fresh profile directory per run (playwright takes it as the persistent context's dir).
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops an image and shows attention per head and the nearest neighbours', async () => {
    const page = await browser.newPage();
    // Nothing leaves loopback.
    await page.route(/^(?!http:\/\/127\.0\.0\.1)/, (route) => route.abort());
    await page.goto(server.url);
    expect(await page.title()).toBe('ssl-infer');
    const file = join(dir, 'query.png');
    writeFileSync(file, await testImage(22));
    await page.setInputFiles('#file', file);
    await page.waitForSelector('text=/^Done:/', { timeout: 15_000 });
    expect(await page.locator('#heads figure.head canvas').count()).toBe(4);
    const rows = page.locator('#neighbors tr.neighbor');
    expect(await rows.count()).toBe(2);
    // The query is the second indexed image: first neighbour, flagged as a duplicate.
    expect(await rows.nth(0).locator('td').allTextContents()).toEqual(['second', 'b', expect.stringMatching(/^1\.0000|0\.99/), 'yes']);
    // The heat maps were drawn: a canvas is not blank.
    // Runs in the page (a string, so this Node-typed file needs no DOM types).
    const painted = (await page.evaluate(`(() => {
      const c = document.querySelector('#heads canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return seen.size;
    })()`)) as number;
    expect(painted).toBeGreaterThan(3);
    await page.close();
  });

  it('shows the server error for a file that is not an image', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    const file = join(dir, 'notes.png');
    writeFileSync(file, 'not an image at all');
    await page.setInputFiles('#file', file);
    await page.waitForSelector('text=/^Error:/', { timeout: 15_000 });
    expect(await page.locator('#status').textContent()).toMatch(/cannot decode/);
    await page.close();
  });
});
