import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { float32GemmMode, type NativeBackend } from '../backend.js';
import { GEMM_MODES, binding } from '../binding.js';
import { expectSameAsCpu, rand } from '../test_util.js';

const shapeOf = (batch: number[], rows: number, cols: number, t: boolean) => [...batch, ...(t ? [cols, rows] : [rows, cols])];

describe('BatchMatMul', () => {
  const cases: Array<[number[], number[], number, number, number]> = [
    // [aBatch, bBatch, M, K, N]
    [[], [], 7, 5, 3],
    [[], [], 1, 1, 1],
    [[4], [4], 6, 9, 5],
    [[2, 3], [2, 3], 3, 4, 2],
    [[3], [], 5, 4, 6], // b broadcast over a's batch
    [[], [3], 5, 4, 6],
    [[1], [4], 2, 3, 2],
    [[2, 3], [3], 2, 5, 3],
    [[3], [3], 33, 17, 65],
  ];
  // Both float32 GEMMs: oneDNN's (the default where the addon has it) and OpenBLAS's.
  const float32Modes = binding().info().onednn ? [GEMM_MODES.onednnF32, GEMM_MODES.blas] : [GEMM_MODES.blas];
  for (const mode of float32Modes) {
    for (const [ab, bb, m, k, n] of cases) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          it(`${mode === GEMM_MODES.blas ? 'OpenBLAS' : 'oneDNN'} a[${ab}] b[${bb}] ${m}x${k}x${n} tA=${ta} tB=${tb}`, () => {
            tf.setBackend('native');
            const backend = tf.backend() as NativeBackend;
            const saved = backend.gemmMode;
            backend.gemmMode = mode;
            try {
              expectSameAsCpu(() => tf.matMul(rand(shapeOf(ab, m, k, ta), 1), rand(shapeOf(bb, k, n, tb), 2), ta, tb));
            } finally {
              backend.gemmMode = saved;
            }
          });
        }
      }
    }
  }

  it('runs float32 GEMMs on oneDNN where the addon has it, else on OpenBLAS', () => {
    tf.setBackend('native');
    expect((tf.backend() as NativeBackend).gemmMode).toBe(binding().info().onednn ? GEMM_MODES.onednnF32 : GEMM_MODES.blas);
    expect(float32GemmMode()).toBe((tf.backend() as NativeBackend).gemmMode);
  });

  it('handles empty dims: M=0, N=0, K=0 and an empty batch', () => {
    expectSameAsCpu(() => tf.matMul(tf.zeros([0, 3]), rand([3, 4])));
    expectSameAsCpu(() => tf.matMul(rand([2, 3]), tf.zeros([3, 0])));
    expectSameAsCpu(() => tf.matMul(tf.zeros([2, 0]), tf.zeros([0, 4])));
    // (The JS kernel returns 8 stray values for this one, so it is checked on its own.)
    tf.setBackend('native');
    const y = tf.matMul(tf.zeros([0, 2, 3]), rand([3, 4]));
    expect(y.shape).toEqual([0, 2, 4]);
    expect(y.dataSync().length).toBe(0);
    tf.dispose(y);
  });

  it('propagates NaN and Infinity', () => {
    expectSameAsCpu(() => tf.matMul(tf.tensor2d([[NaN, 1], [2, 3]]), tf.tensor2d([[1, 2], [Infinity, 4]])));
  });

  it('falls back to the JS kernel for int32 and keeps the dtype', () => {
    expectSameAsCpu(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), tf.tensor2d([[5], [6]], [2, 1], 'int32')));
  });

  it('rejects mismatched inner dims with the shapes in the message', () => {
    tf.setBackend('native');
    expect(() => tf.matMul(rand([2, 3]), rand([4, 2]))).toThrow(/inner shapes \(3\) and \(4\)/);
  });

  it('gradients of all transpose combinations match', () => {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        expectSameAsCpu(() => {
          const a = rand(shapeOf([2], 4, 3, ta), 3);
          const b = rand(shapeOf([2], 3, 5, tb), 4);
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb))));
          return g([a, b]);
        });
      }
    }
  });

  // (tfjs's BatchMatMul gradient does not reduce broadcast batch dims, so gradients use equal ones.)
  it('gradients of rank-4 batches match', () => {
    expectSameAsCpu(() => {
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x, y, false, true)));
      return g([rand([2, 3, 4, 5], 5), rand([2, 3, 6, 5], 6)]);
    });
  });
});

describe('_FusedMatMul', () => {
  const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  for (const activation of activations) {
    it(`bias + ${activation}, forward and gradient`, () => {
      expectSameAsCpu(() => {
        const a = rand([6, 4], 7);
        const b = rand([4, 5], 8);
        const bias = rand([5], 9);
        const alpha = activation === 'prelu' ? rand([5], 10) : undefined;
        const y = tf.fused.matMul({ a, b, bias, activation, preluActivationWeights: alpha, leakyreluAlpha: 0.3 });
        if (activation === 'prelu' || activation === 'elu' || activation === 'sigmoid' || activation === 'relu6' || activation === 'leakyrelu') return y;
        const g = tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.square(tf.fused.matMul({ a: x, b: w, bias: c, activation }))),
        );
        return [y, ...g([a, b, bias])];
      });
    });
  }

  it('transposed operands, scalar bias and a full [M, N] bias', () => {
    expectSameAsCpu(() => tf.fused.matMul({ a: rand([4, 3]), b: rand([5, 4]), transposeA: true, transposeB: true, bias: tf.scalar(0.5), activation: 'relu' }));
    expectSameAsCpu(() => tf.fused.matMul({ a: rand([3, 4]), b: rand([4, 5]), bias: rand([3, 5], 3) }));
    expectSameAsCpu(() => tf.fused.matMul({ a: rand([3, 4]), b: rand([4, 5]) }));
  });
});
