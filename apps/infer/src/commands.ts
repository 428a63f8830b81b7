import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { rgbToPng } from '@ssl/eval';
import { inferModelSpec } from '@ssl/models';
import { exportStateDict, loadStateDict, readModelMetadata, type ExportResult, type LoadedStateDict } from '@ssl/onnx';
import { parsePrecision, type Precision } from '@ssl/tensor';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkArch, resolveArch, type ArchFlags } from './arch.js';
import { attentionImages, clsMaps, toRgb } from './attention.js';
import { checkpointRunMetadata, loadModel, loadNativeModel, type LoadedModel } from './model.js';
import { chooseEngine, formatEngineChoice } from './native-engine.js';
import { multiScaleEmbedding } from './multiscale.js';
import { prepareImage, resolvePreprocess, stack, type PreprocessOptions, type Prepared, type ResolvedPreprocess } from './preprocess.js';
import { startServer } from './server.js';
import { attentionVideo, progressBar } from './video.js';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif']);

const int = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} takes a non-negative integer, got "${v}"`);
  return n;
};
const num = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${flag} takes a number, got "${v}"`);
  return n;
};
const floats = (flag: string) => (v: string): number[] => {
  const xs = v.split(',').map(Number);
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x))) throw new InvalidArgumentError(`${flag} takes comma-separated numbers, got "${v}"`);
  return xs;
};

interface ModelFlags extends ArchFlags {
  model?: string;
  weights?: string;
  checkpoint?: string;
  checkpointKey?: string;
}

interface PrecisionFlags {
  precision?: Precision;
}

interface PreFlags {
  resize?: number;
  crop?: number;
  mean?: number[];
  std?: number[];
}

function addModelOptions(cmd: Command, withOnnx: boolean): Command {
  if (withOnnx) cmd.option('--model <file>', 'an exported .onnx model');
  return cmd
    .option('--weights <file>', 'weights with the architecture read off them: an official .pth (dino_*_pretrain.pth, a main_dino.py or PAWS checkpoint), .safetensors (Hugging Face facebook/dino-* too) or a checkpoint directory')
    .option('--checkpoint <dir>', 'a training checkpoint directory (DIR/checkpoint.safetensors); the teacher is exported')
    .option('--checkpoint-key <key>', 'section of a checkpoint holding several networks, as the official --checkpoint_key (default teacher; PAWS: encoder)')
    .option('--arch <name>', 'check the weights against a preset: vit_tiny, vit_small, vit_base, vit, resnet18/34/50/101, resnet18/34/50_cifar, resnet')
    .option('--embed-dim <n>', 'ViT width (overrides the preset)', int('--embed-dim'))
    .option('--depth <n>', 'ViT blocks', int('--depth'))
    .option('--num-heads <n>', 'ViT attention heads where the file does not record them (default: the official preset of the width, 192: 3, 384: 6, 768: 12)', int('--num-heads'))
    .option('--patch-size <n>', 'ViT patch size', int('--patch-size'))
    .option('--in-chans <n>', 'input channels (1 for grayscale models such as Fashion-MNIST)', int('--in-chans'));
}

