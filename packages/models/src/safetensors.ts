/**
 * safetensors read and write (own code, no dependency).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON header (padded with spaces to a multiple
 * of 8), then raw little-endian tensor bytes. Header entries are `{ dtype, shape, data_offsets }` with
 * offsets relative to the start of the data; `__metadata__` is a string-to-string map.
 *
 * Read: F32, F16, BF16, F64 -> float32; I32, I64 (range-checked), I16, I8, U8 -> int32; BOOL -> bool.
 * Write: float32 -> F32; int32 -> I64 by default (PyTorch's integer dtype, as `num_batches_tracked`),
 * or I32 with `{ intDtype: 'I32' }`; bool -> BOOL.
 * Tensors come back in file data order, which is insertion order for files this module writes.
 */
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { bf16ToF32, f16ToF32, int64ToInt32 } from './dtypes.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
  /** The header entries as found in the file (dtype before conversion). */
  header: Record<string, SafetensorsEntry>;
}

export interface SerializeOptions {
  /** How int32 tensors are stored; default 'I64' (what PyTorch uses for integer buffers). */
  intDtype?: 'I64' | 'I32';
}

const BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Largest header accepted, as the reference implementation (100 MB). */
const MAX_HEADER = 100_000_000;

if (endianness() !== 'LE') {
  // Typed-array views below read native byte order; every supported platform is little-endian.
  throw new Error('@ssl/models safetensors: big-endian platforms are not supported');
}

function fail(what: string): never {
  throw new Error(`safetensors: ${what}`);
}

function copyBytes(bytes: Uint8Array, begin: number, end: number): ArrayBuffer {
  // A copy gives the typed arrays below an aligned, independent buffer.
  return bytes.buffer.slice(bytes.byteOffset + begin, bytes.byteOffset + end) as ArrayBuffer;
}

function decode(name: string, e: SafetensorsEntry, bytes: Uint8Array, base: number): Tensor {
  const [b, en] = e.data_offsets;
  const buf = copyBytes(bytes, base + b, base + en);
  const shape = e.shape;
  switch (e.dtype) {
    case 'F32':
      return tf.tensor(new Float32Array(buf), shape, 'float32');
    case 'F64':
      return tf.tensor(Float32Array.from(new Float64Array(buf)), shape, 'float32');
    case 'F16':
      return tf.tensor(f16ToF32(new Uint16Array(buf)), shape, 'float32');
    case 'BF16':
      return tf.tensor(bf16ToF32(new Uint16Array(buf)), shape, 'float32');
    case 'I32':
      return tf.tensor(new Int32Array(buf), shape, 'int32');
    case 'I64': {
      return tf.tensor(int64ToInt32(new BigInt64Array(buf), `safetensors: tensor '${name}' (I64)`), shape, 'int32');
    }
    case 'I16':
      return tf.tensor(Int32Array.from(new Int16Array(buf)), shape, 'int32');
    case 'I8':
      return tf.tensor(Int32Array.from(new Int8Array(buf)), shape, 'int32');
    case 'U8':
      return tf.tensor(Int32Array.from(new Uint8Array(buf)), shape, 'int32');
    case 'BOOL':
      return tf.tensor(Uint8Array.from(new Uint8Array(buf)), shape, 'bool');
  }
}

