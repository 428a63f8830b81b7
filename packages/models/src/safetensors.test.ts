import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '@ssl/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseSafetensors,
  parseSafetensorsWithMetadata,
  readSafetensors,
  readSafetensorsWithMetadata,
  serializeSafetensors,
  writeSafetensors,
} from './safetensors.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function header(bytes: Uint8Array): Record<string, unknown> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
}

describe('safetensors', () => {
  it('reads F32, F16, BF16 and I64 written by PyTorch, with metadata', async () => {
    const { tensors: t, metadata } = await readSafetensorsWithMetadata(join(FIXTURES, 'dtypes.safetensors'));
    expect(metadata).toEqual({ format: 'pt', note: 'dtype fixture' });
    expect(Object.keys(t)).toEqual(['f32', 'f16', 'bf16', 'i64', 'f16_as_f32', 'bf16_as_f32']);
    expect(t.f32!.shape).toEqual([2, 4]);
    expect(Array.from(t.f32!.dataSync())).toEqual(
      Array.from(new Float32Array([0.0, -1.5, 3.140625, 65504.0, 1e-7, -(2 ** -24), 1234.5678, -0.0])),
    );
    // decoded half/bfloat16 values equal what PyTorch itself widens them to
    expect(Array.from(t.f16!.dataSync())).toEqual(Array.from(t.f16_as_f32!.dataSync()));
    expect(Array.from(t.bf16!.dataSync())).toEqual(Array.from(t.bf16_as_f32!.dataSync()));
    expect(t.f16!.dtype).toBe('float32');
    expect(t.i64!.dtype).toBe('int32');
    expect(Array.from(t.i64!.dataSync())).toEqual([1, -2, 2 ** 31 - 1, -(2 ** 31)]);
    tf.dispose(Object.values(t));
  });

  it('round-trips float32, int32 (as I64 or I32) and bool, keeping insertion order and metadata', () => {
    const dict = {
      'z.weight': tf.tensor([[1.5, -2], [3, 4e-8]]),
      'a.count': tf.scalar(7, 'int32'),
      'm.mask': tf.tensor([true, false, true], [3], 'bool'),
      'empty': tf.zeros([0, 3]),
    };
    const bytes = serializeSafetensors(dict, { step: '12' });
    const h = header(bytes);
    expect((h['a.count'] as { dtype: string }).dtype).toBe('I64');
    expect(Object.keys(h)).toEqual(['__metadata__', 'z.weight', 'a.count', 'm.mask', 'empty']);
    expect((Number(new DataView(bytes.buffer).getBigUint64(0, true)) + 8) % 8).toBe(0);
    const { tensors: back, metadata } = parseSafetensorsWithMetadata(bytes);
    expect(metadata).toEqual({ step: '12' });
    expect(Object.keys(back)).toEqual(Object.keys(dict));
    for (const [k, v] of Object.entries(dict)) {
      expect(back[k]!.dtype).toBe(v.dtype);
      expect(back[k]!.shape).toEqual(v.shape);
      expect(Array.from(back[k]!.dataSync())).toEqual(Array.from(v.dataSync()));
    }
    const i32 = header(serializeSafetensors(dict, undefined, { intDtype: 'I32' }));
    expect((i32['a.count'] as { dtype: string }).dtype).toBe('I32');
    tf.dispose([...Object.values(dict), ...Object.values(back)]);
  });

  it('writes atomically (no temp file left) and reads back from a path or bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    dirs.push(dir);
    const path = join(dir, 'w.safetensors');
    const x = tf.randomNormal([3, 5]);
    await writeSafetensors(path, { x });
    await writeSafetensors(path, { x }, { v: '2' }); // overwrite in place
    expect(await readdir(dir)).toEqual(['w.safetensors']);
    const a = await readSafetensors(path);
    const b = await readSafetensors(new Uint8Array(await readFile(path)));
    expect(Array.from(a.x!.dataSync())).toEqual(Array.from(x.dataSync()));
    expect(Array.from(b.x!.dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, a.x!, b.x!]);
  });

  it('rejects malformed files with a clear message', async () => {
    expect(() => parseSafetensors(new Uint8Array(4))).toThrow(/shorter than the 8-byte header length/);
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 1000n, true);
    expect(() => parseSafetensors(big)).toThrow(/header length 1000 does not fit/);
    const enc = (h: unknown, dataBytes: number) => {
      const j = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + j.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(j.length), true);
      out.set(j, 8);
      return out;
    };
    expect(() => parseSafetensors(enc({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4))).toThrow(
      /'a': F32 \[2\] needs 8 bytes, offsets span 4/,
    );
    expect(() => parseSafetensors(enc({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, 8))).toThrow(/unsupported dtype "C64"/);
    expect(() => parseSafetensors(enc({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8))).toThrow(/past the 8 data bytes/);
    expect(() =>
      parseSafetensors(enc({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8)),
    ).toThrow(/overlap/);
    const i64 = enc({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8);
    new DataView(i64.buffer).setBigInt64(i64.length - 8, 2n ** 40n, true);
    expect(() => parseSafetensors(i64)).toThrow(/outside the int32 range/);
    await expect(readSafetensors(join(FIXTURES, 'nope.safetensors'))).rejects.toThrow(/ENOENT/);
    expect(() => serializeSafetensors({ a: tf.complex([1], [2]) })).toThrow(/dtype complex64/);
    expect(() => serializeSafetensors({}, { n: 3 as unknown as string })).toThrow(/metadata\['n'\] must be a string/);
  });
});
