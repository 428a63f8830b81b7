import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// The pure-JS kernels: always registered, so `cpu` is the floor every selection can fall to.
import '@tensorflow/tfjs-backend-cpu';

export type BackendName = 'tensorflow' | 'webgpu' | 'native' | 'wasm' | 'cpu';

/**
 * Best first; `initBackend` takes the first that loads unless one is forced. `webgpu` is taken
 * only on a real GPU adapter: Dawn's fallback adapters (CPU Vulkan) are slower than `native`.
 */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was chosen, why it failed, or why it was not tried. */
  reason: string;
}

export interface BackendInfo {
  name: BackendName;
  reason: string;
  threads: number;
  /** Every backend in `BACKEND_ORDER`, with what happened to it. */
  attempts: BackendAttempt[];
}

export interface InitBackendOptions {
  /** Force one backend; overrides `SSL_BACKEND`. Failing to load a forced backend throws. */
  backend?: BackendName;
  /** Threads for native and wasm kernels; default `SSL_THREADS`, else the number of cores. */
  threads?: number;
  /** Called once with a one-line summary of the choice. */
  log?: (line: string) => void;
  /** Environment to read `SSL_BACKEND`/`SSL_THREADS` from (tests). */
  env?: NodeJS.ProcessEnv;
}

/** The shape `@ssl/backend-native` exposes; kept here so the dependency stays dynamic. */
interface NativeBackendModule {
  nativeBackendStatus(): { available: boolean; reason: string };
  registerNativeBackend(options?: { threads?: number }): void;
}

/** The shape `@ssl/backend-webgpu` exposes (dynamic dependency, as for native). */
interface WebGPUBackendModule {
  webgpuAdapterStatus(): Promise<{ available: boolean; reason: string; adapter?: { isFallbackAdapter: boolean } }>;
  registerWebGPUBackend(): Promise<void>;
}

type Loader = (threads: number, forced: boolean) => Promise<string>;

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? 'unknown error';
}

/** True when `err` says `specifier` itself is absent (not that it failed while loading). */
function isMissing(err: unknown, specifier: string): boolean {
  const msg = firstLine(err);
  return /Cannot find (package|module)/.test(msg) && msg.includes(`'${specifier}'`);
}

/**
 * Imports an optional peer dependency of this package; when it is absent the error says how to add it.
 * Dynamic specifiers keep bundlers from resolving these packages at build time.
 */
async function importOptional<T>(specifier: string, what: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    if (isMissing(err, specifier)) throw new Error(`${specifier} is not installed (\`npm install ${specifier}\` for ${what})`);
    throw new Error(`${specifier} is installed but does not load (${firstLine(err)})`);
  }
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

/**
 * For a package that ships its addon through node-pre-gyp (`binary.module_path` in its package.json,
 * as tfjs-node does), whether that folder holds no `.node` file: then its install script never
 * fetched the addon and importing it can only fail, after 0.5-1.5 s of loading its JavaScript.
 * Undefined when that cannot be told (not installed, no such field): the import decides.
 */
function prebuiltAddonMissing(specifier: string): string | undefined {
  let root: string;
  let modulePath: unknown;
  try {
    const pkg = createRequire(import.meta.url).resolve(`${specifier}/package.json`);
    root = dirname(pkg);
    modulePath = (JSON.parse(readFileSync(pkg, 'utf8')) as { binary?: { module_path?: unknown } }).binary?.module_path;
  } catch {
    return undefined;
  }
  if (typeof modulePath !== 'string') return undefined;
  // './lib/napi-v{napi_build_version}' -> './lib': the templated part is not known before loading.
  const fixed = modulePath.split('{')[0]!.replace(/[^/]*$/, '');
  const hasAddon = (dir: string): boolean => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    return entries.some((e) => (e.isDirectory() ? hasAddon(join(dir, e.name)) : e.name.endsWith('.node')));
  };
  return hasAddon(join(root, fixed)) ? undefined : `no native addon under ${join(specifier, fixed)}`;
}

async function loadTensorflow(): Promise<string> {
  const candidates = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  const failures: string[] = [];
  for (const specifier of candidates) {
    try {
      const missing = prebuiltAddonMissing(specifier);
      if (missing) throw new Error(missing);
      await import(specifier);
      await activate('tensorflow');
      return `${specifier} loaded`;
    } catch (err) {
      failures.push(
        isMissing(err, specifier)
          ? `${specifier} is not installed`
          : `${specifier} is installed but does not load (${firstLine(err)}); its install script downloads libtensorflow, which must succeed`,
      );
    }
  }
  throw new Error(failures.join('; '));
}

async function loadNative(threads: number): Promise<string> {
  const specifier = '@ssl/backend-native';
  const mod = await importOptional<NativeBackendModule>(specifier, 'C++ kernels on OpenBLAS, the fastest CPU backend');
  const status = mod.nativeBackendStatus();
  if (!status.available) throw new Error(status.reason);
  mod.registerNativeBackend({ threads });
  await activate('native');
  return `C++ kernels on OpenBLAS (${status.reason})`;
}

/**
 * Where a GPU driver could be reached, the device node it needs (Linux; other systems: assumed):
 * DRM render nodes (Mesa's radv/anv/nvk, AMD, Intel), NVIDIA's proprietary nodes, WSL's `/dev/dxg`.
 * Without one Dawn can offer only a CPU (fallback) adapter, which is never chosen unless forced,
 * so Dawn is not even loaded: its adapter request costs 0.5-3 s of start-up and prints warnings.
 */
