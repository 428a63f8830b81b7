/** One tensor of a state dict in PyTorch layout (conv weights OIHW, linear weights [out, in]). */
export interface TensorData {
  data: Float32Array;
  shape: number[];
}

/** A state dict keyed by the official PyTorch parameter names. */
export type StateDict = Record<string, TensorData>;

/** Fetches a tensor, checking its rank (and the sizes that are given). */
export function take(sd: StateDict, name: string, shape?: (number | null)[]): TensorData {
  const t = sd[name];
  if (!t) throw new Error(`state dict: missing "${name}"`);
  if (shape) {
    const ok = t.shape.length === shape.length && shape.every((s, i) => s === null || s === t.shape[i]);
    if (!ok) {
      const want = shape.map((s) => (s === null ? '?' : String(s))).join(', ');
      throw new Error(`state dict: "${name}" has shape [${t.shape.join(', ')}], expected [${want}]`);
    }
  }
  return t;
}
