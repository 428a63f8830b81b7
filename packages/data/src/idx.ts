import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

/** IDX element types (third byte of the magic number), as in LeCun's MNIST format. */
const IDX_TYPES = {
  0x08: { name: 'uint8', size: 1 },
  0x09: { name: 'int8', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
} as const;

export type IdxDataType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['name'];

export interface IdxArray {
  dims: number[];
  type: IdxDataType;
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Parse IDX bytes (optionally gzip-compressed). `source` names the input in errors. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) {
    throw new Error(`${source}: not an IDX file (magic must start with two zero bytes)`);
  }
  const typeCode = raw[2] as number;
  const type = (IDX_TYPES as Record<number, { name: IdxDataType; size: number }>)[typeCode];
  if (!type) throw new Error(`${source}: unknown IDX element type 0x${typeCode.toString(16)}`);
  const ndim = raw[3] as number;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const headerBytes = 4 + 4 * ndim;
  if (raw.length < headerBytes) throw new Error(`${source}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.size;
  if (raw.length < expected) {
    throw new Error(`${source}: truncated IDX data: dims [${dims.join(', ')}] need ${expected} bytes, got ${raw.length}`);
  }
  const body = raw.subarray(headerBytes, expected);
  let data: IdxArray['data'];
  switch (type.name) {
    case 'uint8':
      data = new Uint8Array(body);
      break;
    case 'int8':
      data = new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
      break;
    default: {
      // Multi-byte IDX values are big-endian.
      const bodyView = new DataView(body.buffer, body.byteOffset, body.byteLength);
      const read = {
        int16: (i: number) => bodyView.getInt16(i * 2, false),
        int32: (i: number) => bodyView.getInt32(i * 4, false),
        float32: (i: number) => bodyView.getFloat32(i * 4, false),
        float64: (i: number) => bodyView.getFloat64(i * 8, false),
      }[type.name];
      const Ctor = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[type.name];
      data = new Ctor(count);
      for (let i = 0; i < count; i++) data[i] = read(i);
    }
  }
  return { dims, type: type.name, data };
}

/** Read an IDX file (`.gz` or raw) from disk. */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read IDX file ${path}: ${(err as Error).message}`);
  }
  return parseIdx(bytes, path);
}
