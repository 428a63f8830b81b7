import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportViT } from '@ssl/onnx';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testImage, tinyVitStateDict } from './fixtures.test-helpers.js';
import { startServer, type InferServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';
const PHOTOS = fileURLToPath(new URL('../fixtures/photos/', import.meta.url));
/** Set to a directory to keep the screenshots (they go to a temporary directory otherwise). */
const SHOTS = process.env['SSL_INFER_SCREENSHOTS'];
const KIND: Record<string, string> = {
  astronaut: 'person', camera: 'person', chelsea: 'animal', horse: 'animal',
  coffee: 'object', rocket: 'object', brick: 'texture', grass: 'texture', gravel: 'texture',
};
const SYNTHETIC = 300;
const FILE_LIMIT = 2 * 1024 * 1024;

/**
 * Text (line boxes of every text node) and controls (buttons, inputs, images, meters, the map)
 * that are visible, each clipped by its scrolling/overflow ancestors; then every pair whose boxes
 * intersect by more than a pixel each way, skipping an element and what it contains.
 * Runs in the page (a string, so this Node-typed file needs no DOM types).
 */
const FIND_OVERLAPS = `(() => {
  const boxes = [];
  const clip = (r, node) => {
    let x0 = r.left, y0 = r.top, x1 = r.right, y1 = r.bottom;
    for (let a = node; a && a !== document.body; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible' || cs.clip !== 'auto') {
        const b = a.getBoundingClientRect();
        x0 = Math.max(x0, b.left); y0 = Math.max(y0, b.top); x1 = Math.min(x1, b.right); y1 = Math.min(y1, b.bottom);
      }
    }
    return { x0, y0, x1, y1 };
  };
  const visible = (e) => { const cs = getComputedStyle(e); return cs.visibility !== 'hidden' && cs.display !== 'none' && Number(cs.opacity) > 0; };
  const add = (owner, r, what) => {
    const c = clip(r, owner);
    if (c.x1 - c.x0 > 2 && c.y1 - c.y0 > 2) boxes.push({ owner, what, ...c });
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const owner = t.parentElement;
    if (!t.textContent.trim() || owner.closest('svg, script, style, [hidden], dialog:not([open])') || !visible(owner)) continue;
    const range = document.createRange();
    range.selectNodeContents(t);
    for (const r of range.getClientRects()) add(owner, r, 'text "' + t.textContent.trim().slice(0, 40) + '"');
  }
  for (const e of document.body.querySelectorAll('button, input, select, textarea, img, meter, canvas, svg')) {
    if (e.closest('[hidden], dialog:not([open])') || (e.parentElement && e.parentElement.closest('svg')) || !visible(e)) continue;
    add(e, e.getBoundingClientRect(), e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.getAttribute('alt') ? ' "' + e.getAttribute('alt').slice(0, 30) + '"' : ''));
  }
  const out = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.owner === b.owner || a.owner.contains(b.owner) || b.owner.contains(a.owner)) continue;
      const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
      const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
      if (w > 1 && h > 1) out.push(a.what + ' / ' + b.what + ' (' + Math.round(w) + 'x' + Math.round(h) + ' px)');
    }
  }
  return { checked: boxes.length, overlaps: out.slice(0, 20), wide: document.documentElement.scrollWidth > window.innerWidth };
})()`;

async function expectNoOverlaps(page: Page): Promise<number> {
  const r = (await page.evaluate(FIND_OVERLAPS)) as { checked: number; overlaps: string[]; wide: boolean };
  expect(r.overlaps).toEqual([]);
  expect(r.wide).toBe(false); // no sideways scrolling
  return r.checked;
}

describe('web page in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssl-infer-e2e-'));
  const shots = SHOTS ?? join(dir, 'shots');
  let server: InferServer;
  let browser: BrowserContext;
  const photos = readdirSync(PHOTOS).filter((f) => f.endsWith('.jpg')).sort();

  const open = async (width: number, height: number, url = server.url, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> => {
    const page = await browser.newPage();
    await page.setViewportSize({ width, height });
    await page.emulateMedia({ colorScheme });
    // Nothing leaves loopback: the page is self-contained.
    await page.route(/^(?!http:\/\/127\.0\.0\.1|blob:|data:)/, (route) => route.abort());
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    return page;
  };

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    // A random DINO-structured ViT at 64 px, patch 8: an 8x8 attention grid per head.
    const model = exportViT(tinyVitStateDict(1, 3, 64, 8), { numHeads: 4 });
    server = await startServer({ model, port: 0, preprocess: { crop: 64, resize: 73 }, indexDir: join(dir, 'index'), intraOpThreads: 1, fileLimit: FILE_LIMIT });
    // The real photos first, labelled, then a few hundred synthetic pictures (unlabelled) to page through.
    const form = new FormData();
    const ids = photos.map((f) => f.replace(/\.jpg$/, ''));
    form.append('ids', ids.join(','));
    form.append('labels', ids.map((id) => KIND[id] ?? 'other').join(','));
    for (const f of photos) form.append('image', new Blob([readFileSync(join(PHOTOS, f))], { type: 'image/jpeg' }), f);
    expect((await fetch(`${server.url}/v1/index`, { method: 'POST', body: form })).status).toBe(200);
    for (let start = 0; start < SYNTHETIC; start += 30) {
      const f = new FormData();
      f.append('ids', Array.from({ length: 30 }, (_, i) => `synthetic-${start + i}`).join(','));
      for (let i = 0; i < 30; i++) f.append('image', new Blob([await testImage(1000 + start + i, 48, 40)], { type: 'image/png' }), `s${i}.png`);
      expect((await fetch(`${server.url}/v1/index`, { method: 'POST', body: f })).status).toBe(200);
    }
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [width, height, scheme] of [[1280, 1000, 'light'], [375, 812, 'dark']] as const) {
    it(`at ${width} px (${scheme}): model, paged index and map without an upload; a real photo shows attention, neighbours and the vote; nothing overlaps`, async () => {
      const page = await open(width, height, server.url, scheme);
      const indexCalls: string[] = [];
      page.on('request', (r) => {
        if (/\/v1\/index\?/.test(r.url())) indexCalls.push(new URL(r.url()).search);
      });
      expect(await page.title()).toBe('ssl-infer');
      expect(await page.locator('#model-line').textContent()).toMatch(/^Vision Transformer \(32 wide, 2 blocks, 4 heads, patch 8\); 32-d embeddings, attention maps\.$/);
      expect(await page.locator('#index-line').textContent()).toMatch(/^309 images, 4 labels \(300 unlabelled\)/);
      // One page of 24 thumbnails, not the whole index.
      expect(await page.locator('#grid li').count()).toBe(24);
      expect(await page.locator('#page-line').textContent()).toBe('Page 1 of 13');
      expect(await page.locator('#grid img').evaluateAll((imgs) => imgs.every((i) => (i as unknown as { naturalWidth: number }).naturalWidth === 96))).toBe(true);
      // The feature map (GET /v1/index/map): one dot per entry.
      expect(await page.locator('#map-panel').isVisible()).toBe(true);
      expect(await page.locator('#map circle').count()).toBe(309);
      expect(await expectNoOverlaps(page)).toBeGreaterThan(40);
      await page.screenshot({ path: join(shots, `page-${width}-start.png`), fullPage: true });

      // Paging fetches the next 24 only.
      await page.click('#next');
      await page.waitForFunction(`document.getElementById('page-line').textContent === 'Page 2 of 13'`);
      expect(await page.locator('#grid li .id').first().textContent()).toBe('synthetic-15'); // 9 photos, then synthetic-0..14 on page 1
      expect(indexCalls).toEqual(['?offset=24&limit=24']);

      // An upload of a real photo that was indexed beforehand.
      await page.setInputFiles('#file', join(PHOTOS, 'chelsea.jpg'));
      await page.waitForSelector('text=/^Done: chelsea.jpg/', { timeout: 30_000 });
      expect(await page.locator('#heads figure.head').count()).toBe(5); // 4 heads + their mean
      const sizes = await page.locator('#heads img, #query img').evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
      expect(sizes).toEqual(Array(11).fill(64)); // the model input, then heat map + mask per tile, at crop size
      const first = page.locator('#neighbors li.neighbor').first();
      expect(await first.locator('.id').textContent()).toBe('chelsea');
      expect(await first.locator('.badge').textContent()).toBe('duplicate');
      expect(await first.locator('img').getAttribute('src')).toMatch(/^data:image\/webp;base64,/);
      expect(await page.locator('#neighbors li.neighbor').count()).toBe(8);
      expect(await page.locator('#vote-line').textContent()).toMatch(/^Predicted label: \w+ \(weighted vote of the 9 nearest labelled images/);
      expect(await page.locator('#vote-rows tr').count()).toBe(4);
      expect(await page.locator('#error').isHidden()).toBe(true);
      await expectNoOverlaps(page);
      await page.screenshot({ path: join(shots, `page-${width}.png`), fullPage: true });
      await page.close();
    }, 90_000); // the first load computes the UMAP of 309 entries
  }

  it('shows the 413, 415-style and 422 messages in words', async () => {
    const page = await open(1280, 1000);
    const big = join(dir, 'huge.jpg');
    writeFileSync(big, Buffer.concat([readFileSync(join(PHOTOS, 'coffee.jpg')), Buffer.alloc(FILE_LIMIT + 1024)]));
    await page.setInputFiles('#file', big);
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.locator('#error').textContent()).toBe('This file is too large for the server: it takes files up to 2 MiB (32 MiB per request). Choose a smaller image.');
    expect(await page.locator('#status').textContent()).toBe('Could not look at huge.jpg.');
    await expectNoOverlaps(page);
    await page.screenshot({ path: join(shots, 'page-1280-413.png') });

    const notes = join(dir, 'notes.png');
    writeFileSync(notes, 'not an image at all');
    await page.setInputFiles('#file', notes);
    await page.waitForFunction(`/could not use this image/.test(document.getElementById('error').textContent)`, undefined, { timeout: 30_000 });
    expect(await page.locator('#error').textContent()).toMatch(/^The server could not use this image: .*notes\.png/);
    await page.close();
  });

  it('is usable from the keyboard: an indexed image opens with Enter, a map dot shows its image on focus', async () => {
    const page = await open(1280, 1000);
    await page.locator('#grid button.entry').nth(2).focus();
    const name = await page.locator('#grid button.entry').nth(2).getAttribute('aria-label');
    expect(name).toMatch(/^Look at \w+ \((animal|object|person|texture)\)$/);
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=/^Done: indexed image /', { timeout: 30_000 });
    expect(await page.locator('#neighbors li.neighbor .id').first().textContent()).toBe(name!.replace(/^Look at (\S+) .*$/, '$1'));
    const dot = page.locator('#map circle').nth(5);
    const dotId = (await dot.getAttribute('aria-label'))!.replace(/^Look at (\S+).*$/, '$1');
    await dot.focus();
    await page.waitForFunction(`document.getElementById('map-tip-img').src.startsWith('blob:')`, undefined, { timeout: 10_000 });
    expect(await page.locator('#map-tip').isVisible()).toBe(true);
    expect(await page.locator('#map-tip-text').textContent()).toMatch(new RegExp(`^${dotId}\\b`));
    await page.keyboard.press('Enter');
    await page.waitForSelector(`text=/^Done: indexed image ${dotId},/`, { timeout: 30_000 });
    await page.close();
  });

  it('asks a token-protected server for its token once per tab', async () => {
    // A model exported from a training checkpoint: its run facts are in the ONNX metadata.
    const run = { 'ssl.run.method': 'dino', 'ssl.run.epoch': '14', 'ssl.run.epochs': '14', 'ssl.run.step': '3280', 'ssl.run.dataset': 'fashion-mnist', 'ssl.run.saved_at': '2026-12-01T10:00:00.000Z' };
    const guarded = await startServer({ model: exportViT(tinyVitStateDict(1, 3, 32, 8), { numHeads: 4 }, { metadata: run }), port: 0, preprocess: { crop: 32, resize: 36 }, indexDir: join(dir, 'guarded'), intraOpThreads: 1, token: 's3cret' });
    try {
      const page = await browser.newPage();
      await page.goto(guarded.url);
      await page.waitForSelector('#token-dialog[open]');
      await page.fill('#token-input', 'wrong');
      await page.press('#token-input', 'Enter');
      await page.waitForFunction(`/refused/.test(document.getElementById('token-why').textContent) || /refused/.test(document.getElementById('error').textContent)`);
      await page.reload();
      await page.waitForSelector('#token-dialog[open]');
      await page.fill('#token-input', 's3cret');
      await page.press('#token-input', 'Enter');
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.locator('#model-line').textContent()).toMatch(/^Vision Transformer/);
      expect(await page.locator('#model-facts').innerText()).toMatch(/method\s+DINO\s+dataset\s+fashion-mnist\s+epochs\s+14 of 14\s+steps\s+3280\s+saved\s+2026-12-01/);
      // A reload in the same tab keeps it; no second prompt.
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.locator('#token-dialog').getAttribute('open')).toBeNull();
      expect(await page.locator('#index-line').textContent()).toMatch(/^The index is empty/);
      await page.close();
    } finally {
      await guarded.close();
    }
  });
});
