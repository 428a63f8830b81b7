import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxFeatureExtractor } from '@ssl/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngWithClaimedSize, progressiveJpegBomb, testImage, tinyVitOnnx } from './fixtures.test-helpers.js';
import { prepareImage, resolvePreprocess, stack } from './preprocess.js';
import { startServer, type InferServer, type ServerOptions } from './server.js';

const model = tinyVitOnnx();
const pre = { crop: 32, resize: 36 };
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ssl-infer-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function start(extra: Partial<ServerOptions> = {}): Promise<InferServer> {
  return startServer({ model, port: 0, preprocess: pre, indexDir: tmp(), intraOpThreads: 1, ...extra });
}

function form(files: { name: string; bytes: Buffer; type?: string }[], fields: Record<string, string> = {}): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  for (const file of files) f.append('image', new Blob([file.bytes], { type: file.type ?? 'image/png' }), file.name);
  return f;
}

async function post(s: InferServer, path: string, body: FormData | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${s.url}${path}`, { method: 'POST', body, headers });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

describe('server', () => {
  let s: InferServer;
  let imgs: Buffer[];
  beforeAll(async () => {
    s = await start();
    imgs = await Promise.all([1, 2, 3, 4].map((i) => testImage(i, 40 + i * 4, 36)));
  });
  afterAll(() => s.close());

  it('binds loopback and reports health, readiness and the model', async () => {
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const info = (await (await fetch(`${s.url}/v1/model`)).json()) as { embeddingDim: number; patchSize: number };
    expect(info).toMatchObject({ embeddingDim: 32, patchSize: 8, attention: true });
  });

  it('embeds raw and multipart uploads exactly as a direct ORT run on the same preprocessing', async () => {
    const raw = await post(s, '/v1/embeddings', imgs[0]!, { 'content-type': 'image/png' });
    expect(raw.status).toBe(200);
    const multi = await post(s, '/v1/embeddings', form(imgs.map((b, i) => ({ name: `img${i}.png`, bytes: b }))));
    expect(multi.status).toBe(200);
    expect(multi.json.data.map((d: { name: string }) => d.name)).toEqual(['img0.png', 'img1.png', 'img2.png', 'img3.png']);

    const fx = await OnnxFeatureExtractor.create({ model, intraOpThreads: 1 });
    try {
      const prepared = await Promise.all(imgs.map((b) => prepareImage(b, resolvePreprocess(pre))));
      const ref = (await fx.run({ input: stack(prepared) }, ['cls']))['cls']!;
      for (let i = 0; i < imgs.length; i++) {
        const got = multi.json.data[i].embedding as number[];
        expect(got).toHaveLength(32);
        got.forEach((v, j) => expect(v).toBeCloseTo(ref.data[i * 32 + j] as number, 5));
      }
      (raw.json.data[0].embedding as number[]).forEach((v, j) => expect(v).toBeCloseTo(ref.data[j] as number, 5));
    } finally {
      await fx.close();
    }
  });

  it('returns attention per head as JSON and as a PNG mosaic', async () => {
    const j = await post(s, '/v1/attention?format=json', form([{ name: 'a.png', bytes: imgs[1]! }]));
    expect(j.status).toBe(200);
    expect(j.json).toMatchObject({ heads: 4, gridH: 4, gridW: 4, patchSize: 8 });
    for (const m of j.json.maps as number[][]) {
      expect(m).toHaveLength(16);
      // CLS row of a softmax without the CLS column: positive, sums below 1.
      const sum = m.reduce((a, b) => a + b, 0);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThan(1);
    }
    const res = await fetch(`${s.url}/v1/attention?format=png&threshold=0.5`, { method: 'POST', body: imgs[1]!, headers: { 'content-type': 'image/png' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await res.arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    // 4 heads + mean, two rows (heat maps, masks), each 32x32.
    expect(png.readUInt32BE(16)).toBe(5 * 32);
    expect(png.readUInt32BE(20)).toBe(2 * 32);
  });

  it('indexes, searches with a duplicate flag, classifies by the DINO vote, and survives a restart', async () => {
    const dir = tmp();
    let mapBefore: unknown;
    const a = await start({ indexDir: dir });
    try {
      const add = await post(a, '/v1/index', form(imgs.slice(0, 3).map((b, i) => ({ name: `i${i}`, bytes: b })), { ids: '["a","b","c"]', labels: 'cat,dog,cat' }));
      expect(add.status).toBe(200);
      expect(add.json.size).toBe(3);
      const bad = await post(a, '/v1/index', form([{ name: 'x', bytes: imgs[3]! }]));
      expect(bad.status).toBe(400);
      expect(bad.json.error.message).toMatch(/one id per image/);

      const found = await post(a, '/v1/search?k=3', form([{ name: 'q', bytes: imgs[1]! }]));
      expect(found.status).toBe(200);
      const nb = found.json.results[0].neighbors;
      expect(nb[0]).toMatchObject({ id: 'b', label: 'dog', duplicate: true });
      expect(nb[0].similarity).toBeGreaterThan(0.999);
      expect(nb).toHaveLength(3);
      expect(nb[1].similarity).toBeLessThanOrEqual(nb[0].similarity);

      const cls = await post(a, '/v1/classify?k=1', form([{ name: 'q', bytes: imgs[2]! }]));
      expect(cls.status).toBe(200);
      expect(cls.json.results[0].label).toBe('cat');
      // k = 3, T = 0.07: scores are sums of exp(sim / T) per class.
      const all = await post(a, '/v1/classify?k=3', form([{ name: 'q', bytes: imgs[3]! }]));
      const r = all.json.results[0];
      const want: Record<string, number> = {};
      for (const n of r.neighbors) want[n.label] = (want[n.label] ?? 0) + Math.exp(n.similarity / 0.07);
      for (const sc of r.scores) expect(sc.score / want[sc.label]!).toBeCloseTo(1, 5);

      const map = (await (await fetch(`${a.url}/v1/index/map?seed=1`)).json()) as any;
      expect(map).toMatchObject({ method: 'umap', seed: 1, size: 3, missing: 0 });
      expect(map.entries.map((e: { id: string; label: string }) => [e.id, e.label])).toEqual([['a', 'cat'], ['b', 'dog'], ['c', 'cat']]);
      for (const e of map.entries) for (const v of [e.x, e.y]) expect(v >= 0 && v <= 1).toBe(true);
      mapBefore = map;
      expect((await fetch(`${a.url}/v1/index/map?seed=-1`)).status).toBe(400);
    } finally {
      await a.close();
    }
    const b = await start({ indexDir: dir });
    try {
      expect(b.index.size).toBe(3);
      const found = await post(b, '/v1/search?k=1', form([{ name: 'q', bytes: imgs[0]! }]));
      expect(found.json.results[0].neighbors[0]).toMatchObject({ id: 'a', label: 'cat', duplicate: true });
      // The embeddings survive the restart, so the map (deterministic for a seed) is the same.
      expect(await (await fetch(`${b.url}/v1/index/map?seed=1`)).json()).toEqual(mapBefore);
    } finally {
      await b.close();
    }
  });

  it('returns threshold masks and, on request, the CLI pictures of the attention', async () => {
    const j = await post(s, '/v1/attention?threshold=0.5&images=1', form([{ name: 'a.png', bytes: imgs[1]! }]));
    expect(j.status).toBe(200);
    expect(j.json.threshold).toBe(0.5);
    // Each mask keeps the patches holding the top half of that head's attention mass (DINO's rule).
    (j.json.masks as number[][]).forEach((mask, h) => {
      const m = j.json.maps[h] as number[];
      const total = m.reduce((a, b) => a + b, 0);
      const kept = m.reduce((a, v, i) => a + (mask[i] ? v : 0), 0);
      expect(kept / total).toBeGreaterThan(0.5);
      const largestDropped = Math.max(...m.filter((_, i) => !mask[i]));
      expect(Math.min(...m.filter((_, i) => mask[i]))).toBeGreaterThanOrEqual(largestDropped);
    });
    expect(j.json.image).toMatch(/^data:image\/png;base64,/);
    expect((j.json.tiles as { tag: string }[]).map((t) => t.tag)).toEqual(['head0', 'head1', 'head2', 'head3', 'mean']);
    const heat = Buffer.from((j.json.tiles[0].heat as string).split(',')[1]!, 'base64');
    expect([heat.readUInt32BE(16), heat.readUInt32BE(20)]).toEqual([32, 32]);
    const plain = await post(s, '/v1/attention', form([{ name: 'a.png', bytes: imgs[1]! }]));
    expect(plain.json.tiles).toBeUndefined();
  });

  it('describes the model, its limits and search defaults', async () => {
    const info = (await (await fetch(`${s.url}/v1/model`)).json()) as Record<string, any>;
    expect(info.architecture).toEqual({ family: 'vit', embedDim: 32, depth: 2, numHeads: 4, patchSize: 8, inChans: 3, imgSize: 32 });
    expect(info.run).toBeNull();
    expect(info.limits).toEqual({ bodyBytes: 32 * 1024 * 1024, fileBytes: 16 * 1024 * 1024, maxFiles: 32, maxPixels: 40_000_000 });
    expect(info.search).toEqual({ duplicateThreshold: 0.95, knnK: 20, knnT: 0.07 });
  });

  it('pages through a few hundred index entries with thumbnails, and re-runs a kept crop to the same embedding', async () => {
    const a = await start({ indexDir: tmp() });
    try {
      const pics = await Promise.all(Array.from({ length: 30 }, (_, i) => testImage(100 + i, 40, 36)));
      for (let round = 0; round < 10; round++) {
        const ids = pics.map((_, i) => `e${String(round * 30 + i).padStart(3, '0')}`);
        const labels = pics.map((_, i) => (i % 3 === 0 ? 'odd' : 'even'));
        const add = await post(a, '/v1/index', form(pics.map((b, i) => ({ name: `${ids[i]}.png`, bytes: b })), { ids: ids.join(','), labels: labels.join(',') }));
        expect(add.status).toBe(200);
      }
      const page = async (q: string): Promise<any> => (await fetch(`${a.url}/v1/index${q}`)).json();
      const first = await page('');
      expect(first).toMatchObject({ size: 300, offset: 0, limit: 48, labels: [{ label: 'even', count: 200 }, { label: 'odd', count: 100 }] });
      expect(first.entries).toHaveLength(48);
      expect(first.entries[0]).toMatchObject({ id: 'e000', label: 'odd' });
      const thumb = Buffer.from((first.entries[0].thumbnail as string).replace(/^data:image\/webp;base64,/, ''), 'base64');
      expect(thumb.subarray(8, 12).toString()).toBe('WEBP');
      expect(thumb.length).toBeLessThan(8 * 1024);
      const last = await page('?offset=288&limit=48');
      expect(last.entries.map((e: { id: string }) => e.id)).toEqual(Array.from({ length: 12 }, (_, i) => `e${288 + i}`));
      expect((await fetch(`${a.url}/v1/index?limit=1000`)).status).toBe(400);

      // The kept crop is the model input: posting it back gives the stored embedding (similarity 1).
      const crop = await fetch(`${a.url}/v1/index/image?id=e031`);
      expect(crop.headers.get('content-type')).toBe('image/png');
      const bytes = Buffer.from(await crop.arrayBuffer());
      const found = await post(a, '/v1/search?k=1', bytes, { 'content-type': 'image/png' });
      expect(found.json.results[0].neighbors[0].id).toMatch(/^e\d\d1$/); // e031 or an identical copy (same picture in every round)
      expect(found.json.results[0].neighbors[0].similarity).toBeGreaterThan(0.9999);
      expect((await fetch(`${a.url}/v1/index/image?id=nope`)).status).toBe(404);
      const withThumbs = await post(a, '/v1/search?k=2&thumbnails=1', bytes, { 'content-type': 'image/png' });
      expect(withThumbs.json.results[0].neighbors[1].thumbnail).toBe(first.entries[1].thumbnail); // e001 and e031 hold the same picture

      // Replacing an entry replaces its pictures.
      await post(a, '/v1/index', form([{ name: 'x.png', bytes: imgs[0]! }], { ids: 'e031' }));
      const again = Buffer.from(await (await fetch(`${a.url}/v1/index/image?id=e031`)).arrayBuffer());
      expect(again.equals(bytes)).toBe(false);
      expect((await page('')).size).toBe(300);
    } finally {
      await a.close();
    }
  });

  it('keeps no pictures with indexImages off: entries list without thumbnails, no crop to fetch', async () => {
    const dir = tmp();
    const a = await start({ indexDir: dir, indexImages: false });
    try {
      expect((await post(a, '/v1/index', form([{ name: 'x.png', bytes: imgs[0]! }], { ids: 'x' }))).status).toBe(200);
      const page = (await (await fetch(`${a.url}/v1/index`)).json()) as { entries: unknown[] };
      expect(page.entries).toEqual([{ id: 'x', label: null, thumbnail: null }]);
      const crop = await fetch(`${a.url}/v1/index/image?id=x`);
      expect(crop.status).toBe(404);
      expect(((await crop.json()) as { error: { code: string } }).error.code).toBe('no_image');
      expect(readdirSync(dir).sort()).toEqual(['embeddings.f32', 'entries.json', 'vectors.usearch']);
    } finally {
      await a.close();
    }
  });

  it('serves Prometheus metrics', async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/# TYPE ssl_infer_requests_total counter/);
    expect(text).toMatch(/ssl_infer_requests_total\{method="POST",route="\/v1\/embeddings",status="200"\} [1-9]/);
    expect(text).toMatch(/ssl_infer_batch_size_bucket\{le="\+Inf"\} [1-9]/);
    expect(text).toMatch(/ssl_infer_queue_depth 0/);
  });
});

describe('server guards', () => {
  it('needs the bearer token when one is set', async () => {
    const s = await start({ token: 's3cret' });
    try {
      const img = await testImage(5);
      const no = await post(s, '/v1/embeddings', img, { 'content-type': 'image/png' });
      expect(no.status).toBe(401);
      expect(no.headers.get('www-authenticate')).toBe('Bearer');
      expect((await post(s, '/v1/embeddings', img, { 'content-type': 'image/png', authorization: 'Bearer nope!!' })).status).toBe(401);
      expect((await post(s, '/v1/embeddings', img, { 'content-type': 'image/png', authorization: 'Bearer s3cret' })).status).toBe(200);
      expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('answers bad uploads with 4xx JSON and stays healthy with the index intact', async () => {
    const s = await start({ bodyLimit: 200_000, fileLimit: 100_000, preprocess: { ...pre, maxPixels: 1_000_000 } });
    try {
      const good = await testImage(7, 40, 40);
      expect((await post(s, '/v1/index', form([{ name: 'g', bytes: good }], { id: 'good' }))).status).toBe(200);
      const jpeg = await testImage(8, 64, 64, 'jpeg');
      const cases: [string, FormData | Buffer, Record<string, string>, number, string][] = [
        ['truncated PNG', good.subarray(0, good.length >> 1), { 'content-type': 'image/png' }, 422, 'undecodable_image'],
        ['truncated JPEG', jpeg.subarray(0, jpeg.length >> 1), { 'content-type': 'image/jpeg' }, 422, 'undecodable_image'],
        ['huge claimed dimensions', await pngWithClaimedSize(50_000, 50_000), { 'content-type': 'image/png' }, 422, 'too_many_pixels'],
        ['progressive JPEG bomb', await progressiveJpegBomb(), { 'content-type': 'image/jpeg' }, 422, 'too_many_pixels'],
        ['zero bytes', Buffer.alloc(0), { 'content-type': 'image/png' }, 400, 'empty_image'],
        ['zero-byte file part', form([{ name: 'z', bytes: Buffer.alloc(0) }]), {}, 400, 'empty_image'],
        ['not an image', Buffer.from('hello, this is plain text, not pixels'), { 'content-type': 'image/png' }, 422, 'undecodable_image'],
        ['wrong content type', Buffer.from('{"a":1}'), { 'content-type': 'application/json' }, 415, 'unsupported_media_type'],
        ['text/plain body', Buffer.from('abc'), { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
        ['body over the limit', Buffer.alloc(300_000, 1), { 'content-type': 'image/png' }, 413, 'too_large'],
        ['file over the limit', form([{ name: 'big', bytes: Buffer.alloc(150_000, 1) }]), {}, 413, 'too_large'],
        ['multipart without files', form([], { id: 'x' }), {}, 400, 'no_image'],
      ];
      for (const [what, body, headers, status, code] of cases) {
        for (const path of ['/v1/embeddings', '/v1/index?id=bad']) {
          const r = await post(s, path, body, headers);
          expect(r.status, `${what} ${path}: ${JSON.stringify(r.json)}`).toBe(status);
          expect(r.json.error.code, what).toBe(code);
          expect(typeof r.json.error.message).toBe('string');
        }
      }
      expect((await post(s, '/v1/search?k=0', good, { 'content-type': 'image/png' })).status).toBe(400);
      expect((await post(s, '/v1/attention', form([{ name: 'a', bytes: good }, { name: 'b', bytes: good }]))).status).toBe(400);
      expect((await fetch(`${s.url}/nope`)).status).toBe(404);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      expect(s.index.size).toBe(1);
      const found = await post(s, '/v1/search?k=5', good, { 'content-type': 'image/png' });
      expect(found.json.results[0].neighbors.map((n: { id: string }) => n.id)).toEqual(['good']);
    } finally {
      await s.close();
    }
  });

  it('answers 429 with Retry-After when the queue is full, and 503 past the deadline', async () => {
    // A long batching wait keeps the first three queued while the others arrive (even on a busy machine).
    const s = await start({ batch: { maxQueue: 3, maxBatch: 64, maxWaitMs: 1000 } });
    try {
      const img = await testImage(9);
      const all = await Promise.all(Array.from({ length: 8 }, () => post(s, '/v1/embeddings', img, { 'content-type': 'image/png' })));
      const codes = all.map((r) => r.status).sort();
      expect(codes.filter((c) => c === 200)).toHaveLength(3);
      expect(codes.filter((c) => c === 429)).toHaveLength(5);
      const refused = all.find((r) => r.status === 429)!;
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.json.error.code).toBe('queue_full');
      expect((await post(s, '/v1/embeddings', img, { 'content-type': 'image/png' })).status).toBe(200);
    } finally {
      await s.close();
    }
    const slow = await start({ batch: { maxWaitMs: 400 }, requestTimeoutMs: 100 });
    try {
      const r = await post(slow, '/v1/embeddings', await testImage(9), { 'content-type': 'image/png' });
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('timeout');
    } finally {
      await slow.close();
    }
  });

  it('batches concurrent requests dynamically (one ORT run for images arriving together)', async () => {
    const s = await start({ batch: { maxBatch: 4, maxWaitMs: 1000 } });
    try {
      const img = await testImage(12);
      const all = await Promise.all(Array.from({ length: 6 }, () => post(s, '/v1/embeddings', img, { 'content-type': 'image/png' })));
      expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      // Equal inputs give equal embeddings whatever batch they ran in.
      for (const r of all) expect(r.json.data[0].embedding).toEqual(all[0]!.json.data[0].embedding);
      const text = await (await fetch(`${s.url}/metrics`)).text();
      // Six images: a full batch of 4 at once, then the other 2 after the wait, i.e. 2 runs.
      expect(text).toMatch(/ssl_infer_batch_size_count 2\n/);
      expect(text).toMatch(/ssl_infer_batch_size_sum 6\n/);
      expect(text).toMatch(/ssl_infer_batch_size_bucket\{le="2"\} 1\n/);
      expect(text).toMatch(/ssl_infer_images_total 6\n/);
    } finally {
      await s.close();
    }
  });

  it('finishes in-flight requests on shutdown and refuses new ones', async () => {
    const s = await start({ batch: { maxWaitMs: 300 } });
    const img = await testImage(10);
    const inflight = post(s, '/v1/embeddings', img, { 'content-type': 'image/png' });
    // Close once the request is inside the server (queued for its batch).
    for (let i = 0; i < 200 && s.batcher.depth === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(s.batcher.depth).toBe(1);
    const closing = s.close();
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.json.data[0].embedding).toHaveLength(32);
    await closing;
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });

  it('shuts down promptly while a browser holds an open socket that carries no request', async () => {
    const s = await start();
    const { port } = new URL(s.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const ended = new Promise((r) => socket.once('close', r));
    const t0 = performance.now();
    await s.close();
    await ended;
    // Not the 72 s keep-alive timeout a browser's pre-connection would otherwise hold it open.
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
