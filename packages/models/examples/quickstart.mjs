// A ViT forward pass on your own tensors: [B, H, W, C] images -> [B, embedDim] CLS features.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { VisionTransformer, listModels } from '@ssl/models';

const vit = new VisionTransformer({ imgSize: 32, patchSize: 8, embedDim: 48, depth: 2, numHeads: 3, seed: 0 });
const images = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3); // NHWC
const cls = vit.forward(images);
assert.ok(cls instanceof tf.Tensor);
assert.deepEqual(cls.shape, [2, 48]);
assert.ok(cls.dataSync().every(Number.isFinite));
assert.ok(listModels().includes('vit_small'));
console.log(`ViT forward [2, 32, 32, 3] -> [${cls.shape}]; ${vit.parameters().length} parameter tensors; presets: ${listModels().length}`);
