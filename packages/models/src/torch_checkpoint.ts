/**
 * `torch.save` files read in TypeScript, without Python and without running anything in them.
 *
 * Format (PyTorch >= 1.6, `torch/serialization.py`): a ZIP archive `<name>/data.pkl` (the pickled
 * object), `<name>/data/<key>` (one raw little-endian storage per key), `<name>/byteorder`, ...
 * Tensors in the pickle are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
 * where the storage is a persistent id `('storage', torch.FloatStorage, key, location, numel)`.
 * The pickle is read by our inert unpickler (`pickle.ts`): classes such as `argparse.Namespace`
 * come back as records with their fields, and nothing named in the file is imported or called.
 */
import { readFile } from 'node:fs/promises';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { bf16ToF32, f16ToF32, int64ToInt32 } from './dtypes.js';
import { isPickleDict, PickleError, PickleGlobal, PickleObject, unpickle } from './pickle.js';
import type { PickleCallables } from './pickle.js';
import { isZip, ZipArchive, ZipError } from './zip.js';

export type TorchDtype = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Storage classes as `torch.save` names them, with their element type. */
const STORAGE_DTYPES: Record<string, TorchDtype> = {
  DoubleStorage: 'float64', FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};

const ITEM_BYTES: Record<TorchDtype, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** Largest tensor accepted (elements): tfjs indexes with int32. */
const MAX_ELEMENTS = 2 ** 31 - 1;

export class TorchCheckpointError extends Error {
  override name = 'TorchCheckpointError';
}

/** One storage of the archive, read from the zip on first use. */
export class TorchStorage {
  private bytesCache: Uint8Array | undefined;

  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly numel: number,
    private readonly load: () => Uint8Array,
  ) {}

  /** The storage bytes, in an aligned buffer of their own. */
  bytes(): Uint8Array {
    if (!this.bytesCache) {
      const raw = this.load();
      const need = this.numel * ITEM_BYTES[this.dtype];
      if (raw.length < need) throw new TorchCheckpointError(`storage '${this.key}' holds ${raw.length} bytes, ${this.numel} ${this.dtype} elements need ${need}`);
      this.bytesCache = raw.slice(0, need);
    }
    return this.bytesCache;
  }
}

/** A tensor of a checkpoint: a view (offset, shape, strides) of a storage, read on demand. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {}

  get dtype(): TorchDtype {
    return this.storage.dtype;
  }

  get size(): number {
    return this.shape.reduce((a, d) => a * d, 1);
  }

  /** Elements in row-major order: float32 for floating types, int32 for integers, uint8 (0/1) for bool. */
  data(): Float32Array | Int32Array | Uint8Array {
    const { buffer, byteOffset, byteLength } = this.storage.bytes();
    const raw = new Uint8Array(buffer, byteOffset, byteLength);
    const what = `tensor (storage '${this.storage.key}')`;
    let all: Float32Array | Int32Array | Uint8Array;
    switch (this.dtype) {
      case 'float32':
        all = new Float32Array(buffer, byteOffset, byteLength / 4);
        break;
      case 'float64':
        all = Float32Array.from(new Float64Array(buffer, byteOffset, byteLength / 8));
        break;
      case 'float16':
        all = f16ToF32(new Uint16Array(buffer, byteOffset, byteLength / 2));
        break;
      case 'bfloat16':
        all = bf16ToF32(new Uint16Array(buffer, byteOffset, byteLength / 2));
        break;
      case 'int64':
        all = int64ToInt32(new BigInt64Array(buffer, byteOffset, byteLength / 8), what);
        break;
      case 'int32':
        all = new Int32Array(buffer, byteOffset, byteLength / 4);
        break;
      case 'int16':
        all = Int32Array.from(new Int16Array(buffer, byteOffset, byteLength / 2));
        break;
      case 'int8':
        all = Int32Array.from(new Int8Array(buffer, byteOffset, byteLength));
        break;
      case 'uint8':
        all = Int32Array.from(raw);
        break;
      case 'bool':
        all = raw;
        break;
    }
    return gather(all, this.storageOffset, this.shape, this.stride);
  }

  /** A new tf.Tensor (float32, int32 or bool) holding this tensor's values; the caller disposes it. */
  toTensor(): Tensor {
    const d = this.data();
    const dtype = d instanceof Float32Array ? 'float32' : d instanceof Int32Array ? 'int32' : 'bool';
    return tf.tensor(d, [...this.shape], dtype);
  }

  toJSON(): string {
    return `<tensor ${this.dtype} [${this.shape.join(', ')}]>`;
  }
}

