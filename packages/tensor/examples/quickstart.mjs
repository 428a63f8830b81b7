// Backend choice (and why the others were not taken) and the seeded generator.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, formatBackendReport, initBackend } from '@ssl/tensor';

const info = await initBackend();
assert.equal(tf.getBackend(), info.name, 'the backend is set on the caller\'s tfjs-core');
assert.equal(new Rng(7).fork(1, 2).uniform(), new Rng(7).fork(1, 2).uniform());
console.log(formatBackendReport(info));
