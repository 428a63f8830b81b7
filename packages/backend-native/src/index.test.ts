import { expect, it } from 'vitest';
import { nativeBackendStatus, registerNativeBackend } from './index.js';

it('reports itself unavailable with a reason, and refuses to register', () => {
  const status = nativeBackendStatus();
  expect(status.available).toBe(false);
  expect(status.reason).toMatch(/no compiled kernels/);
  expect(() => registerNativeBackend()).toThrow(status.reason);
});
