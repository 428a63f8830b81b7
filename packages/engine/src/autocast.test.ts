// Our bf16 autocast against PyTorch's: the DINO forward (ViT + DINOHead, student on 2 global + 2
// local crops, teacher on the global ones) and the DINO loss, under torch.autocast('cpu', bfloat16)
// in fixtures/make_autocast_fixture.py. Matmuls and convolutions run on bf16 inputs in both;
// PyTorch also rounds their outputs to bf16 (ours stay float32), hence a 1e-2 relative tolerance.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DINOLoss } from '@ssl/losses';
import { DINOHead, MultiCropWrapper, VisionTransformer, readSafetensors } from '@ssl/models';
import { autocast, bf16Support, initBackend, tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURE = join(new URL('../fixtures/', import.meta.url).pathname, 'autocast.safetensors');
const cpuHasBf16 = existsSync('/proc/cpuinfo') && /\bavx512_bf16\b|\bamx_bf16\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
const bf16Expected = cpuHasBf16 && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');

let io: Record<string, Tensor>;
let student: MultiCropWrapper;
let teacher: MultiCropWrapper;

function network(prefix: string): MultiCropWrapper {
  const net = new MultiCropWrapper(
    new VisionTransformer({ embedDim: 48, depth: 2, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28 }),
    new DINOHead({ inDim: 48, outDim: 64, hiddenDim: 32, bottleneckDim: 16 }),
  );
  const sd: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(io)) if (k.startsWith(`${prefix}.`)) sd[k.slice(prefix.length + 1)] = v;
  net.loadStateDict(sd, { strict: true });
  net.eval();
  return net;
}

/** ||a - b|| / ||b|| */
function relErr(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0]! / tf.norm(b).dataSync()[0]!);
}

function dinoForward(): { s: Tensor; t: Tensor; loss: number } {
  const crops = [0, 1, 2, 3].map((i) => io[`crop${i}`]!);
  const lossFn = new DINOLoss({ outDim: 64, nCrops: 4, warmupTeacherTemp: 0.04, teacherTemp: 0.04, warmupTeacherTempEpochs: 0, nEpochs: 10 });
  const s = student.forward(crops);
  const t = teacher.forward(crops.slice(0, 2));
  const loss = lossFn.forward(s, t, 0);
  const value = loss.dataSync()[0]!;
  loss.dispose();
  lossFn.dispose();
  return { s, t, loss: value };
}

beforeAll(async () => {
  await initBackend({ backend: 'native', env: {} });
  io = await readSafetensors(FIXTURE);
  student = network('student');
  teacher = network('teacher');
});
afterAll(() => {
  student.dispose();
  teacher.dispose();
  tf.dispose(Object.values(io));
});

describe('autocast against torch.autocast(cpu, bfloat16)', () => {
  it('the fixture exercises bf16: PyTorch bf16 and float32 differ by more than float32 noise', () => {
    expect(relErr(io['bf16.student_out']!, io['fp32.student_out']!)).toBeGreaterThan(1e-3);
  });

  it('float32: our forward and loss equal PyTorch float32', () => {
    const r = dinoForward();
    expect(relErr(r.s, io['fp32.student_out']!)).toBeLessThan(1e-5);
    expect(relErr(r.t, io['fp32.teacher_out']!)).toBeLessThan(1e-5);
    expect(Math.abs(r.loss - io['fp32.loss']!.dataSync()[0]!)).toBeLessThan(1e-5);
    tf.dispose([r.s, r.t]);
  });

  it.runIf(bf16Expected)('bf16: ViT + head outputs and the DINO loss within 1e-2 relative of PyTorch autocast', () => {
    expect(bf16Support().bf16).toBe(true);
    const r = autocast('bf16', dinoForward);
    const torchLoss = io['bf16.loss']!.dataSync()[0]!;
    const errs = { student: relErr(r.s, io['bf16.student_out']!), teacher: relErr(r.t, io['bf16.teacher_out']!), loss: Math.abs(r.loss - torchLoss) / Math.abs(torchLoss) };
    expect(errs.student).toBeLessThan(1e-2);
    expect(errs.teacher).toBeLessThan(1e-2);
    expect(errs.loss).toBeLessThan(1e-2);
    // and ours really ran bf16: closer to PyTorch bf16 than to float32 is not guaranteed per element,
    // but the outputs must move away from float32 by bf16's rounding.
    expect(relErr(r.s, io['fp32.student_out']!)).toBeGreaterThan(1e-4);
    tf.dispose([r.s, r.t]);
  });
});
