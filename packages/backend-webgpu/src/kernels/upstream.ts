// tfjs-backend-webgpu's own kernels, kept when ours replace them, so an override can hand the
// cases it does not change back to the original.
import { getKernel } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

const originals = new Map<string, KernelFunc>();

/** Remembers tfjs's kernel `name` before it is replaced (once; later calls keep the first). */
export function keepUpstream(name: string): void {
  if (originals.has(name)) return;
  const k = getKernel(name, 'webgpu');
  if (!k) throw new Error(`tfjs-backend-webgpu registers no kernel '${name}'`);
  originals.set(name, k.kernelFunc);
}

export function upstreamKernel(name: string): KernelFunc {
  const f = originals.get(name) ?? getKernel(name, 'webgpu')?.kernelFunc;
  if (!f) throw new Error(`tfjs-backend-webgpu registers no kernel '${name}'`);
  return f;
}

/** A metadata-only reshape (tfjs's Reshape kernel): same buffer, new shape, its own handle. */
export function reshapeInfo(backend: WebGPUBackend, x: TensorInfo, shape: number[]): TensorInfo {
  return upstreamKernel('Reshape')({ inputs: { x }, backend, attrs: { shape } }) as TensorInfo;
}

/** Runs another tfjs kernel on this backend (e.g. Add for a bias). */
export function callKernel(name: string, backend: WebGPUBackend, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}): TensorInfo {
  return upstreamKernel(name)({ inputs, backend, attrs: attrs as never }) as TensorInfo;
}
