import { afterEach, expect, it } from 'vitest';
import { initBackend } from './backend.js';

afterEach(() => {
  delete process.env.SSL_THREADS;
});

// Its own file: the native backend must not have been registered in this module graph yet.
it('landing below native says why native did not load', async () => {
  // @ssl/backend-native reads SSL_THREADS itself and refuses a bad value before registering.
  process.env.SSL_THREADS = 'bogus';
  const info = await initBackend({ threads: 1, env: {} });
  expect(info.name).toBe('wasm');
  expect(info.attempts.find((a) => a.name === 'native')!.ok).toBe(false);
  expect(info.reason).toMatch(/^WebAssembly kernels \(XNNPACK\); native did not load: SSL_THREADS='bogus' must be a positive integer/);
}, 30_000);