/** The elements of a strided view, copied in row-major order (a contiguous view is one slice). */
function gather<T extends Float32Array | Int32Array | Uint8Array>(src: T, offset: number, shape: readonly number[], stride: readonly number[]): T {
  const n = shape.reduce((a, d) => a * d, 1);
  const Ctor = src.constructor as new (n: number) => T;
  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; i--) {
    if ((shape[i] as number) !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i] as number;
  }
  if (contiguous) {
    const out = new Ctor(n);
    out.set(src.subarray(offset, offset + n) as never);
    return out;
  }
  const out = new Ctor(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let at = offset;
  for (let i = 0; i < n; i++) {
    out[i] = src[at] as number;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      at += stride[d] as number;
      if ((idx[d] as number) < (shape[d] as number)) break;
      at -= (stride[d] as number) * (shape[d] as number);
      idx[d] = 0;
    }
  }
  return out;
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new Error(`${what} must be a tuple of non-negative integers, got ${JSON.stringify(v)?.slice(0, 80)}`);
  }
  return v as number[];
}

function rebuildTensor(args: readonly unknown[]): TorchTensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof TorchStorage)) throw new Error('expected a storage as the first argument');
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new Error(`storage offset ${String(offset)} is not a non-negative integer`);
  const shape = intList(size, 'size');
  const strides = intList(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`size [${shape}] and stride [${strides}] differ in length`);
  const numel = shape.reduce((a, d) => a * d, 1);
  if (numel > MAX_ELEMENTS) throw new Error(`tensor of shape [${shape}] has more than ${MAX_ELEMENTS} elements`);
  if (numel > 0) {
    const last = shape.reduce((a, d, i) => a + (d - 1) * (strides[i] as number), offset);
    if (last >= storage.numel) {
      throw new Error(`tensor [${shape}] (offset ${offset}, stride [${strides}]) reaches element ${last} of storage '${storage.key}' with ${storage.numel}`);
    }
  }
  return new TorchTensor(storage, offset, Object.freeze([...shape]), Object.freeze([...strides]), requiresGrad === true);
}

/** Pure interpretations of torch's tensor rebuilders (exported for tests). */
export const TORCH_CALLABLES: PickleCallables = {
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_tensor': rebuildTensor,
  // nn.Parameter(data, requires_grad, backward_hooks[, state]): the data is what matters.
  'torch._utils._rebuild_parameter': (args) => {
    if (!(args[0] instanceof TorchTensor)) throw new Error('expected a tensor');
    return args[0];
  },
  'torch._utils._rebuild_parameter_with_state': (args) => {
    if (!(args[0] instanceof TorchTensor)) throw new Error('expected a tensor');
    return args[0];
  },
  // Tensor subclasses: (rebuild function, subclass, its arguments, state); the subclass is dropped.
  'torch._tensor._rebuild_from_type_v2': (args) => {
    const [fn, , inner] = args;
    if (!(fn instanceof PickleGlobal) || !Array.isArray(inner)) throw new Error('expected (function, type, args, state)');
    const impl = TORCH_CALLABLES[fn.qualifiedName];
    if (!impl || fn.qualifiedName === 'torch._tensor._rebuild_from_type_v2') return new PickleObject(fn.qualifiedName, inner);
    return impl(inner);
  },
};

export interface TorchCheckpoint {
  /** The saved object as data: dicts, lists, numbers, strings, `TorchTensor`s, `PickleObject` records. */
  tree: unknown;
  /** Every tensor in `tree` by its dotted path (`teacher.backbone.cls_token`, `optimizer.state.0.exp_avg`). */
  tensors: Record<string, TorchTensor>;
  /** The archive's folder name inside the zip (`archive`, or the file's stem for older PyTorch). */
  archiveName: string;
}

/** Where the bytes came from, for messages. */
function labelOf(pathOrBytes: string | Uint8Array, name?: string): string {
  return typeof pathOrBytes === 'string' ? pathOrBytes : (name ?? `<${pathOrBytes.length} bytes>`);
}

/** The legacy (PyTorch < 1.6) format starts with a pickled magic number instead of a zip header. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/**
 * Parse `torch.save` bytes (a state dict, a training checkpoint, anything of dicts, lists, numbers,
 * strings and tensors). Tensor data stays in `bytes` until a tensor is read.
 */
