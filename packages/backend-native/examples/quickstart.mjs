// The native backend: its status, and a matmul that equals the pure-JS cpu kernel.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { nativeBackendStatus, registerNativeBackend } from '@ssl/backend-native';

const status = nativeBackendStatus();
if (!status.available) {
  // SSL_EXPECT_NATIVE=1: the machine has the toolchain and OpenBLAS, so the install must have compiled it.
  assert.notEqual(process.env.SSL_EXPECT_NATIVE, '1', `expected the addon to compile at install: ${status.reason}`);
  console.log(`not available: ${status.reason}`);
} else {
  registerNativeBackend({ threads: 2 });
  const a = tf.randomNormal([64, 48], 0, 1, 'float32', 1);
  const b = tf.randomNormal([48, 32], 0, 1, 'float32', 2);
  await tf.setBackend('cpu');
  const ref = tf.matMul(a, b).dataSync();
  await tf.setBackend('native');
  const got = tf.matMul(a, b).dataSync();
  const err = Math.max(...got.map((v, i) => Math.abs(v - ref[i])));
  assert.ok(err < 1e-4, `native matmul differs from cpu by ${err}`);
  console.log(`available (${status.reason}); matmul max |native - cpu| = ${err.toExponential(1)}`);
}