export function gpuDeviceNode(dev = '/dev'): string | undefined {
  if (process.platform !== 'linux') return `${process.platform} (not checked)`;
  let dri: string[] = [];
  try {
    dri = readdirSync(`${dev}/dri`).filter((n) => n.startsWith('renderD'));
  } catch {
    // no /dev/dri: no DRM GPU
  }
  if (dri.length > 0) return `${dev}/dri/${dri[0]}`;
  return [`${dev}/nvidiactl`, `${dev}/dxg`].find((p) => existsSync(p));
}

async function loadWebgpu(_threads: number, forced: boolean): Promise<string> {
  if (!forced && gpuDeviceNode() === undefined) {
    throw new Error('no GPU device (/dev/dri/renderD*, /dev/nvidiactl, /dev/dxg): Dawn could offer only a CPU adapter, slower than native; SSL_BACKEND=webgpu uses it anyway');
  }
  const mod = await importOptional<WebGPUBackendModule>('@ssl/backend-webgpu', 'GPU training through WebGPU (Dawn)');
  const status = await mod.webgpuAdapterStatus();
  if (!status.available) throw new Error(status.reason);
  if (status.adapter?.isFallbackAdapter && !forced) {
    throw new Error(`only a fallback adapter: ${status.reason}; SSL_BACKEND=webgpu uses it anyway`);
  }
  await mod.registerWebGPUBackend();
  await activate('webgpu');
  return `tfjs-backend-webgpu on Dawn, adapter ${status.reason}`;
}

async function loadWasm(threads: number): Promise<string> {
  const wasm = await importOptional<typeof import('@tensorflow/tfjs-backend-wasm')>(
    '@tensorflow/tfjs-backend-wasm',
    'WebAssembly kernels',
  );
  wasm.setThreadsCount(threads);
  await activate('wasm');
  return 'WebAssembly kernels (XNNPACK)';
}

async function loadCpu(): Promise<string> {
  await activate('cpu');
  // tfjs's cpu backend prints "install tfjs-node" on its first tensor; the report already says which
  // backend runs and why the faster ones did not load.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return 'pure JavaScript kernels';
}

const LOADERS: Record<BackendName, Loader> = {
  tensorflow: loadTensorflow,
  webgpu: loadWebgpu,
  native: loadNative,
  wasm: loadWasm,
  cpu: loadCpu,
};

function parseBackend(value: string, source: string): BackendName {
  const name = value.trim().toLowerCase();
  if ((BACKEND_ORDER as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`${source}='${value}' is not a backend; expected one of: ${BACKEND_ORDER.join(', ')}`);
}

/** Threads from an explicit value, `SSL_THREADS`, or the core count, validated. */
export function resolveThreads(threads?: number, env: NodeJS.ProcessEnv = process.env): number {
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new Error(`threads must be a positive integer, got ${threads}`);
    }
    return threads;
  }
  const fromEnv = env.SSL_THREADS;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 1) throw new Error(`SSL_THREADS='${fromEnv}' must be a positive integer`);
    return n;
  }
  return availableParallelism();
}

/**
 * Choose the tensor backend once at start: the forced one (`options.backend`, else `SSL_BACKEND`),
 * or the first of `BACKEND_ORDER` that loads. Never throws unless a forced backend cannot load.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const env = options.env ?? process.env;
  const threads = resolveThreads(options.threads, env);
  const forcedRaw = options.backend ?? env.SSL_BACKEND;
  const forced =
    forcedRaw !== undefined && forcedRaw !== ''
      ? parseBackend(forcedRaw, options.backend !== undefined ? 'backend' : 'SSL_BACKEND')
      : undefined;

  const attempts: BackendAttempt[] = [];
  let chosen: BackendAttempt | undefined;
  for (const name of BACKEND_ORDER) {
    if (chosen) {
      attempts.push({ name, ok: false, reason: `not tried: ${chosen.name} comes first` });
      continue;
    }
    if (forced && name !== forced) {
      attempts.push({ name, ok: false, reason: `not tried: ${forced} was forced` });
      continue;
    }
    try {
      const reason = await LOADERS[name](threads, forced === name);
      chosen = { name, ok: true, reason };
      attempts.push(chosen);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (forced) {
        throw new Error(`backend '${forced}' was forced but cannot load: ${reason}`);
      }
      attempts.push({ name, ok: false, reason });
    }
  }
  if (!chosen) throw new Error('no tensor backend could load, not even cpu');
  // Landing below `native` (the CPU default) is never silent: the one-line reason says why native did not load.
  const native = attempts.find((a) => a.name === 'native');
  const belowNative = BACKEND_ORDER.indexOf(chosen.name) > BACKEND_ORDER.indexOf('native') && native && !native.reason.startsWith('not tried');
  const reason = belowNative ? `${chosen.reason}; native did not load: ${native.reason}` : chosen.reason;
  const info: BackendInfo = {
    name: chosen.name,
    reason: forced ? `forced; ${reason}` : reason,
    threads,
    attempts,
  };
  options.log?.(`backend ${info.name} (${info.reason}), ${threads} thread(s)`);
  return info;
}

/** A human-readable table of the selection: the chosen backend and why each other one was not. */
export function formatBackendReport(info: BackendInfo): string {
  const lines = [`backend: ${info.name} (${info.threads} thread(s))`];
  for (const a of info.attempts) {
    lines.push(`  ${a.name === info.name ? '*' : ' '} ${a.name.padEnd(10)} ${a.ok ? 'chosen: ' : ''}${a.reason}`);
  }
  return lines.join('\n');
}