function addPrecisionOption(cmd: Command): Command {
  return cmd.option(
    '--precision <p>',
    'fp32 (default: ONNX Runtime, embeddings that compare across machines) or bf16 (the native backend under autocast: matmuls and convolutions in bf16 with float32 accumulation where the CPU has AVX512-BF16/AMX, else float32 with the reason; needs --weights or --checkpoint)',
    (v: string) => {
      let p: Precision;
      try {
        p = parsePrecision(v, '--precision');
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
      // fp16 is webgpu's autocast (ssl-train); inference runs native bf16 or ONNX Runtime float32.
      if (p === 'fp16') throw new InvalidArgumentError("--precision='fp16' is for training on webgpu; ssl-infer takes bf16 or fp32");
      return p;
    },
    'fp32',
  );
}

function addPreprocessOptions(cmd: Command): Command {
  return cmd
    .option('--resize <n>', 'shorter side before the centre crop (DINO eval: 256)', int('--resize'))
    .option('--crop <n>', 'centre crop side (DINO eval: 224); an image of exactly this size is used as is', int('--crop'))
    .option('--mean <list>', 'per-channel mean (default ImageNet, or 0.5 for one channel)', floats('--mean'))
    .option('--std <list>', 'per-channel std (default ImageNet, or 0.5 for one channel)', floats('--std'));
}

/**
 * Preprocessing from the flags, with defaults from the model: its input channels, and for a model
 * trained at another size than 224 (e.g. 28 for Fashion-MNIST) crop = that size and resize in
 * DINO's 256/224 ratio.
 */
export function preprocessFrom(flags: PreFlags & ArchFlags, modelBytes?: Uint8Array): ResolvedPreprocess {
  const meta = modelBytes ? readModelMetadata(modelBytes) : {};
  const o: PreprocessOptions = {};
  const imgSize = meta['ssl.img_size'] ? Number(meta['ssl.img_size']) : undefined;
  if (flags.crop !== undefined) o.crop = flags.crop;
  else if (imgSize !== undefined) o.crop = imgSize;
  if (flags.resize !== undefined) o.resize = flags.resize;
  if (flags.mean) o.mean = flags.mean;
  if (flags.std) o.std = flags.std;
  const ch = flags.inChans ?? (meta['ssl.in_chans'] ? Number(meta['ssl.in_chans']) : undefined);
  if (ch !== undefined) {
    if (ch !== 1 && ch !== 3) throw new Error(`--in-chans must be 1 or 3, got ${ch}`);
    o.channels = ch;
  }
  return resolvePreprocess(o);
}

/**
 * The ONNX bytes of `--model`, or an export of `--weights` / `--checkpoint`: any file @ssl/models
 * reads, the architecture inferred from it (`inferModelSpec`) and checked against the arch flags.
 */
export async function modelBytes(flags: ModelFlags): Promise<{ bytes: Uint8Array; exported?: ExportResult; weights?: LoadedStateDict }> {
  const sources = [flags.model, flags.weights, flags.checkpoint].filter((s) => s !== undefined);
  if (sources.length !== 1) throw new Error('give exactly one of --model FILE.onnx, --weights FILE (.pth, .safetensors), --checkpoint DIR');
  if (flags.model) return { bytes: new Uint8Array(await readFile(flags.model)) };
  const weights = await loadStateDict((flags.weights ?? flags.checkpoint) as string, flags.checkpointKey !== undefined ? { key: flags.checkpointKey } : {});
  const arch = resolveArch(flags);
  // The flags are checked against the shapes first (a placeholder head count changes none of them),
  // so a wrong --arch is named as such rather than as a head count that does not divide the width.
  checkArch(arch, inferModelSpec(weights.state, { numHeads: 1, name: weights.source }));
  const numHeads = arch?.kind === 'vit' ? arch.numHeads : undefined;
  const spec = inferModelSpec(weights.state, {
    ...(numHeads !== undefined ? { numHeads } : {}),
    ...(weights.recorded ? { recorded: weights.recorded } : {}),
    name: weights.source,
  });
  const exported = exportStateDict(weights.state, {
    ...(spec.arch === 'vit' ? { numHeads: spec.options.numHeads } : {}),
    ...(weights.recorded ? { recorded: weights.recorded } : {}),
    ...(flags.checkpoint ? { meta: { metadata: checkpointRunMetadata(flags.checkpoint) } } : {}),
  });
  return { bytes: exported.bytes, exported, weights };
}

/** Files given, with directories expanded (recursively) to the images inside, sorted. */
export function expandImages(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`no such file or directory: ${p}`);
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) {
        if (e.startsWith('.')) continue; // hidden files (.DS_Store, ._x.jpg) are no images
        const child = join(p, e);
        if (statSync(child).isDirectory() || IMAGE_EXT.has(extname(e).toLowerCase())) walk(child);
      }
    } else out.push(p);
  };
  paths.forEach(walk);
  if (out.length === 0) throw new Error('no images given');
  return out;
}

/** The prepared image, or null (named on stderr) when the file cannot be read or decoded. */
async function prepareOrSkip(file: string, pre: ResolvedPreprocess): Promise<Prepared | null> {
  try {
    return await prepareImage(file, pre);
  } catch (err) {
    process.stderr.write(`skipped ${file}: ${(err as Error).message}\n`);
    return null;
  }
}

