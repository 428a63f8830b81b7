#!/usr/bin/env node
// `ssl-backend`: print which tensor backend this machine gets, and why each other one was not chosen.
import { formatBackendReport, initBackend } from './backend.js';
import { tf } from './index.js';

const info = await initBackend();
console.log(formatBackendReport(info));
// A small matmul proves the chosen backend computes.
const a = tf.randomUniform([256, 256]);
const start = performance.now();
const c = tf.matMul(a, a);
await c.data();
console.log(`256x256 matmul: ${(performance.now() - start).toFixed(1)} ms on ${tf.getBackend()}`);