function parseHeader(bytes: Uint8Array): { header: Record<string, SafetensorsEntry>; metadata: Record<string, string>; base: number } {
  if (!(bytes instanceof Uint8Array)) fail('expected the file contents as a Uint8Array');
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER) || Number(n) > bytes.length - 8) {
    fail(`header length ${n} does not fit in a file of ${bytes.length} bytes`);
  }
  const base = 8 + Number(n);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, base)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('header must be a JSON object');
  const metadata: Record<string, string> = {};
  const header: Record<string, SafetensorsEntry> = {};
  const dataLength = bytes.length - base;
  const spans: Array<[number, number, string]> = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object') fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__['${k}'] must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    const e = value as Partial<SafetensorsEntry>;
    if (!e || typeof e.dtype !== 'string' || !(e.dtype in BYTES)) {
      fail(`tensor '${name}': unsupported dtype ${JSON.stringify(e?.dtype)} (supported: ${Object.keys(BYTES).join(', ')})`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor '${name}': shape must be an array of non-negative integers`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
      fail(`tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end`);
    }
    const expected = e.shape.reduce((a, d) => a * d, 1) * BYTES[e.dtype];
    if (off[1] - off[0] !== expected) {
      fail(`tensor '${name}': ${e.dtype} ${JSON.stringify(e.shape)} needs ${expected} bytes, offsets span ${off[1] - off[0]}`);
    }
    if (off[1] > dataLength) fail(`tensor '${name}': data ends at ${off[1]}, past the ${dataLength} data bytes`);
    header[name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [off[0], off[1]] };
    spans.push([off[0], off[1], name]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1] as [number, number, string];
    const cur = spans[i] as [number, number, string];
    if (cur[0] < prev[1]) fail(`tensors '${prev[2]}' and '${cur[2]}' overlap`);
  }
  // Re-key in data order so the dict comes back in the order it was written.
  const ordered: Record<string, SafetensorsEntry> = {};
  for (const [, , name] of spans) ordered[name] = header[name] as SafetensorsEntry;
  return { header: ordered, metadata, base };
}

/** Parse safetensors bytes into a tensor dict and the metadata map. */
export function parseSafetensorsWithMetadata(bytes: Uint8Array): SafetensorsFile {
  const { header, metadata, base } = parseHeader(bytes);
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, e] of Object.entries(header)) tensors[name] = decode(name, e, bytes, base);
  } catch (err) {
    tf.dispose(Object.values(tensors));
    throw err;
  }
  return { tensors, metadata, header };
}

/** Parse safetensors bytes into a dict of tensors (the caller owns and disposes them). */
export function parseSafetensors(bytes: Uint8Array): Record<string, Tensor> {
  return parseSafetensorsWithMetadata(bytes).tensors;
}

async function bytesOf(pathOrBytes: string | Uint8Array): Promise<Uint8Array> {
  if (typeof pathOrBytes === 'string') return new Uint8Array(await readFile(pathOrBytes));
  if (pathOrBytes instanceof Uint8Array) return pathOrBytes;
  throw new TypeError('readSafetensors: expected a file path (string) or the file bytes (Uint8Array)');
}

/** Read a .safetensors file (or its bytes) with its metadata. */
export async function readSafetensorsWithMetadata(pathOrBytes: string | Uint8Array): Promise<SafetensorsFile> {
  const bytes = await bytesOf(pathOrBytes);
  try {
    return parseSafetensorsWithMetadata(bytes);
  } catch (err) {
    if (typeof pathOrBytes === 'string') (err as Error).message += ` (in ${pathOrBytes})`;
    throw err;
  }
}

/** Read a .safetensors file (or its bytes) into a dict of tensors in file order. */
export async function readSafetensors(pathOrBytes: string | Uint8Array): Promise<Record<string, Tensor>> {
  return (await readSafetensorsWithMetadata(pathOrBytes)).tensors;
}

type TensorValues = (t: Tensor) => Float32Array | Int32Array | Uint8Array;

/**
 * Serialise a tensor dict (insertion order kept) and optional string metadata to safetensors bytes.
 * Reads with `dataSync()`: for tensors that may live on a GPU use `serializeSafetensorsAsync`.
 */
export function serializeSafetensors(
  dict: Record<string, Tensor>,
  metadata?: Record<string, string>,
  options: SerializeOptions = {},
): Uint8Array {
  return encodeSafetensors(dict, metadata, options, (t) => t.dataSync() as Float32Array | Int32Array | Uint8Array);
}

/**
 * `serializeSafetensors` for tensors on any backend: values are read with `await data()` (a GPU
 * tensor of the webgpu backend cannot be read synchronously in Node).
 */
export async function serializeSafetensorsAsync(
  dict: Record<string, Tensor>,
  metadata?: Record<string, string>,
  options: SerializeOptions = {},
): Promise<Uint8Array> {
  const values = new Map<Tensor, Float32Array | Int32Array | Uint8Array>();
  for (const t of Object.values(dict)) {
    if (t instanceof tf.Tensor && !t.isDisposed && !values.has(t)) values.set(t, (await t.data()) as Float32Array | Int32Array | Uint8Array);
  }
  return encodeSafetensors(dict, metadata, options, (t) => values.get(t)!);
}

function encodeSafetensors(
  dict: Record<string, Tensor>,
  metadata: Record<string, string> | undefined,
  options: SerializeOptions,
  valuesOf: TensorValues,
): Uint8Array {
  const intDtype = options.intDtype ?? 'I64';
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`serializeSafetensors: metadata['${k}'] must be a string, got ${typeof v}`);
    }
    if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  }
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(dict)) {
    if (name === '__metadata__') throw new Error("serializeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    if (!(t instanceof tf.Tensor) || t.isDisposed) {
      throw new TypeError(`serializeSafetensors: '${name}' must be a live tf.Tensor`);
    }
    let dtype: SafetensorsDtype;
    let data: Uint8Array;
    if (t.dtype === 'float32') {
      dtype = 'F32';
      const f = valuesOf(t) as Float32Array;
      data = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    } else if (t.dtype === 'int32') {
      const src = valuesOf(t) as Int32Array;
      if (intDtype === 'I64') {
        dtype = 'I64';
        const wide = new BigInt64Array(src.length);
        for (let i = 0; i < src.length; i++) wide[i] = BigInt(src[i] as number);
        data = new Uint8Array(wide.buffer);
      } else {
        dtype = 'I32';
        data = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
      }
    } else if (t.dtype === 'bool') {
      dtype = 'BOOL';
      data = Uint8Array.from(valuesOf(t) as Uint8Array);
    } else {
      throw new TypeError(`serializeSafetensors: '${name}' has dtype ${t.dtype}; float32, int32 and bool are supported`);
    }
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + data.byteLength] };
    parts.push(data);
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json, 'utf8') % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Write a tensor dict to `path` atomically: the bytes go to a temporary file in the same directory,
 * are flushed to disk, and the file is renamed over `path`, so a crash never leaves half a file.
 */
export async function writeSafetensors(
  path: string,
  dict: Record<string, Tensor>,
  metadata?: Record<string, string>,
  options?: SerializeOptions,
): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('writeSafetensors: path must be a non-empty string');
  const bytes = await serializeSafetensorsAsync(dict, metadata, options);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
