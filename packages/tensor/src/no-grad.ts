import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

/** Identity forward, zero gradient: the `.detach()` of PyTorch. */
export function stopGradient<T extends Tensor>(x: T): T {
  return withoutGradient((t) => tf.clone(t), x) as T;
}

/**
 * `fn(...inputs)` as one op whose gradient is zero for every input: PyTorch's `with torch.no_grad()`.
 * The ops inside run as a custom kernel, so the tape records none of them (some, like Less, have
 * no gradient in tfjs and would otherwise break backprop even though no gradient is wanted).
 */
export function withoutGradient(fn: (...xs: Tensor[]) => Tensor, ...inputs: Tensor[]): Tensor {
  const op = tf.customGrad(((...args: unknown[]) => {
    const xs = args.slice(0, inputs.length) as Tensor[];
    return { value: fn(...xs), gradFunc: () => xs.map((x) => tf.zerosLike(x)) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (...xs: Tensor[]) => Tensor;
  return op(...inputs);
}
