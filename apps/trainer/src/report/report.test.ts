import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { writeFeatureMapFile } from './feature-map.js';
import { parseLog, renderReport, writeReport } from './html.js';
import { lineChart, niceTicks } from './svg.js';

// A 1x1 grey PNG, standing in for an attention map.
const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64');

function fakeRun(dir: string): void {
  const lines: string[] = [];
  const steps = 120;
  for (let s = 0; s < steps; s++) {
    const epoch = Math.floor(s / 40);
    lines.push(
      JSON.stringify({
        type: 'step', epoch, step: s, loss: 6.9 - 2 * (1 - Math.exp(-s / 30)) + 0.1 * Math.sin(s),
        lr: s < 40 ? (s / 40) * 5e-4 : 5e-4 * 0.5 * (1 + Math.cos((Math.PI * (s - 40)) / 80)),
        wd: 0.04 + (0.4 - 0.04) * 0.5 * (1 - Math.cos((Math.PI * s) / steps)),
        teacher_temp: 0.04 + 0.03 * Math.min(1, epoch / 2),
        momentum: 1 - (1 - 0.996) * 0.5 * (1 + Math.cos((Math.PI * s) / steps)),
        images_per_sec: 90 + (s % 7),
      }),
    );
    if (s % 40 === 39) lines.push(JSON.stringify({ type: 'eval', epoch: epoch + 1, step: s, knn_top1: 60 + epoch * 5, knn_top5: 94 + epoch, k: 20, baseline_top1: 82.2, baseline_top5: 98.1, train_images: 10000, test_images: 10000 }));
  }
  lines.push('{"type":"step","epoch":3,"st'); // a line cut by kill -9
  // 3 classes x 20 images whose features point in three directions (plus a little noise)
  const rows = 60;
  const data = new Float32Array(rows * 8).map((_, i) => (Math.floor(i / 8) % 3 === (i % 8) % 3 ? 1 : 0) + 0.05 * Math.sin(i * 12.9898));
  const labels = Int32Array.from({ length: rows }, (_, i) => i % 3);
  writeFeatureMapFile(dir, { data, rows, cols: 8 }, labels, ['T-shirt/top', 'Trouser', 'Pullover'], 0);
  writeFileSync(join(dir, 'log.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ method: 'dino', preset: 'fmnist_small', model: { arch: 'vit_tiny', out_dim: 1024 }, optimization: { lr: 0.002 } }));
  mkdirSync(join(dir, 'attention'));
  writeFileSync(join(dir, 'attention', 'img0-attn-head0.png'), PNG_1x1);
  writeFileSync(join(dir, 'attention', 'img0-img.png'), PNG_1x1);
  writeFileSync(join(dir, 'attention', 'img0-mask_th0.6_head0.png'), PNG_1x1); // stays on disk only
}

describe('report', () => {
  it('parses steps and evaluations, skipping a truncated line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-report-'));
    fakeRun(dir);
    const { steps, evals } = parseLog(readFileSync(join(dir, 'log.jsonl'), 'utf8'));
    expect(steps).toHaveLength(120);
    expect(evals.map((e) => e.top1)).toEqual([60, 65, 70]);
    expect(evals[0]?.baselineTop1).toBe(82.2);
    expect(steps[5]?.teacherTemp).toBeCloseTo(0.04);
    expect(parseLog('{"epoch": 0, "train_loss": 5.1, "train_lr": 0.1, "train_wd": 0.04}').steps[0]).toEqual({ epoch: 0, step: 0, loss: 5.1, lr: 0.1, wd: 0.04 });
    // steps redone after a resume from a mid-epoch checkpoint count once, with the later numbers
    const redone = ['{"type":"step","epoch":0,"step":1,"loss":3}', '{"type":"step","epoch":0,"step":2,"loss":2.9}', '{"type":"resume","step":1}', '{"type":"step","epoch":0,"step":2,"loss":2.8}'];
    expect(parseLog(redone.join('\n')).steps.map((p) => [p.step, p.loss])).toEqual([[1, 3], [2, 2.8]]);
  });

  it('charts are inline SVG with round ticks; an empty series says so', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.0004, 0.0011, 4)).toEqual([0.0004, 0.0006, 0.0008, 0.001]);
    const svg = lineChart([{ name: 'a', points: [[0, 1], [1, 2]] }], { title: 'T <&>', xLabel: 'step' });
    expect(svg).toMatch(/^<svg[^>]*>.*<path d="M62\.0 \d+\.\dL444\.0 \d+\.\d"/);
    expect(svg).toContain('T &lt;&amp;&gt;');
    expect(lineChart([{ name: 'a', points: [] }], { title: 'x', xLabel: 's' })).toContain('no data yet');
  });

  it('is self-contained and renders in headless Chromium', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-report-'));
    fakeRun(dir);
    const path = writeReport(dir, { facts: [['backend', 'native (2 threads)']] });
    const html = readFileSync(path, 'utf8');
    // Nothing is fetched: no scripts, no external stylesheets or images.
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    expect(html).toContain('data:image/png;base64,');
    expect(html).toContain('ln(out_dim) = 6.93');
    expect(renderReport({ title: 't', method: 'dino', config: {}, steps: [], evals: [], images: [], facts: [] })).toContain('no evaluation yet');

    const userDataDir = mkdtempSync(join(tmpdir(), 'ssl-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
      });
      await page.goto(`file://${path}`);
      expect(await page.locator('svg').count()).toBe(8);
      // the feature map: one dot per image plus one legend dot per class, coloured by class, named on hover
      expect(await page.locator('svg.feature-map circle').count()).toBe(63);
      expect(await page.locator('svg.feature-map circle title').first().textContent()).toBe('T-shirt/top');
      expect(await page.locator('svg.feature-map text').allTextContents()).toEqual(['T-shirt/top (20)', 'Trouser (20)', 'Pullover (20)']);
      const mapBox = await page.locator('svg.feature-map').boundingBox();
      expect(mapBox?.width).toBeGreaterThan(500);
      expect(await page.locator('svg path').count()).toBeGreaterThan(8);
      expect(await page.locator('.headline').innerText()).toContain('top-1 70.00%');
      // Images decoded: naturalWidth > 0 only when the data URI is a valid PNG.
      const widths = await page.locator('figure img').evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
      expect(widths).toEqual([1, 1]);
      expect(await page.locator('figcaption').allInnerTexts()).toEqual(['img0 img', 'img0 attn head0']);
      const box = await page.locator('svg').first().boundingBox();
      expect(box?.width).toBeGreaterThan(300);
      expect(requests).toEqual([]);
      const shot = process.env.SSL_REPORT_SCREENSHOT ?? join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    } finally {
      await context.close();
    }
  });
});