export function parseTorchCheckpoint(bytes: Uint8Array, name = `<${bytes.length} bytes>`): TorchCheckpoint {
  if (!isZip(bytes)) {
    if (LEGACY_MAGIC.every((b, i) => bytes[i] === b)) {
      throw new TorchCheckpointError(
        `${name}: written by torch.save before PyTorch 1.6 (legacy format); re-save it in Python with torch.save(torch.load(f), g), which writes the zip format`,
      );
    }
    throw new TorchCheckpointError(`${name}: not a PyTorch checkpoint (expected the zip format of torch.save, PyTorch >= 1.6)`);
  }
  try {
    const zip = new ZipArchive(bytes, name);
    const pkl = [...zip.entries.keys()].find((k) => /^[^/]+\/data\.pkl$/.test(k));
    if (!pkl) throw new TorchCheckpointError(`${name}: a zip archive without <name>/data.pkl: not written by torch.save`);
    const archiveName = pkl.slice(0, pkl.indexOf('/'));
    const order = zip.entries.get(`${archiveName}/byteorder`);
    if (order && new TextDecoder().decode(zip.read(order.name)).trim() !== 'little') {
      throw new TorchCheckpointError(`${name}: tensors were saved big-endian; only little-endian checkpoints are supported`);
    }
    const storages = new Map<string, TorchStorage>();
    const persistentLoad = (pid: unknown): TorchStorage => {
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new Error(`unknown persistent id ${JSON.stringify(pid)?.slice(0, 80)}`);
      const [, type, key, , numel] = pid as unknown[];
      if (!(type instanceof PickleGlobal) || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
        throw new Error(`malformed storage reference ${JSON.stringify(pid)?.slice(0, 80)}`);
      }
      const dtype = type.module === 'torch' ? STORAGE_DTYPES[type.name] : undefined;
      if (!dtype) throw new Error(`storage type ${type.qualifiedName} is not supported (${Object.keys(STORAGE_DTYPES).join(', ')})`);
      const known = storages.get(key);
      if (known) return known;
      const entry = `${archiveName}/data/${key}`;
      if (!zip.entries.has(entry)) throw new Error(`storage '${key}' has no record ${entry} in the archive`);
      const s = new TorchStorage(key, dtype, numel, () => zip.read(entry));
      storages.set(key, s);
      return s;
    };
    const tree = unpickle(zip.read(pkl), { name: `${name}: ${pkl}`, callables: TORCH_CALLABLES, persistentLoad });
    return { tree, tensors: flattenTensors(tree), archiveName };
  } catch (err) {
    if (err instanceof ZipError || err instanceof PickleError) throw new TorchCheckpointError(err.message);
    throw err;
  }
}

/** Read a `.pth`/`.pt` file (or its bytes): see `parseTorchCheckpoint`. */
export async function readTorchCheckpoint(pathOrBytes: string | Uint8Array, options: { name?: string } = {}): Promise<TorchCheckpoint> {
  const name = labelOf(pathOrBytes, options.name);
  let bytes: Uint8Array;
  if (typeof pathOrBytes === 'string') {
    try {
      const buf = await readFile(pathOrBytes);
      bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw new TorchCheckpointError(`${name}: cannot read (${(err as Error).message})`);
    }
  } else if (pathOrBytes instanceof Uint8Array) bytes = pathOrBytes;
  else throw new TypeError('readTorchCheckpoint: expected a file path (string) or the file bytes (Uint8Array)');
  return parseTorchCheckpoint(bytes, name);
}

/**
 * Tensors of a tree by dotted path, each object visited once (a pickle may share or cycle
 * references), walking dicts, lists and the fields and items of records.
 */
export function flattenTensors(tree: unknown, prefix = ''): Record<string, TorchTensor> {
  const out: Record<string, TorchTensor> = {};
  const seen = new Set<object>();
  const work: Array<[string, unknown]> = [[prefix, tree]];
  while (work.length) {
    const [path, v] = work.pop() as [string, unknown];
    if (v instanceof TorchTensor) {
      if (!(path in out)) out[path] = v;
      continue;
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    const join = (k: string | number) => (path ? `${path}.${k}` : String(k));
    const children: Array<[string, unknown]> = [];
    if (Array.isArray(v)) v.forEach((x, i) => children.push([join(i), x]));
    else if (isPickleDict(v)) for (const [k, x] of Object.entries(v)) children.push([join(k), x]);
    else if (v instanceof PickleObject) {
      for (const [k, x] of Object.entries(v.fields)) children.push([join(k), x]);
      for (const [k, x] of Object.entries(v.dictItems ?? {})) children.push([join(k), x]);
      (v.listItems ?? []).forEach((x, i) => children.push([join(i), x]));
    }
    // Reversed onto the stack so paths come out in file order.
    for (let i = children.length - 1; i >= 0; i--) work.push(children[i] as [string, unknown]);
  }
  return out;
}
