// The Fashion-MNIST subset and photos shipped with the package.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { FashionMNIST, fashionMnistFixtureDir, photosFixtureDir } from '@ssl/data';

const test = await FashionMNIST.load({ root: fashionMnistFixtureDir(), split: 'test' });
assert.equal(test.length, 500);
const sample = await test.get(0);
const photos = readdirSync(photosFixtureDir()).filter((f) => f.endsWith('.jpg'));
assert.ok(photos.length > 0);
console.log(`Fashion-MNIST subset: ${test.length} test images, first label ${sample.label} (${test.classes[sample.label]}); ${photos.length} photos`);
