import { readWeights, type LoadWeightsOptions, type WeightsLayout } from '@ssl/models';
import { tf, type Tensor } from '@ssl/tensor';
import { exportStateDict, type ExportOptions, type ExportResult } from './export.js';
import type { StateDict } from './state.js';

/** Copies tfjs tensors (PyTorch layout, e.g. from `Module.stateDict()` or `loadWeights`) into a StateDict. Integer buffers are skipped. */
export function stateDictFromTensors(tensors: Record<string, Tensor>): StateDict {
  const sd: StateDict = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32') continue; // e.g. BatchNorm num_batches_tracked
    sd[name] = { data: t.dataSync() as Float32Array, shape: [...t.shape] };
  }
  return sd;
}

/** A backbone state dict read by @ssl/models' `readWeights`, with what the file said about it. */
export interface LoadedStateDict {
  state: StateDict;
  source: string;
  layout: WeightsLayout;
  key: string | null;
  notes: string[];
  recorded?: ExportOptions['recorded'];
}

/**
 * Reads the backbone weights of a `.safetensors` or `torch.save` `.pth` file, or of a checkpoint
 * directory (`DIR/checkpoint.safetensors`, as written by our trainer), in any layout @ssl/models
 * knows (bare, main_dino.py, PAWS, Hugging Face): `key` picks the section (`teacher` by default).
 */
export async function loadStateDict(pathOrBytes: string | Uint8Array, options: LoadWeightsOptions = {}): Promise<LoadedStateDict> {
  const w = await readWeights(pathOrBytes, options);
  try {
    const out: LoadedStateDict = { state: stateDictFromTensors(w.stateDict), source: w.source, layout: w.layout, key: w.key, notes: w.notes };
    // A spec recorded in full (our checkpoints) gives the ViT heads and eps.
    const recorded = w.spec?.arch === 'vit' ? w.spec.options : w.recorded;
    if (recorded) out.recorded = recorded;
    return out;
  } finally {
    tf.dispose(Object.values(w.stateDict));
  }
}

/** Exports a live model (anything with PyTorch-layout `stateDict()`, e.g. our VisionTransformer). */
export function exportModule(model: { stateDict(): Record<string, Tensor> }, options: ExportOptions = {}): ExportResult {
  const tensors = model.stateDict();
  try {
    return exportStateDict(stateDictFromTensors(tensors), options);
  } finally {
    tf.dispose(Object.values(tensors)); // stateDict() returns new tensors owned by the caller
  }
}

/** Reads weights (any file or checkpoint directory `loadStateDict` reads) and exports the backbone. */
export async function exportWeights(pathOrBytes: string | Uint8Array, options: ExportOptions & LoadWeightsOptions = {}): Promise<ExportResult & { weights: LoadedStateDict }> {
  const { key, format, name, ...exportOptions } = options;
  const weights = await loadStateDict(pathOrBytes, { ...(key !== undefined ? { key } : {}), ...(format ? { format } : {}), ...(name ? { name } : {}) });
  const recorded = { ...weights.recorded, ...exportOptions.recorded };
  const res = exportStateDict(weights.state, { ...exportOptions, ...(Object.keys(recorded).length ? { recorded } : {}) });
  return { ...res, weights };
}
