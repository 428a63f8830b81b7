// Weighted k-NN (DINO's eval_knn) on plain feature rows.
import assert from 'node:assert/strict';
import { knnClassifier } from '@ssl/eval';

const train = [[1, 0], [0.9, 0.2], [0, 1], [0.2, 0.9]];
const trainLabels = [0, 0, 1, 1];
const test = [[1, 0.1], [0.1, 1]];
const { top1, top5 } = await knnClassifier(train, trainLabels, test, [0, 1], { k: 2 });
assert.equal(top1, 100);
console.log(`k-NN (k = 2): top-1 ${top1}%, top-5 ${top5}%`);
