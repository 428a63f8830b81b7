// fp16 autocast on webgpu, the hook @ssl/tensor's `autocast('fp16', fn)` looks for on the active
// backend: inside the scope our BatchMatMul and _FusedMatMul read their operands rounded to
// binary16 and accumulate in float32, and SslAttention rounds the operands of its two products;
// every tensor, the softmax, normalisations and the optimizer stay float32 (the design of the
// native backend's bf16). Storage stays float32: tfjs's runner declares every buffer f32.
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { AdapterReport } from './dawn.js';

export type WebGPUPrecision = 'fp16' | 'fp32';

interface AutocastHooks {
  autocastSupport(): { bf16: boolean; reason: string };
  fp16Support(): { fp16: boolean; reason: string };
  currentAutocast(): WebGPUPrecision;
  setAutocast(precision: string): WebGPUPrecision;
}

/** Adds the autocast hooks to a webgpu backend instance (its precision starts as float32). */
export function addAutocast<B extends WebGPUBackend>(backend: B, adapter: AdapterReport): B & AutocastHooks {
  let current: WebGPUPrecision = 'fp32';
  const hooks: AutocastHooks = {
    autocastSupport: () => ({ bf16: false, reason: "the 'webgpu' backend runs fp16 autocast, not bf16 (ask for fp16)" }),
    fp16Support: () => ({
      fp16: true,
      reason: `webgpu: matmul operands rounded to binary16, float32 accumulation and storage (adapter ${adapter.shaderF16 ? 'has' : 'lacks'} shader-f16)`,
    }),
    currentAutocast: () => current,
    setAutocast: (precision) => {
      if (precision !== 'fp16' && precision !== 'fp32') throw new Error(`webgpu autocast precision must be 'fp16' or 'fp32', got '${precision}'`);
      const previous = current;
      current = precision;
      return previous;
    },
  };
  return Object.assign(backend, hooks);
}

/** Whether `backend` is inside an fp16 autocast scope now. */
export function autocastHalf(backend: WebGPUBackend): boolean {
  return (backend as WebGPUBackend & Partial<AutocastHooks>).currentAutocast?.() === 'fp16';
}
