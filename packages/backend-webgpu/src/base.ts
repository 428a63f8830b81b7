import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { addAutocast } from './autocast.js';
import { describeAdapter, installDawn } from './dawn.js';
import type { AdapterReport } from './dawn.js';
import { keepUpstream } from './kernels/upstream.js';
import { UPSTREAM_KERNELS_USED, WEBGPU_KERNELS } from './register_all_kernels.js';

export const BACKEND_NAME = 'webgpu';

let registered = false;
let lastAdapter: AdapterReport | undefined;

/** The adapter of the device the current (or last) webgpu backend instance runs on. */
export function webgpuDeviceAdapter(): AdapterReport | undefined {
  return lastAdapter;
}

async function createBackend(): Promise<WebGPUBackend> {
  const gpu = await installDawn();
  const { WebGPUBackend: Backend } = await import('@tensorflow/tfjs-backend-webgpu');
  // A fresh adapter per device: an adapter that has given out a device cannot give another.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('Dawn found no WebGPU adapter');
  const limits = adapter.limits;
  const requiredFeatures = (['timestamp-query', 'shader-f16'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  // The limits tfjs's own factory asks for (its big buffers and workgroups need the adapter's maxima).
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  lastAdapter = describeAdapter(adapter);
  return addAutocast(countDispatches(new Backend(device, adapter.info)), lastAdapter);
}

/** A webgpu backend instance that counts its compute dispatches (`dispatchCount`). */
export interface CountingBackend {
  /** Compute dispatches run since this backend (device) was created: one per program run. */
  dispatchCount: number;
}

// Every compute dispatch, tfjs's and ours, goes through runWebGPUProgram (one dispatchWorkgroups each).
function countDispatches(backend: WebGPUBackend): WebGPUBackend {
  const counting = backend as WebGPUBackend & CountingBackend;
  counting.dispatchCount = 0;
  const runProgram = backend.runWebGPUProgram.bind(backend);
  counting.runWebGPUProgram = (...args: Parameters<WebGPUBackend['runWebGPUProgram']>) => {
    counting.dispatchCount++;
    return runProgram(...args);
  };
  return counting;
}

/**
 * Compute dispatches the live webgpu backend has run since its device was created (the property
 * `dispatchCount` of `tf.backend()` while webgpu is active); undefined when none exists. Take the
 * difference around a step to count its kernels.
 */
export function webgpuDispatchCount(): number | undefined {
  const instance = tf.engine().registry[BACKEND_NAME] as (WebGPUBackend & Partial<CountingBackend>) | undefined;
  return instance?.dispatchCount;
}

/**
 * Registers the tfjs backend 'webgpu' on Dawn: tfjs-backend-webgpu's kernels, with ours replacing
 * its wrong split-K matmul and adding the fused Ssl* kernels. Priority 0, so tfjs never picks it
 * implicitly (@ssl/tensor's initBackend chooses it). Idempotent. The device is created when the
 * backend is first used (`tf.setBackend('webgpu')`).
 */
export async function registerWebGPUBackend(): Promise<void> {
  if (registered) return;
  // tfjs registers its backend factory only if navigator.gpu exists when it is imported; ours
  // replaces that factory, but its module code expects the WebGPU globals in any case.
  await installDawn();
  await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory(BACKEND_NAME)) tf.removeBackend(BACKEND_NAME);
  tf.registerBackend(BACKEND_NAME, createBackend, 0);
  for (const name of UPSTREAM_KERNELS_USED) keepUpstream(name);
  for (const k of WEBGPU_KERNELS as KernelConfig[]) {
    if (tf.getKernel(k.kernelName, BACKEND_NAME)) tf.unregisterKernel(k.kernelName, BACKEND_NAME);
    tf.registerKernel(k);
  }
  registered = true;
}

/**
 * Disposes the webgpu backend and destroys its device: Dawn keeps one CPU core busy while a device
 * lives, so tests and short scripts call this at their end. The backend stays registered; using
 * it again creates a new device. A no-op when no device exists.
 */
export async function releaseWebGPUBackend(): Promise<void> {
  if (!registered) return;
  const instance = tf.engine().registry[BACKEND_NAME] as WebGPUBackend | undefined;
  if (!instance) return;
  if (tf.getBackend() === BACKEND_NAME) await tf.setBackend('cpu');
  const device = (instance as unknown as { device: GPUDevice }).device;
  tf.removeBackend(BACKEND_NAME); // disposes the backend's buffers
  device.destroy();
  tf.registerBackend(BACKEND_NAME, createBackend, 0);
}
