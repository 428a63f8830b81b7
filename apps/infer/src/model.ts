import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadBackbone, type ModelSpec } from '@ssl/models';
import { OnnxFeatureExtractor, readModelMetadata, type FeatureExtractorOptions, type FloatTensor } from '@ssl/onnx';
import type { Precision } from '@ssl/tensor';
import { NativeExtractor, type EngineChoice, type EngineName, type Extractor } from './native-engine.js';
import type { ResolvedPreprocess } from './preprocess.js';

/** A model ready to run (ORT workers or the native backend), with what the app needs to know about it. */
export interface LoadedModel {
  extractor: Extractor;
  /** Output holding the embedding: `cls` (ViT) or `features` (ResNet). */
  embeddingOutput: string;
  embeddingDim: number;
  hasAttention: boolean;
  /** ViT patch size (attention grid = crop / patch). */
  patchSize: number | null;
  inChans: number;
  metadata: Record<string, string>;
  /** What runs it: ONNX Runtime (float32) or the native backend (under autocast). */
  engine: EngineName;
  /** The precision its matmuls and convolutions run in. */
  precision: Precision;
  /** Why this engine and precision (e.g. why bf16 fell back to float32). */
  precisionReason: string;
}

export interface LoadModelOptions {
  workers?: number;
  intraOpThreads?: number;
}

function metadataOf(bytes: Uint8Array, what: string): Record<string, string> {
  try {
    return readModelMetadata(bytes);
  } catch (err) {
    throw new Error(`${what}: not an ONNX model (${(err as Error).message})`);
  }
}

/** Loads an .onnx file (or bytes) into ONNX Runtime workers (float32). */
export async function loadModel(model: string | Uint8Array, pre: ResolvedPreprocess, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const bytes = typeof model === 'string' ? new Uint8Array(await readFile(model)) : model;
  const metadata = metadataOf(bytes, typeof model === 'string' ? model : 'model bytes');
  const fxOpts: FeatureExtractorOptions = { model: bytes };
  if (options.workers !== undefined) fxOpts.workers = options.workers;
  if (options.intraOpThreads !== undefined) fxOpts.intraOpThreads = options.intraOpThreads;
  const extractor = await OnnxFeatureExtractor.create(fxOpts);
  return describeLoaded(extractor, metadata, pre, { engine: 'onnxruntime', precision: 'fp32', reason: 'float32 requested' });
}

/**
 * The backbone of `weights` (any file or checkpoint directory @ssl/models reads) built from `spec`
 * (the one its ONNX export used) on the active tfjs backend, run under `choice.precision`.
 * `onnxBytes` is that export: its metadata (input size, channels, run facts) is the ORT path's.
 */
export async function loadNativeModel(
  weights: string,
  options: { key?: string; spec: ModelSpec; onnxBytes: Uint8Array; choice: EngineChoice },
  pre: ResolvedPreprocess,
): Promise<LoadedModel> {
  const metadata = metadataOf(options.onnxBytes, weights);
  const loaded = await loadBackbone(weights, { spec: options.spec, ...(options.key !== undefined ? { key: options.key } : {}) });
  return describeLoaded(new NativeExtractor(loaded.model, options.choice.precision), metadata, pre, options.choice);
}

/** Runs one warm-up image at the crop size to learn the embedding size; closes the extractor on failure. */
async function describeLoaded(extractor: Extractor, metadata: Record<string, string>, pre: ResolvedPreprocess, choice: EngineChoice): Promise<LoadedModel> {
  try {
    const embeddingOutput = ['cls', 'features'].find((n) => extractor.outputNames.includes(n));
    if (!embeddingOutput) throw new Error(`model has no "cls" or "features" output (outputs: ${extractor.outputNames.join(', ')})`);
    const inChans = Number(metadata['ssl.in_chans'] ?? pre.channels);
    if (inChans !== pre.channels) {
      throw new Error(`model takes ${inChans}-channel images but preprocessing gives ${pre.channels}; set --in-chans / mean / std to match`);
    }
    const warm: FloatTensor = { data: new Float32Array(inChans * pre.crop * pre.crop), dims: [1, inChans, pre.crop, pre.crop] };
    const out = await extractor.run({ input: warm }, [embeddingOutput]);
    const emb = out[embeddingOutput] as FloatTensor;
    const patch = metadata['ssl.patch_size'];
    return {
      extractor,
      embeddingOutput,
      embeddingDim: emb.dims[1] as number,
      hasAttention: extractor.outputNames.includes('attention'),
      patchSize: patch ? Number(patch) : null,
      inChans,
      metadata,
      engine: choice.engine,
      precision: choice.precision,
      precisionReason: choice.reason,
    };
  } catch (err) {
    await extractor.close();
    throw err;
  }
}

/** What the served model is, read from its ONNX metadata (`ssl.*` keys written at export). */
export interface ModelDescription {
  /** e.g. `{ family: 'vit', embedDim: 192, depth: 12, numHeads: 3, patchSize: 16, imgSize: 224, inChans: 3 }`. */
  architecture: Record<string, string | number | boolean | number[]> | null;
  /** Facts of the training run the weights came from (`ssl.run.*`), when the export recorded them. */
  run: Record<string, string> | null;
}

const NUMERIC = new Set(['embed_dim', 'depth', 'num_heads', 'patch_size', 'img_size', 'in_chans', 'num_features', 'widen_factor']);
const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export function describeModel(metadata: Record<string, string>): ModelDescription {
  const architecture: Record<string, string | number | boolean | number[]> = {};
  const run: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (key.startsWith('ssl.run.')) run[camel(key.slice('ssl.run.'.length))] = value;
    else if (key === 'ssl.arch') architecture['family'] = value;
    else if (key === 'ssl.layers') architecture['layers'] = value.split(',').map(Number);
    else if (key === 'ssl.cifar_stem') architecture['cifarStem'] = value === 'true';
    else if (key.startsWith('ssl.')) {
      const k = key.slice('ssl.'.length);
      architecture[camel(k)] = NUMERIC.has(k) ? Number(value) : value;
    }
  }
  return { architecture: Object.keys(architecture).length ? architecture : null, run: Object.keys(run).length ? run : null };
}

/**
 * Facts of the training run behind a checkpoint directory, as `ssl.run.*` ONNX metadata for the
 * export to carry (the server shows them): from its state.json (method, epoch, step, save time)
 * and the run's config.json above it (dataset, planned epochs). Missing files give fewer facts.
 */
export function checkpointRunMetadata(dir: string): Record<string, string> {
  const read = (file: string): Record<string, any> | undefined => {
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
    } catch {
      return undefined; // facts are optional; a broken file must not stop an export
    }
  };
  const state = read(join(dir, 'state.json'));
  const config = read(join(dirname(dir), 'config.json'));
  const facts: Record<string, unknown> = {
    method: state?.['kind'] ?? config?.['method'],
    epoch: state?.['epoch'],
    step: state?.['step'],
    saved_at: state?.['savedAt'],
    dataset: config?.['data']?.['dataset'],
    epochs: config?.['optimization']?.['epochs'],
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(facts)) if (typeof v === 'string' || typeof v === 'number') out[`ssl.run.${k}`] = String(v);
  return out;
}