/**
 * The model the flags name, on the engine `--precision` asks for: ONNX Runtime in float32, or with
 * bf16 the weights' backbone on the native backend under autocast (float32 on ONNX Runtime where
 * bf16 cannot run here, the reason on stderr). Preprocessing and metadata come from the same ONNX
 * export either way.
 */
export async function openModel(
  flags: ModelFlags & PreFlags & PrecisionFlags,
  options: { workers?: number; threads?: number } = {},
): Promise<{ model: LoadedModel; pre: ResolvedPreprocess }> {
  const requested = flags.precision ?? 'fp32';
  if (requested === 'bf16' && flags.model) {
    throw new Error('--precision bf16 runs the backbone from its weights on the native backend: give --weights FILE or --checkpoint DIR (an .onnx model runs under ONNX Runtime in float32)');
  }
  const { bytes, exported } = await modelBytes(flags);
  const pre = preprocessFrom(flags, bytes);
  const choice = await chooseEngine(requested, options.threads);
  if (requested === 'bf16') process.stderr.write(`ssl-infer: ${formatEngineChoice(choice, requested)}\n`);
  if (choice.engine === 'native' && exported) {
    const weights = (flags.weights ?? flags.checkpoint) as string;
    const key = flags.checkpointKey;
    return { model: await loadNativeModel(weights, { spec: exported.spec, onnxBytes: bytes, choice, ...(key !== undefined ? { key } : {}) }, pre), pre };
  }
  const opts: { workers?: number; intraOpThreads?: number } = {};
  if (options.workers !== undefined) opts.workers = options.workers;
  if (options.threads !== undefined) opts.intraOpThreads = options.threads;
  const model = await loadModel(bytes, pre, opts);
  if (requested === 'bf16') model.precisionReason = choice.reason;
  return { model, pre };
}

async function withModel<T>(flags: ModelFlags & PreFlags & PrecisionFlags, fn: (m: LoadedModel, pre: ResolvedPreprocess) => Promise<T>, threads?: number): Promise<T> {
  const { model, pre } = await openModel(flags, threads !== undefined ? { threads } : {});
  try {
    return await fn(model, pre);
  } finally {
    await model.extractor.close();
  }
}

