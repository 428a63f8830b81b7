// Dawn (Google's WebGPU implementation) for Node, from the npm `webgpu` package: its prebuilt
// `dawn.node` talks to Vulkan on Linux. tfjs's webgpu backend expects the browser globals
// (`navigator.gpu`, `GPUBufferUsage`, ...), which are installed here once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** What the chosen adapter is, as WebGPU reports it. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software or otherwise reduced adapter (Dawn marks CPU Vulkan, e.g. lavapipe, so). */
  isFallbackAdapter: boolean;
  /** Whether `shader-f16` is available (half-precision storage and arithmetic in WGSL). */
  shaderF16: boolean;
  maxStorageBufferBindingSize: number;
}

export interface AdapterStatus {
  /** An adapter exists (possibly only a fallback one). */
  available: boolean;
  /** One line: the adapter, or why there is none. */
  reason: string;
  adapter?: AdapterReport;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * Whether the Vulkan loader Dawn opens on Linux exists: without it Dawn finds no adapter anyway
 * (and prints a warning), so it is not even loaded. Other systems: assumed present.
 */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    '/lib64',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

let gpu: GPU | undefined;
let adapterPromise: Promise<GPUAdapter | null> | undefined;

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? 'unknown error';
}

/**
 * Loads Dawn and installs `navigator.gpu` and the WebGPU constants as globals. Idempotent.
 * Throws with the reason when the addon does not load (e.g. glibc older than 2.34).
 */
export async function installDawn(): Promise<GPU> {
  if (gpu) return gpu;
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    throw new Error(`the webgpu package (Dawn) does not load: ${firstLine(err)}`);
  }
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (g[name] === undefined) g[name] = value;
  }
  gpu = dawn.create([]);
  const nav = (g.navigator ?? {}) as { gpu?: GPU };
  if (!g.navigator) g.navigator = nav;
  if (!nav.gpu) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  return gpu;
}

/** The adapter tfjs will use: the high-performance one Dawn offers (asked once per process). */
export async function requestAdapter(): Promise<GPUAdapter | null> {
  const g = await installDawn();
  adapterPromise ??= g.requestAdapter({ powerPreference: 'high-performance' });
  return adapterPromise;
}

export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  // `info` is a live object with getters, so its fields are read one by one.
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacy.isFallbackAdapter),
    shaderF16: adapter.features.has('shader-f16'),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

export function formatAdapter(a: AdapterReport): string {
  const name = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unnamed adapter';
  return `${name}${a.isFallbackAdapter ? ' (fallback adapter: software or reduced)' : ''}${a.shaderF16 ? ', shader-f16' : ''}`;
}

/** Whether a WebGPU adapter exists here, which one, and why not. Never throws. */
export async function webgpuAdapterStatus(): Promise<AdapterStatus> {
  if (!vulkanLoaderPresent()) {
    return { available: false, reason: 'no Vulkan loader (libvulkan.so.1): install libvulkan1 and a Vulkan driver' };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await requestAdapter();
  } catch (err) {
    return { available: false, reason: firstLine(err) };
  }
  if (!adapter) {
    return {
      available: false,
      reason:
        'Dawn found no WebGPU adapter (no Vulkan driver: install the GPU vendor\'s Vulkan driver, or Mesa >= 24 lavapipe for CPU Vulkan, e.g. mesa-vulkan-drivers from bookworm-backports)',
    };
  }
  const report = describeAdapter(adapter);
  return { available: true, reason: formatAdapter(report), adapter: report };
}
