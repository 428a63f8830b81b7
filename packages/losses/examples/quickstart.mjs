// DINO loss on your own tensors (your @tensorflow/tfjs-core; @ssl/losses uses the same copy).
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { DINOLoss } from '@ssl/losses';

const B = 4, K = 16, nCrops = 4;
const dino = new DINOLoss({ outDim: K, nCrops, warmupTeacherTemp: 0.04, teacherTemp: 0.04, warmupTeacherTempEpochs: 0, nEpochs: 10 });

// All-zero logits: every crop predicts the uniform distribution, so the cross-entropy is ln K.
const uniform = dino.forward(tf.zeros([nCrops * B, K]), tf.zeros([2 * B, K]), 0);
assert.ok(uniform instanceof tf.Tensor, 'the loss is a tensor of the caller\'s tfjs-core');
assert.ok(Math.abs(uniform.dataSync()[0] - Math.log(K)) < 1e-5, `expected ln ${K}, got ${uniform.dataSync()[0]}`);

const student = tf.randomNormal([nCrops * B, K], 0, 1, 'float32', 1); // [nCrops*B, K]
const teacher = tf.randomNormal([2 * B, K], 0, 1, 'float32', 2);      // [2B, K]
const loss = dino.forward(student, teacher, 0);
assert.ok(Number.isFinite(loss.dataSync()[0]));
console.log(`DINO loss ${loss.dataSync()[0].toFixed(4)} (uniform: ${uniform.dataSync()[0].toFixed(4)} = ln ${K}) on ${tf.getBackend()}`);
