// Which WebGPU adapter Dawn finds here (a GPU, CPU Vulkan, or none and why); never throws.
import { webgpuAdapterStatus } from '@ssl/backend-webgpu';

const status = await webgpuAdapterStatus();
console.log(status.available ? `WebGPU adapter: ${status.reason}` : `no WebGPU adapter: ${status.reason}`);
