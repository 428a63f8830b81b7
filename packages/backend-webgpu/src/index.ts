export { BACKEND_NAME, registerWebGPUBackend, releaseWebGPUBackend, webgpuDeviceAdapter, webgpuDispatchCount } from './base.js';
export type { CountingBackend } from './base.js';
export { describeAdapter, formatAdapter, installDawn, webgpuAdapterStatus } from './dawn.js';
export type { AdapterReport, AdapterStatus } from './dawn.js';
export { WEBGPU_KERNELS } from './register_all_kernels.js';
