import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

type Op = (x: tf.Tensor) => tf.Tensor;
const OPS: Record<string, Op> = {
  Exp: tf.exp,
  Log: (x) => tf.log(tf.abs(x)),
  Sqrt: (x) => tf.sqrt(tf.abs(x)),
  Rsqrt: (x) => tf.rsqrt(tf.abs(x)),
  Erf: tf.erf,
  Tanh: tf.tanh,
  Relu: tf.relu,
  Neg: tf.neg,
  Square: tf.square,
  Abs: tf.abs,
  Sigmoid: tf.sigmoid,
  Step: (x) => tf.step(x, 0.25),
  Reciprocal: tf.reciprocal,
  Relu6: (x) => tf.relu6(tf.mul(x, 4)),
  Elu: tf.elu,
  Log1p: (x) => tf.log1p(tf.abs(x)),
  Softplus: (x) => tf.softplus(tf.mul(x, 10)),
  LeakyRelu: (x) => tf.leakyRelu(x, 0.1),
};

describe('unary ops', () => {
  for (const [name, op] of Object.entries(OPS)) {
    it(`${name}: values, size-1 and empty`, () => {
      // Erf is exact (std::erf) here; the JS kernel's approximation is good to ~1.5e-7 absolute.
      const atol = name === 'Erf' ? 5e-7 : 1e-6;
      expectSameAsCpu(() => op(rand([3, 50], 7)), 1e-5, atol);
      expectSameAsCpu(() => op(rand([1], 8)), 1e-5, atol);
      expectSameAsCpu(() => op(tf.zeros([0, 4])));
    });

    it(`${name}: NaN and infinities`, () => {
      expectSameAsCpu(() => op(tf.tensor1d([NaN, Infinity, -Infinity, 0])));
    });

    it(`${name}: gradient`, () => {
      expectSameAsCpu(() => tf.grad((x: tf.Tensor) => tf.sum(op(x)))(tf.add(rand([4, 5], 9), 0.01)), 1e-4, 1e-5);
    });
  }

  it('int32 inputs use the JS kernel', () => {
    expectSameAsCpu(() => tf.neg(tf.tensor1d([1, -2, 3], 'int32')));
    expectSameAsCpu(() => tf.abs(tf.tensor1d([1, -2, 3], 'int32')));
  });

  it('ZerosLike and OnesLike: float32, reused memory, other dtypes through JS', () => {
    // A disposed buffer of the same size comes back from the pool, dirty: the fill must cover it.
    tf.tidy(() => tf.add(rand([80, 70], 3), 1));
    expectSameAsCpu(() => tf.zerosLike(rand([80, 70], 4)), 0, 0);
    expectSameAsCpu(() => tf.onesLike(rand([80, 70], 5)), 0, 0);
    expectSameAsCpu(() => tf.zerosLike(tf.zeros([0, 3])));
    expectSameAsCpu(() => tf.onesLike(tf.tensor1d([1, 2], 'int32')));
    expectSameAsCpu(() => tf.zerosLike(tf.tensor1d([true], 'bool')));
  });
});
