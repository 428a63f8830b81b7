import { statSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '@ssl/models';
import { tf, type Tensor } from '@ssl/tensor';
import { exportStateDict, type ExportOptions, type ExportResult } from './export.js';
import type { StateDict } from './state.js';

/** Copies tfjs tensors (PyTorch layout, e.g. from `Module.stateDict()` or `readSafetensors`) into a StateDict. Integer buffers are skipped. */
export function stateDictFromTensors(tensors: Record<string, Tensor>): StateDict {
  const sd: StateDict = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32') continue; // e.g. BatchNorm num_batches_tracked
    sd[name] = { data: t.dataSync() as Float32Array, shape: [...t.shape] };
  }
  return sd;
}

/**
 * Reads the weights of a `.safetensors` file, or of a checkpoint directory
 * (`DIR/checkpoint.safetensors`, as written by our trainer).
 */
export async function loadStateDict(path: string): Promise<StateDict> {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, 'checkpoint.safetensors');
  } catch {
    throw new Error(`weights: no such file or directory: ${path}`);
  }
  const tensors = await readSafetensors(file);
  try {
    return stateDictFromTensors(tensors);
  } finally {
    tf.dispose(Object.values(tensors));
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

/** Reads weights (file or checkpoint directory) and exports the backbone found in them. */
export async function exportWeights(path: string, options: ExportOptions = {}): Promise<ExportResult> {
  return exportStateDict(await loadStateDict(path), options);
}
