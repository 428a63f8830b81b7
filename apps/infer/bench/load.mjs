// Load test of the HTTP server on loopback with autocannon: the Fashion-MNIST ViT (random
// weights), 28x28 PNG uploads to /v1/embeddings. Phase 1 stays under the queue limit (expect no
// errors), phase 2 overloads it (expect 429s and no 5xx); then the server must still be healthy.
// BENCH_SECONDS (default 4) bounds each phase. Run after pnpm build.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { VisionTransformer } from '@ssl/models';
import { exportModule } from '@ssl/onnx';
import { startServer } from 'ssl-infer';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const model = new VisionTransformer({ imgSize: 28, patchSize: 4, inChans: 1, embedDim: 96, depth: 4, numHeads: 3, seed: 1 });
const { bytes } = exportModule(model, { numHeads: 3 });
model.dispose();
const dir = mkdtempSync(join(tmpdir(), 'ssl-infer-bench-'));
const maxQueue = 32;
const server = await startServer({
  model: bytes,
  port: 0,
  indexDir: dir,
  preprocess: { crop: 28, resize: 32, channels: 1 },
  batch: { maxBatch: 32, maxWaitMs: 2, maxQueue },
});
const raw = Buffer.alloc(28 * 28, 0).map((_, i) => (i * 37) % 256);
const png = await sharp(raw, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();

async function phase(name, connections) {
  const r = await autocannon({
    url: `${server.url}/v1/embeddings`,
    method: 'POST',
    body: png,
    headers: { 'content-type': 'image/png' },
    connections,
    duration: SECONDS,
  });
  const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  console.log(
    `${name}: ${connections} connections, ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ` +
      `status ${JSON.stringify(codes)}, errors ${r.errors}, timeouts ${r.timeouts}`,
  );
  return { codes, errors: r.errors };
}

try {
  const below = await phase('below the queue limit', 8);
  const above = await phase(`above the queue limit (${maxQueue})`, 128);
  const healthy = (await fetch(`${server.url}/healthz`)).status === 200;
  const fivexx = Object.keys({ ...below.codes, ...above.codes }).filter((c) => c.startsWith('5'));
  console.log(`healthy after: ${healthy}; 5xx responses: ${fivexx.length ? fivexx.join(', ') : 'none'}; 429 under overload: ${above.codes['429'] ?? 0}`);
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
