import { timingSafeEqual } from 'node:crypto';
import multipart from '@fastify/multipart';
import { featureMap, knnVotes, rankClasses, rgbToPng, thresholdMasks } from '@ssl/eval';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { attentionMosaicPng, attentionTilesPng, clsMaps, toRgb } from './attention.js';
import { Batcher, QueueFullError, type BatcherOptions } from './batcher.js';
import { Counter, Gauge, Histogram, Registry } from './metrics.js';
import { describeModel, loadModel, type LoadedModel } from './model.js';
import { multiScaleEmbedding } from './multiscale.js';
import { dataUrl, entryImages } from './pictures.js';
import { prepareImage, resolvePreprocess, type PreprocessOptions, type Prepared, type ResolvedPreprocess } from './preprocess.js';
import { VectorIndex } from './vector-index.js';
import { PAGE_HTML } from './page.js';

export interface ServerOptions {
  /** Path of the .onnx model, or its bytes (run under ONNX Runtime), or a loaded model (e.g. `loadNativeModel`; closed with the server). */
  model: string | Uint8Array | LoadedModel;
  /** Default 127.0.0.1 (loopback only); use 0.0.0.0 deliberately to expose it. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** When set, /v1/* and /metrics need `Authorization: Bearer <token>`. */
  token?: string;
  workers?: number;
  intraOpThreads?: number;
  batch?: BatcherOptions;
  preprocess?: PreprocessOptions;
  /** Directory of the persistent vector index. Default `./ssl-index`. */
  indexDir?: string;
  /** Largest request body in bytes (413 beyond). Default 32 MiB. */
  bodyLimit?: number;
  /** Largest single uploaded file in bytes (413 beyond). Default 16 MiB. */
  fileLimit?: number;
  /** Most files in one multipart request (413 beyond). Default 32. */
  maxFiles?: number;
  /** Per-request deadline in ms, queue wait included (503 beyond). Default 30000. */
  requestTimeoutMs?: number;
  /** Cosine similarity at or above which /v1/search flags a near-duplicate. Default 0.95. */
  duplicateThreshold?: number;
  /** k-NN defaults for /v1/classify (DINO: k = 20, T = 0.07). */
  knnK?: number;
  knnT?: number;
  /** Keep each indexed image's model-input crop and a thumbnail (for browsing and re-running it). Default true. */
  indexImages?: boolean;
  logger?: boolean;
  /**
   * Embeddings (index, search, k-NN, /v1/embeddings) as the mean over scales 1, 1/sqrt(2), 1/2,
   * L2-normalised, as DINO's retrieval `--multiscale`; three model runs per image. Default false.
   */
  multiscale?: boolean;
}

export interface InferServer {
  app: FastifyInstance;
  url: string;
  model: LoadedModel;
  index: VectorIndex;
  batcher: Batcher;
  /** Stops accepting requests, finishes the ones in flight, then stops the workers. */
  close(): Promise<void>;
}

