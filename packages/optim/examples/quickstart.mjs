// DINO's cosine_scheduler: per-iteration values, linear warm-up then cosine towards `final`.
import assert from 'node:assert/strict';
import { cosineScheduler } from '@ssl/optim';

// base 0.5, final 0.1, 2 epochs of 5 iterations, 1 warm-up epoch from 0.
const lr = cosineScheduler(0.5, 0.1, 2, 5, { warmupEpochs: 1 });
assert.equal(lr.length, 10);
assert.deepEqual([...lr.slice(0, 5)], [0, 0.125, 0.25, 0.375, 0.5]); // numpy linspace(0, 0.5, 5)
assert.equal(lr[5], 0.5); // the cosine starts at base ...
assert.ok(lr[9] > 0.1 && lr[9] < 0.15); // ... and never quite reaches final
console.log(`cosine schedule: ${[...lr].map((v) => v.toFixed(3)).join(' ')}`);
