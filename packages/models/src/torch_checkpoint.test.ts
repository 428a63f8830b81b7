import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { FIXTURES, fixture } from './fixtures.test-helpers.js';
import { PickleError, PickleObject, unpickle } from './pickle.js';
import { parseTorchCheckpoint, readTorchCheckpoint, TORCH_CALLABLES, TorchCheckpointError, TorchStorage, TorchTensor } from './torch_checkpoint.js';
import { ZipArchive } from './zip.js';

const file = (name: string) => join(FIXTURES, name);
const bytesOf = (name: string) => new Uint8Array(readFileSync(file(name)));

describe('readTorchCheckpoint on torch.save files (fixtures/make_torch_checkpoints.py)', () => {
  it('reads every storage dtype, offsets, strides and zero strides as PyTorch made them contiguous', async () => {
    const ck = await readTorchCheckpoint(file('tensors.pth'));
    const expected = await fixture('tensors_expected.safetensors');
    const names = Object.keys(expected);
    expect(names.length).toBe(17);
    for (const name of names) {
      const t = ck.tensors[`tensors.${name}`];
      expect(t, name).toBeInstanceOf(TorchTensor);
      const got = (t as TorchTensor).toTensor();
      const want = expected[name] as tf.Tensor;
      expect(got.shape, name).toEqual(want.shape);
      expect(got.dtype, name).toBe(want.dtype);
      expect(Array.from(got.dataSync()), name).toEqual(Array.from(want.dataSync()));
      got.dispose();
    }
    tf.dispose(Object.values(expected));
    expect((ck.tensors['tensors.f16'] as TorchTensor).dtype).toBe('float16');
    expect((ck.tensors['tensors.bf16'] as TorchTensor).dtype).toBe('bfloat16');
    const window = ck.tensors['tensors.window'] as TorchTensor;
    expect([window.storageOffset, ...window.stride]).toEqual([8, 6, 1]);
    expect((ck.tensors['tensors.transposed'] as TorchTensor).storage).toBe((ck.tensors['tensors.base'] as TorchTensor).storage);
    // A tensor referenced twice (tied weights) is listed under both paths; containers are walked once.
    expect(ck.tensors['nested.0.t']).toBe(ck.tensors['tensors.f32']);
  });

  it('reads the Python values around the tensors', async () => {
    const { tree } = await readTorchCheckpoint(file('tensors.pth'));
    const py = (tree as Record<string, Record<string, unknown>>)['python'] as Record<string, unknown>;
    expect(py['int']).toBe(7);
    expect(py['neg']).toBe(-123456);
    expect(py['big']).toBe(2n ** 70n);
    expect(py['float']).toBe(0.1);
    expect(py['str']).toBe('héllo');
    expect(Array.from(py['bytes'] as Uint8Array)).toEqual([0, 255]);
    expect(py['none']).toBeNull();
    expect(py['true']).toBe(true);
    expect(py['list']).toEqual([1, 2.5, 'x', null]);
    expect(py['tuple']).toEqual([1, [2, 3]]);
    expect({ ...(py['int_keys'] as object) }).toEqual({ 0: 'a', 1: 'b' });
  });

  it('reads a main_dino.py save dict: state dicts, optimizer state, epoch, and the args Namespace as a record', async () => {
    const ck = await readTorchCheckpoint(file('dino_checkpoint.pth'));
    const tree = ck.tree as Record<string, unknown>;
    expect(tree['epoch']).toBe(3);
    const args = tree['args'] as PickleObject;
    expect(args).toBeInstanceOf(PickleObject);
    expect(args.callable).toBe('argparse.Namespace');
    expect(args.fields['arch']).toBe('vit_tiny');
    expect(args.fields['patch_size']).toBe(4);
    expect(args.fields['global_crops_scale']).toEqual([0.4, 1.0]);
    expect(ck.tensors['student.module.backbone.cls_token']?.shape).toEqual([1, 1, 48]);
    expect(ck.tensors['teacher.backbone.pos_embed']?.shape).toEqual([1, 50, 48]);
    expect(ck.tensors['optimizer.state.0.exp_avg']?.shape).toEqual([1, 1, 48]);
    expect(ck.tensors['dino_loss.center']?.shape).toEqual([1, 64]);
  });

  it('reads protocol 4 (frames, MEMOIZE, STACK_GLOBAL)', async () => {
    const bytes = bytesOf('paws_checkpoint.pth');
    const zip = new ZipArchive(bytes, 'paws');
    const pkl = zip.read('paws_checkpoint/data.pkl');
    expect([pkl[0], pkl[1]]).toEqual([0x80, 4]);
    const ck = parseTorchCheckpoint(bytes);
    expect((ck.tree as Record<string, unknown>)['loss']).toBe(3.25);
    expect(ck.tensors['encoder.module.conv1.weight']?.shape).toEqual([16, 3, 3, 3]);
  });

  it('reads a pickle that references os.system and builtins.eval as inert records, running nothing', async () => {
    const marker = join(process.cwd(), 'ssl-vision-pickle-ran');
    const { tree, tensors } = await readTorchCheckpoint(file('hostile.pth'));
    const t = tree as Record<string, unknown>;
    const system = t['system'] as PickleObject;
    expect(system).toBeInstanceOf(PickleObject);
    expect(system.callable).toBe('posix.system');
    expect(system.args).toEqual(['touch ssl-vision-pickle-ran']);
    expect((t['eval'] as PickleObject).callable).toBe('builtins.eval');
    expect(tensors['weight']?.shape).toEqual([2, 2]);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('bad input', () => {
  it('names the file for something that is not a checkpoint', async () => {
    await expect(readTorchCheckpoint(new Uint8Array([1, 2, 3]), { name: 'x.pth' })).rejects.toThrow(/x\.pth: not a PyTorch checkpoint/);
    await expect(readTorchCheckpoint(file('nope.pth'))).rejects.toThrow(/nope\.pth: cannot read/);
  });

  it('gives a clear error naming the file and offset at every truncation', () => {
    const bytes = bytesOf('tensors.pth');
    for (let n = 4; n < bytes.length; n += 97) {
      expect(() => parseTorchCheckpoint(bytes.subarray(0, n), 'cut.pth')).toThrow(/^cut\.pth: zip offset \d+: /);
    }
  });

  it('detects a corrupted byte in the pickle or in tensor data (CRC-32)', () => {
    const bytes = bytesOf('tensors.pth').slice();
    const zip = new ZipArchive(bytes, 'x');
    const entry = zip.entries.get('tensors/data/0');
    expect(entry).toBeDefined();
    const ck = parseTorchCheckpoint(bytes.slice(), 'ok.pth');
    expect(Object.keys(ck.tensors).length).toBeGreaterThan(10);
    // Corrupt the first data byte of storage 0: found when the tensor is read.
    const h = (entry as { headerOffset: number }).headerOffset;
    const view = new DataView(bytes.buffer);
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    bytes[start] = (bytes[start] as number) ^ 0xff;
    const bad = parseTorchCheckpoint(bytes, 'bad.pth');
    const t = Object.values(bad.tensors).find((x) => x.storage.key === '0') as TorchTensor;
    expect(() => t.data()).toThrow(/bad\.pth: zip offset \d+: entry 'tensors\/data\/0': CRC-32 mismatch/);
  });

  it('refuses tensor views that reach outside their storage', () => {
    // _rebuild_tensor_v2(persistent(('storage', torch.FloatStorage, '0', 'cpu', 4)), OFFSET, (3,), (1,), False, OrderedDict())
    const pickle = (offset: number) =>
      Uint8Array.from(
        `\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK${String.fromCharCode(offset)}K\x03\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR.`,
        (c) => c.charCodeAt(0),
      );
    const persistentLoad = () => new TorchStorage('0', 'float32', 4, () => new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
    const ok = unpickle(pickle(1), { name: 'view.pkl', callables: TORCH_CALLABLES, persistentLoad }) as TorchTensor;
    expect(Array.from(ok.data())).toEqual([2, 3, 4]);
    expect(() => unpickle(pickle(2), { name: 'view.pkl', callables: TORCH_CALLABLES, persistentLoad })).toThrow(
      /^view\.pkl: pickle offset \d+: torch\._utils\._rebuild_tensor_v2: tensor \[3\] \(offset 2, stride \[1\]\) reaches element 4 of storage '0' with 4/,
    );
  });

  it('fuzz: random byte flips and cuts of the pickle give a PickleError or a value, never another exception', () => {
    const zip = new ZipArchive(bytesOf('dino_checkpoint.pth'), 'dino');
    const pkl = zip.read('dino_checkpoint/data.pkl');
    const rng = new Rng(7);
    const storages = () => ({ shape: [] });
    let errors = 0;
    for (let trial = 0; trial < 250; trial++) {
      const b = pkl.slice(0, trial % 5 === 0 ? Math.floor(rng.random() * pkl.length) : pkl.length);
      const flips = 1 + Math.floor(rng.random() * 4);
      for (let f = 0; f < flips; f++) b[Math.floor(rng.random() * b.length)] = Math.floor(rng.random() * 256);
      try {
        unpickle(b, { name: 'fuzz.pkl', persistentLoad: storages });
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(PickleError);
        expect((err as Error).message).toMatch(/^fuzz\.pkl: pickle offset \d+: /);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(60);
  });

  it('fuzz: byte flips anywhere in a .pth give a TorchCheckpointError or tensors that read or fail cleanly', () => {
    const original = bytesOf('tensors.pth');
    const rng = new Rng(8);
    for (let trial = 0; trial < 300; trial++) {
      const b = original.slice();
      for (let f = 0; f < 3; f++) b[Math.floor(rng.random() * b.length)] = Math.floor(rng.random() * 256);
      try {
        const ck = parseTorchCheckpoint(b, 'fuzz.pth');
        for (const t of Object.values(ck.tensors)) {
          try {
            t.data();
          } catch (err) {
            expect(err, String(err)).toBeInstanceOf(Error);
            expect((err as Error).message).toMatch(/fuzz\.pth|storage|tensor/);
          }
        }
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(TorchCheckpointError);
        expect((err as Error).message).toMatch(/^fuzz\.pth: /);
      }
    }
  });

  it('names the unknown opcode, stack underflow and missing memo entries', () => {
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0xff), { name: 'p' })).toThrow(/^p: pickle offset 2: unknown opcode 0xff/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x2e), { name: 'p' })).toThrow(/offset 2: stack underflow/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x68, 9, 0x2e), { name: 'p' })).toThrow(/offset 2: memo key 9 was never stored/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f), { name: 'p' })).toThrow(/offset 2: needs \d+ more bytes/);
  });
});
