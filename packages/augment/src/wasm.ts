import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

// Node has WebAssembly, but this package compiles without the DOM lib: the few members used.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const WA = (
  globalThis as unknown as {
    WebAssembly?: {
      Memory: new (d: { initial: number }) => WasmMemory;
      Module: new (bytes: Uint8Array) => object;
      Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
    };
  }
).WebAssembly;

/** The WebAssembly twins of the resampling loops (wasm/kernels.c); null where unavailable. */
export interface WasmKernels {
  memory: WasmMemory;
  /** First byte free for our buffers. */
  heapBase: number;
  horizontal3(inp: number, inRow: number, rows: number, out: number, outW: number, bounds: number, kk: number, ksize: number): void;
  horizontal1(inp: number, inRow: number, rows: number, out: number, outW: number, bounds: number, kk: number, ksize: number): void;
  vertical(inp: number, rowLen: number, out: number, outH: number, bounds: number, kk: number, ksize: number): void;
  box_blur(data: number, H: number, W: number, C: number, r: number, ww: number, fw: number, passes: number, tmp: number, acc: number): void;
}

let kernels: WasmKernels | null | undefined;
let enabled = process.env.SSL_AUGMENT_WASM !== '0';

/** Turn the WebAssembly kernels on or off (tests run both; results are identical). */
export function setWasmKernels(on: boolean): void {
  enabled = on;
}

export function wasmKernels(): WasmKernels | null {
  if (!enabled) return null;
  if (kernels !== undefined) return kernels;
  try {
    if (!WA) throw new Error('no WebAssembly');
    const memory = new WA.Memory({ initial: 64 });
    const module = new WA.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
    const e = new WA.Instance(module, { env: { memory } }).exports;
    kernels = {
      memory,
      heapBase: (e.__heap_base as { value: number }).value,
      horizontal3: e.horizontal3 as WasmKernels['horizontal3'],
      horizontal1: e.horizontal1 as WasmKernels['horizontal1'],
      vertical: e.vertical as WasmKernels['vertical'],
      box_blur: e.box_blur as WasmKernels['box_blur'],
    };
  } catch {
    kernels = null; // no WebAssembly SIMD here: the TypeScript loops do the same work
  }
  return kernels;
}

/** Grow the kernels' memory to at least `bytes`. */
export function ensureWasmMemory(k: WasmKernels, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
}