export function buildCli(): Command {
  const program = new Command('ssl-infer')
    .description('Export DINO/PAWS backbones to ONNX, extract embeddings and attention maps, serve them over HTTP')
    .showHelpAfterError();

  addModelOptions(program.command('export').description('export weights or a checkpoint to ONNX'), false)
    .requiredOption('--out <file>', 'where to write the .onnx model')
    .action(async (flags: ModelFlags & { out: string }) => {
      const { bytes, exported, weights } = await modelBytes(flags);
      await writeFile(flags.out, bytes);
      const how = weights ? `${weights.layout}${weights.key ? ` '${weights.key}'` : ''}; ${weights.notes.join('; ')}` : '';
      process.stderr.write(`wrote ${flags.out} (${JSON.stringify(exported?.spec)}; from ${how}; ${(bytes.length / 1e6).toFixed(1)} MB)\n`);
    });

  addPrecisionOption(addPreprocessOptions(addModelOptions(program.command('embed').description('one JSON line {"file","embedding","precision","engine"} per image'), true)))
    .argument('<images...>', 'image files or directories')
    .option('--batch-size <n>', 'images per model run', int('--batch-size'), 16)
    .option('--threads <n>', 'threads: ONNX Runtime intra-op, or the native backend\'s with bf16', int('--threads'))
    .option('--multiscale', 'retrieval embeddings: the mean over scales 1, 1/sqrt(2), 1/2, L2-normalised (DINO --multiscale)')
    .action(async (images: string[], flags: ModelFlags & PreFlags & PrecisionFlags & { batchSize: number; threads?: number; multiscale?: boolean }) => {
      const files = expandImages(images);
      await withModel(
        flags,
        async (model, pre) => {
          if (flags.multiscale) {
            const embed = async (p: Prepared): Promise<Float32Array> =>
              (await model.extractor.run({ input: stack([p]) }, [model.embeddingOutput]))[model.embeddingOutput]!.data;
            let skipped = 0;
            for (const file of files) {
              const p = await prepareOrSkip(file, pre);
              if (!p) {
                skipped++;
                continue;
              }
              const embedding = await multiScaleEmbedding(p, embed);
              process.stdout.write(`${JSON.stringify({ file, embedding: Array.from(embedding), precision: model.precision, engine: model.engine })}\n`);
            }
            if (skipped) process.stderr.write(`embedded ${files.length - skipped} of ${files.length} images; ${skipped} could not be read and were skipped\n`);
            return;
          }
          let skipped = 0;
          for (let i = 0; i < files.length; i += flags.batchSize) {
            // A file that cannot be read is skipped and counted (named on stderr), as in training.
            const tried = await Promise.all(files.slice(i, i + flags.batchSize).map((f) => prepareOrSkip(f, pre)));
            skipped += tried.filter((t) => t === null).length;
            const chunk = files.slice(i, i + flags.batchSize).filter((_, j) => tried[j] !== null);
            const prepared = tried.filter((t): t is Prepared => t !== null);
            if (prepared.length === 0) continue;
            const out = await model.extractor.run({ input: stack(prepared) }, [model.embeddingOutput]);
            const emb = out[model.embeddingOutput]!;
            const d = emb.dims[1] as number;
            chunk.forEach((file, j) => {
              process.stdout.write(`${JSON.stringify({ file, embedding: Array.from(emb.data.subarray(j * d, (j + 1) * d)), precision: model.precision, engine: model.engine })}\n`);
            });
          }
          if (skipped) process.stderr.write(`embedded ${files.length - skipped} of ${files.length} images; ${skipped} could not be read and were skipped\n`);
        },
        flags.threads,
      );
    });

  addPrecisionOption(addPreprocessOptions(addModelOptions(program.command('attention').description('last-block attention maps (PNG per head) and threshold masks, of images or of a video'), true)))
    .argument('[images...]', 'image files or directories')
    .option('--threshold <t>', 'keep the patches holding this share of the attention mass (DINO: 0.6)', num('--threshold'), 0.6)
    .option('--video <file|dir>', 'a video (ffmpeg reads it) or a folder of frames: --out is then a video file (.mp4, .webm, .gif) at the source frame rate, or a folder of PNG frames; --resize sets the shorter side (default: the source size)')
    .option('--fps <n>', 'output frame rate for a folder of frames (default 30)', num('--fps'))
    .option('--all-heads', 'video frames show every head (heat maps over mask overlays), not only the head mean')
    .requiredOption('--out <path>', 'output directory (one sub-directory per image), or with --video a video file or frame folder')
    .action(async (images: string[], flags: ModelFlags & PreFlags & PrecisionFlags & { threshold: number; out: string; video?: string; fps?: number; allHeads?: boolean }) => {
      if (!(flags.threshold > 0 && flags.threshold <= 1)) throw new Error(`--threshold must be in (0, 1], got ${flags.threshold}`);
      if (flags.video) {
        if (images.length > 0) throw new Error('give either images or --video, not both');
        const video = flags.video;
        await withModel(flags, async (model, pre) => {
          const bar = progressBar((s) => process.stderr.write(s));
          const r = await attentionVideo(model, pre, {
            input: video,
            out: flags.out,
            threshold: flags.threshold,
            ...(flags.resize !== undefined ? { resize: flags.resize } : {}),
            ...(flags.fps !== undefined ? { fps: flags.fps } : {}),
            allHeads: Boolean(flags.allHeads),
            progress: bar,
          });
          process.stderr.write(`\n${video}: ${r.frames} frames at ${Number(r.fps.toFixed(3))} fps -> ${flags.out} (${r.width}x${r.height}; ${model.precision}, ${model.engine})\n`);
        });
        return;
      }
      const files = expandImages(images);
      await withModel(flags, async (model, pre) => {
        if (!model.hasAttention || model.patchSize === null) throw new Error('the model has no attention output (export a ViT)');
        const patch = model.patchSize;
        for (const file of files) {
          const p = await prepareOrSkip(file, pre);
          if (!p) continue;
          const out = await model.extractor.run({ input: stack([p]) }, ['attention']);
          const att = out['attention']!;
          const maps = clsMaps({ data: att.data, dims: att.dims.slice(1) }, Math.floor(p.height / patch), Math.floor(p.width / patch));
          const dir = join(flags.out, basename(file, extname(file)));
          await mkdir(dir, { recursive: true });
          await writeFile(join(dir, 'img.png'), await rgbToPng(toRgb(p.image), p.height, p.width));
          for (const t of attentionImages(p.image, maps, patch, flags.threshold)) {
            await writeFile(join(dir, `attn-${t.tag}.png`), await rgbToPng(t.heat, p.height, p.width));
            await writeFile(join(dir, `mask_th${flags.threshold}_${t.tag}.png`), await rgbToPng(t.mask, p.height, p.width));
          }
          process.stderr.write(`${file}: ${maps.heads} heads -> ${dir} (${model.precision}, ${model.engine})\n`);
        }
      });
    });

  addPrecisionOption(addPreprocessOptions(addModelOptions(program.command('serve').description('HTTP server: embeddings, attention, vector index, k-NN, web page'), true)))
    .option('--host <host>', 'address to bind (loopback by default)', '127.0.0.1')
    .option('--port <n>', 'port', int('--port'), 8080)
    .addOption(new Option('--token <token>', 'require Authorization: Bearer <token> on /v1/* and /metrics').env('SSL_INFER_TOKEN'))
    .option('--index-dir <dir>', 'persistent vector index directory', 'ssl-index')
    .option('--workers <n>', 'ONNX Runtime worker threads (bf16 on the native backend: one, on the main thread)', int('--workers'), 1)
    .option('--threads <n>', 'intra-op threads per worker (bf16: the native backend\'s threads)', int('--threads'))
    .option('--max-batch <n>', 'dynamic batching: most images per run', int('--max-batch'), 16)
    .option('--max-wait-ms <n>', 'dynamic batching: longest wait for a fuller batch', int('--max-wait-ms'), 5)
    .option('--max-queue <n>', 'images waiting before 429', int('--max-queue'), 64)
    .option('--body-limit <bytes>', 'largest request body (413)', int('--body-limit'), 32 * 1024 * 1024)
    .option('--file-limit <bytes>', 'largest uploaded file (413)', int('--file-limit'), 16 * 1024 * 1024)
    .option('--max-pixels <n>', 'largest image in pixels (422)', int('--max-pixels'), 40_000_000)
    .option('--timeout-ms <n>', 'request deadline (503)', int('--timeout-ms'), 30_000)
    .option('--multiscale', 'embed at scales 1, 1/sqrt(2), 1/2 (mean, L2-normalised) for the index, search and k-NN (DINO retrieval --multiscale); 3x the work')
    .option('--no-index-images', 'keep no picture of indexed images (by default the model-input crop and a thumbnail, for the web page)')
    .option('--log', 'log requests (JSON)')
    .action(async (flags: ModelFlags & PreFlags & PrecisionFlags & Record<string, unknown>) => {
      const { model, pre } = await openModel(flags, {
        workers: flags['workers'] as number,
        ...(flags['threads'] !== undefined ? { threads: flags['threads'] as number } : {}),
      });
      const server = await startServer({
        model,
        host: flags['host'] as string,
        port: flags['port'] as number,
        ...(flags['token'] ? { token: flags['token'] as string } : {}),
        indexDir: flags['indexDir'] as string,
        batch: { maxBatch: flags['maxBatch'] as number, maxWaitMs: flags['maxWaitMs'] as number, maxQueue: flags['maxQueue'] as number },
        preprocess: { resize: pre.resize, crop: pre.crop, mean: pre.mean, std: pre.std, channels: pre.channels, maxPixels: flags['maxPixels'] as number },
        bodyLimit: flags['bodyLimit'] as number,
        fileLimit: flags['fileLimit'] as number,
        requestTimeoutMs: flags['timeoutMs'] as number,
        logger: Boolean(flags['log']),
        multiscale: Boolean(flags['multiscale']),
        indexImages: flags['indexImages'] !== false,
      });
      process.stderr.write(`ssl-infer: serving on ${server.url} (${model.precision} on ${model.engine}; index ${flags['indexDir']}: ${server.index.size} entries; web page at ${server.url}/)\n`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          process.stderr.write(`ssl-infer: ${sig}, finishing in-flight requests\n`);
          void server.close().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });

  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  await buildCli().parseAsync(argv);
}
