import { readFile } from 'node:fs/promises';
import { OnnxFeatureExtractor, readModelMetadata, type FeatureExtractorOptions, type FloatTensor } from '@ssl/onnx';
import type { ResolvedPreprocess } from './preprocess.js';

/** An exported model loaded into an ORT worker pool, with what the app needs to know about it. */
export interface LoadedModel {
  extractor: OnnxFeatureExtractor;
  /** Output holding the embedding: `cls` (ViT) or `features` (ResNet). */
  embeddingOutput: string;
  embeddingDim: number;
  hasAttention: boolean;
  /** ViT patch size (attention grid = crop / patch). */
  patchSize: number | null;
  inChans: number;
  metadata: Record<string, string>;
}

export interface LoadModelOptions {
  workers?: number;
  intraOpThreads?: number;
}

/** Loads an .onnx file (or bytes) and runs one warm-up image at the crop size to learn the embedding size. */
export async function loadModel(model: string | Uint8Array, pre: ResolvedPreprocess, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const bytes = typeof model === 'string' ? new Uint8Array(await readFile(model)) : model;
  let metadata: Record<string, string>;
  try {
    metadata = readModelMetadata(bytes);
  } catch (err) {
    throw new Error(`${typeof model === 'string' ? model : 'model bytes'}: not an ONNX model (${(err as Error).message})`);
  }
  const fxOpts: FeatureExtractorOptions = { model: bytes };
  if (options.workers !== undefined) fxOpts.workers = options.workers;
  if (options.intraOpThreads !== undefined) fxOpts.intraOpThreads = options.intraOpThreads;
  const extractor = await OnnxFeatureExtractor.create(fxOpts);
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
    };
  } catch (err) {
    await extractor.close();
    throw err;
  }
}