/** An error that becomes a JSON response `{ error: { code, message } }` with `status`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Upload {
  name: string;
  bytes: Buffer;
}

interface ParsedRequest {
  files: Upload[];
  fields: Record<string, string>;
}

const RAW_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif', 'application/octet-stream'];

export async function startServer(options: ServerOptions): Promise<InferServer> {
  const pre: ResolvedPreprocess = resolvePreprocess(options.preprocess);
  const modelOpts: { workers?: number; intraOpThreads?: number } = {};
  if (options.workers !== undefined) modelOpts.workers = options.workers;
  if (options.intraOpThreads !== undefined) modelOpts.intraOpThreads = options.intraOpThreads;
  const model = typeof options.model === 'string' || options.model instanceof Uint8Array ? await loadModel(options.model, pre, modelOpts) : options.model;
  let index: VectorIndex;
  try {
    index = VectorIndex.open(options.indexDir ?? 'ssl-index', model.embeddingDim);
  } catch (err) {
    await model.extractor.close();
    throw err;
  }
  const bodyLimit = options.bodyLimit ?? 32 * 1024 * 1024;
  const fileLimit = options.fileLimit ?? 16 * 1024 * 1024;
  const maxFiles = options.maxFiles ?? 32;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const dupThreshold = options.duplicateThreshold ?? 0.95;
  const knnK = options.knnK ?? 20;
  const knnT = options.knnT ?? 0.07;
  const keepIndexImages = options.indexImages ?? true;

  // Metrics.
  const registry = new Registry();
  const requests = registry.add(new Counter('ssl_infer_requests_total', 'HTTP requests by route and status code'));
  const latency = registry.add(
    new Histogram('ssl_infer_request_duration_seconds', 'HTTP request latency by route', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  );
  const batchSize = registry.add(new Histogram('ssl_infer_batch_size', 'Images per ONNX Runtime run', [1, 2, 4, 8, 16, 32, 64]));
  const batchSeconds = registry.add(new Histogram('ssl_infer_batch_duration_seconds', 'Seconds per ONNX Runtime run', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]));
  const images = registry.add(new Counter('ssl_infer_images_total', 'Images run through the model'));
  const rejected = registry.add(new Counter('ssl_infer_rejected_total', 'Requests refused, by reason'));

  const batcher = new Batcher(model.extractor, {
    ...options.batch,
    onBatch: (n, s) => {
      batchSize.observe(n);
      batchSeconds.observe(s);
      images.inc({}, n);
    },
  });
  registry.add(new Gauge('ssl_infer_queue_depth', 'Images waiting or running', () => batcher.depth));
  registry.add(new Gauge('ssl_infer_index_size', 'Entries in the vector index', () => index.size));
  registry.add(new Gauge('ssl_infer_workers', 'ONNX Runtime worker threads', () => model.extractor.workers));

  let ready = false;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    requestTimeout: timeoutMs,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  const errorBody = (code: string, message: string): { error: { code: string; message: string } } => ({ error: { code, message } });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
      return reply.code(err.status).send(errorBody(err.code, err.message));
    }
    if (err instanceof QueueFullError) {
      rejected.inc({ reason: 'queue_full' });
      return reply.code(429).header('retry-after', String(err.retryAfterSeconds)).send(errorBody('queue_full', err.message));
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    const code =
      status === 413 ? 'too_large' : status === 415 ? 'unsupported_media_type' : status === 408 ? 'request_timeout' : status >= 500 ? 'internal' : 'bad_request';
    if (status === 413) rejected.inc({ reason: 'too_large' });
    return reply.code(status).send(errorBody(code, status >= 500 ? `internal error: ${err.message}` : err.message));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url}`)));

  await app.register(multipart, { limits: { fileSize: fileLimit, files: maxFiles, fields: 64, fieldSize: 64 * 1024, parts: maxFiles + 64 } });
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  const t0s = new WeakMap<FastifyRequest, number>();
  app.addHook('onRequest', async (req) => {
    t0s.set(req, performance.now());
    const path = req.url.split('?')[0] ?? '';
    if (options.token && (path.startsWith('/v1/') || path === '/metrics')) {
      const got = req.headers.authorization ?? '';
      const want = `Bearer ${options.token}`;
      const ok = got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
      if (!ok) throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' });
    }
  });
  // While shutting down, answers close their connection: a keep-alive socket would otherwise hold
  // app.close() open until its idle timeout.
  let shuttingDown = false;
  app.addHook('onSend', async (_req, reply) => {
    if (shuttingDown) void reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    const t0 = t0s.get(req);
    if (t0 !== undefined) latency.observe((performance.now() - t0) / 1000, { route });
  });

  /** Files from multipart parts or a raw image body, plus form fields merged over the query. */
  async function readImages(req: FastifyRequest): Promise<ParsedRequest> {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries((req.query as Record<string, unknown>) ?? {})) if (typeof v === 'string') fields[k] = v;
    const files: Upload[] = [];
    if (req.isMultipart()) {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          const bytes = await part.toBuffer(); // throws 413 beyond fileSize
          files.push({ name: part.filename || part.fieldname, bytes });
        } else fields[part.fieldname] = String(part.value);
      }
    } else if (Buffer.isBuffer(req.body)) {
      files.push({ name: fields['name'] ?? 'body', bytes: req.body });
    } else {
      throw new HttpError(415, 'unsupported_media_type', `send images as multipart/form-data or a raw body with one of: ${RAW_TYPES.join(', ')}`);
    }
    if (files.length === 0) throw new HttpError(400, 'no_image', 'the request holds no image');
    for (const f of files) if (f.bytes.length === 0) throw new HttpError(400, 'empty_image', `image "${f.name}" is empty (0 bytes)`);
    return { files, fields };
  }

  /** Decodes and transforms, answering 422 for what cannot be decoded or is over the pixel limit. */
  async function prepare(files: Upload[]): Promise<Prepared[]> {
    return Promise.all(
      files.map(async (f) => {
        try {
          return await prepareImage(f.bytes, pre, f.name);
        } catch (err) {
          const msg = (err as Error).message;
          if (/pixel limit/i.test(msg)) {
            rejected.inc({ reason: 'too_many_pixels' });
            throw new HttpError(422, 'too_many_pixels', `image "${f.name}" has more than ${pre.maxPixels} pixels`);
          }
          rejected.inc({ reason: 'undecodable' });
          throw new HttpError(422, 'undecodable_image', msg);
        }
      }),
    );
  }

  /** Runs images through the batcher under the request deadline; room is reserved before decoding. */
  async function infer(files: Upload[], outputs: string[]): Promise<{ prepared: Prepared[]; results: Record<string, { data: Float32Array; dims: number[] }>[] }> {
    if (!ready) throw new HttpError(503, 'not_ready', 'server is starting or shutting down', { 'retry-after': '1' });
    batcher.reserve(files.length);
    let reserved = files.length;
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = (async () => {
        const prepared = await prepare(files);
        reserved = 0;
        const results = await Promise.all(prepared.map((p) => batcher.submitReserved(p, outputs)));
        if (options.multiscale && outputs.includes(model.embeddingOutput)) {
          // Scale 1 already ran; the other scales go through the batcher too (same-size images batch together).
          const runs = new Map<Prepared, Promise<Float32Array>>(prepared.map((p, i) => [p, Promise.resolve(results[i]![model.embeddingOutput]!.data)]));
          const embed = (p: Prepared): Promise<Float32Array> =>
            runs.get(p) ?? batcher.submit(p, [model.embeddingOutput]).then((r) => r[model.embeddingOutput]!.data);
          const combined = await Promise.all(prepared.map((p) => multiScaleEmbedding(p, embed)));
          combined.forEach((v, i) => {
            results[i]![model.embeddingOutput] = { data: v, dims: [1, v.length] };
          });
        }
        return { prepared, results };
      })();
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HttpError(503, 'timeout', `request took longer than ${timeoutMs} ms`, { 'retry-after': '1' })), timeoutMs);
      });
      return await Promise.race([work, deadline]);
    } finally {
      if (timer) clearTimeout(timer);
      if (reserved > 0) batcher.release(reserved);
    }
  }

  const intField = (fields: Record<string, string>, name: string, dflt: number, min: number, max: number): number => {
    const raw = fields[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) throw new HttpError(400, 'bad_parameter', `${name} must be an integer in [${min}, ${max}], got "${raw}"`);
    return v;
  };
  const floatField = (fields: Record<string, string>, name: string, dflt: number, min: number, max: number): number => {
    const raw = fields[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) throw new HttpError(400, 'bad_parameter', `${name} must be a number in [${min}, ${max}], got "${raw}"`);
    return v;
  };
  /** A list field: JSON array or comma-separated. */
  const listField = (fields: Record<string, string>, name: string): string[] | undefined => {
    const raw = fields[name];
    if (raw === undefined) return undefined;
    if (raw.trim().startsWith('[')) {
      const v = JSON.parse(raw) as unknown;
      if (!Array.isArray(v)) throw new HttpError(400, 'bad_parameter', `${name} must be a JSON array or a comma-separated list`);
      return v.map(String);
    }
    return raw.split(',').map((s) => s.trim());
  };

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE_HTML));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) =>
    ready ? { status: 'ready', indexSize: index.size, queue: batcher.depth } : reply.code(503).send(errorBody('not_ready', 'not ready')),
  );
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(registry.render()));
  // Which engine and precision ran: in /v1/model, in the inference responses, and as headers on the PNG.
  const ran = { engine: model.engine, precision: model.precision };
  app.get('/v1/model', async () => ({
    ...ran,
    precisionReason: model.precisionReason,
    embeddingDim: model.embeddingDim,
    embeddingOutput: model.embeddingOutput,
    attention: model.hasAttention,
    patchSize: model.patchSize,
    multiscale: Boolean(options.multiscale),
    preprocess: { resize: pre.resize, crop: pre.crop, mean: pre.mean, std: pre.std, channels: pre.channels },
    ...describeModel(model.metadata),
    limits: { bodyBytes: bodyLimit, fileBytes: fileLimit, maxFiles, maxPixels: pre.maxPixels },
    search: { duplicateThreshold: dupThreshold, knnK, knnT },
    metadata: model.metadata,
  }));

  app.post('/v1/embeddings', async (req) => {
    const { files } = await readImages(req);
    const { results } = await infer(files, [model.embeddingOutput]);
    return {
      ...ran,
      dim: model.embeddingDim,
      data: files.map((f, i) => ({ name: f.name, embedding: Array.from((results[i] as Record<string, { data: Float32Array }>)[model.embeddingOutput]!.data) })),
    };
  });

  app.post('/v1/attention', async (req, reply: FastifyReply) => {
    if (!model.hasAttention || model.patchSize === null) throw new HttpError(422, 'no_attention', 'this model has no attention output (not a ViT export)');
    const { files, fields } = await readImages(req);
    if (files.length !== 1) throw new HttpError(400, 'one_image', `attention takes one image, got ${files.length}`);
    const threshold = floatField(fields, 'threshold', 0.6, 0, 1);
    const withImages = fields['images'] === '1' || fields['images'] === 'true';
    const format = fields['format'] ?? 'json';
    if (format !== 'json' && format !== 'png') throw new HttpError(400, 'bad_parameter', `format must be "json" or "png", got "${format}"`);
    const { prepared, results } = await infer(files, ['attention']);
    const p = prepared[0] as Prepared;
    const gridH = Math.floor(p.height / model.patchSize);
    const gridW = Math.floor(p.width / model.patchSize);
    const maps = clsMaps(results[0]!['attention']!, gridH, gridW);
    if (format === 'png') {
      reply.header('x-ssl-engine', ran.engine).header('x-ssl-precision', ran.precision);
      return reply.type('image/png').send(await attentionMosaicPng(p.image, maps, model.patchSize, threshold));
    }
    const n = gridH * gridW;
    const masks = thresholdMasks(maps, threshold);
    const out: Record<string, unknown> = {
      ...ran,
      heads: maps.heads,
      gridH,
      gridW,
      patchSize: model.patchSize,
      threshold,
      maps: Array.from({ length: maps.heads }, (_, h) => Array.from(maps.maps.subarray(h * n, (h + 1) * n))),
      masks: Array.from({ length: maps.heads }, (_, h) => Array.from(masks.subarray(h * n, (h + 1) * n))),
    };
    if (withImages) {
      // The CLI's pictures: the crop the model saw, then per head (and the mean) heat map and mask overlay.
      out['image'] = dataUrl('image/png', await rgbToPng(toRgb(p.image), p.height, p.width));
      out['tiles'] = (await attentionTilesPng(p.image, maps, model.patchSize, threshold)).map((t) => ({
        tag: t.tag,
        heat: dataUrl('image/png', t.heat),
        mask: dataUrl('image/png', t.mask),
      }));
    }
    return out;
  });

  app.post('/v1/index', async (req) => {
    const { files, fields } = await readImages(req);
    const ids = listField(fields, 'ids') ?? listField(fields, 'id');
    const labels = listField(fields, 'labels') ?? listField(fields, 'label');
    if (!ids || ids.length !== files.length) {
      throw new HttpError(400, 'bad_parameter', `give one id per image ("ids" or "id"): ${files.length} images, ${ids?.length ?? 0} ids`);
    }
    if (new Set(ids).size !== ids.length || ids.some((id) => id.length === 0 || id.length > 256)) {
      throw new HttpError(400, 'bad_parameter', 'ids must be unique, non-empty strings of at most 256 characters');
    }
    if (labels && labels.length !== files.length) throw new HttpError(400, 'bad_parameter', `give one label per image: ${files.length} images, ${labels.length} labels`);
    const { prepared, results } = await infer(files, [model.embeddingOutput]);
    const pictures = keepIndexImages ? await Promise.all(prepared.map((p) => entryImages(p.image))) : [];
    const items = files.map((_, i) => {
      const item: Parameters<VectorIndex['add']>[0][number] = { id: ids[i] as string, vector: results[i]![model.embeddingOutput]!.data };
      const label = labels?.[i];
      if (label !== undefined && label !== '') item.label = label;
      const images = pictures[i];
      if (images) item.images = images;
      return item;
    });
    index.add(items);
    return { added: items.map((it) => ({ id: it.id, label: it.label ?? null })), size: index.size };
  });

  // The map is recomputed only when the index changed since (UMAP of thousands of entries takes seconds).
  let mapCache: { key: string; body: unknown } | null = null;
  app.get('/v1/index/map', async (req) => {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries((req.query as Record<string, unknown>) ?? {})) if (typeof v === 'string') fields[k] = v;
    const seed = intField(fields, 'seed', 0, 0, 2 ** 31 - 1);
    const key = `${index.revision}:${index.size}:${seed}`;
    if (mapCache?.key === key) return mapCache.body;
    const { entries, missing } = index.embeddings();
    const rows = entries.map((e) => e.vector);
    const map = featureMap(rows.length > 0 ? rows : { data: new Float32Array(0), rows: 0, cols: index.dimensions }, { seed });
    const body = {
      method: 'umap',
      metric: 'cosine',
      seed,
      size: entries.length,
      missing,
      entries: entries.map((e, i) => ({ id: e.id, label: e.label ?? null, x: map.x[i] as number, y: map.y[i] as number })),
    };
    mapCache = { key, body };
    return body;
  });

  // A page of the index for browsing: entries in insertion order with inline thumbnails, label counts.
  app.get('/v1/index', async (req) => {
    const q = (req.query as Record<string, string>) ?? {};
    const offset = intField(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intField(q, 'limit', 48, 1, 200);
    return {
      size: index.size,
      offset,
      limit,
      labels: index.labelCounts(),
      entries: index.list(offset, limit).map((e) => {
        const thumb = e.hasImages ? index.picture(e.id, 'thumbnail') : null;
        return { id: e.id, label: e.label ?? null, thumbnail: thumb ? dataUrl('image/webp', thumb) : null };
      }),
    };
  });

  // The model-input crop kept for an entry (PNG): posting it back gives the entry's own embedding.
  app.get('/v1/index/image', async (req, reply) => {
    const id = ((req.query as Record<string, string>) ?? {})['id'];
    if (!id) throw new HttpError(400, 'bad_parameter', 'give the entry as ?id=');
    if (!index.has(id)) throw new HttpError(404, 'not_found', `no index entry "${id}"`);
    const png = index.picture(id, 'crop');
    if (!png) throw new HttpError(404, 'no_image', `index entry "${id}" was added without its image (server started with index images off)`);
    return reply.type('image/png').send(png);
  });

  app.post('/v1/search', async (req) => {
    const { files, fields } = await readImages(req);
    const k = intField(fields, 'k', 5, 1, 1000);
    const threshold = floatField(fields, 'threshold', dupThreshold, -1, 1);
    const withThumbnails = fields['thumbnails'] === '1' || fields['thumbnails'] === 'true';
    const { results } = await infer(files, [model.embeddingOutput]);
    const thumbnail = (id: string): { thumbnail?: string | null } => {
      if (!withThumbnails) return {};
      const t = index.picture(id, 'thumbnail');
      return { thumbnail: t ? dataUrl('image/webp', t) : null };
    };
    return {
      results: files.map((f, i) => {
        const neighbors = index.search(results[i]![model.embeddingOutput]!.data, k);
        return {
          name: f.name,
          neighbors: neighbors.map((n) => ({ id: n.id, label: n.label ?? null, similarity: n.similarity, duplicate: n.similarity >= threshold, ...thumbnail(n.id) })),
          duplicate: neighbors.some((n) => n.similarity >= threshold),
        };
      }),
    };
  });

  app.post('/v1/classify', async (req) => {
    const { files, fields } = await readImages(req);
    const k = intField(fields, 'k', knnK, 1, 1000);
    const T = floatField(fields, 'temperature', knnT, 1e-6, 100);
    const classes = index.labels();
    if (classes.length === 0) throw new HttpError(409, 'no_labels', 'the index has no labelled entries; add some with POST /v1/index and labels');
    const classOf = new Map(classes.map((c, i) => [c, i]));
    const { results } = await infer(files, [model.embeddingOutput]);
    return {
      results: files.map((f, i) => {
        const nb = index.search(results[i]![model.embeddingOutput]!.data, k, { labelledOnly: true });
        // Official DINO k-NN vote: class score = sum over the k neighbours of exp(sim / T).
        const scores = knnVotes(
          { k: nb.length, numQueries: 1, indices: Int32Array.from(nb.keys()), similarities: Float32Array.from(nb.map((n) => n.similarity)) },
          Int32Array.from(nb.map((n) => classOf.get(n.label as string) as number)),
          classes.length,
          nb.length,
          T,
        );
        const order = rankClasses(scores, 0, classes.length);
        return {
          name: f.name,
          label: classes[order[0] as number],
          scores: Array.from(order, (c) => ({ label: classes[c], score: scores[c] })),
          neighbors: nb.map((n) => ({ id: n.id, label: n.label, similarity: n.similarity })),
        };
      }),
    };
  });

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
  ready = true;
  const addr = app.server.address();
  const url = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);

  let closing: Promise<void> | null = null;
  // Requests being answered, counted on the raw server: a browser holds sockets open that carry no
  // request (pre-connections), which Node does not count as idle; once nothing is in flight,
  // shutdown closes them instead of waiting out the keep-alive timeout (72 s).
  let inFlight = 0;
  app.server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      ready = false;
      shuttingDown = true;
      const closed = app.close(); // stops accepting, waits for in-flight requests
      const sweep = setInterval(() => {
        if (inFlight === 0) app.server.closeAllConnections();
      }, 20);
      try {
        await closed;
      } finally {
        clearInterval(sweep);
      }
      await batcher.drain();
      await model.extractor.close();
    })());
  return { app, url, model, index, batcher, close };
}
