import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Worker-thread tests start real threads (each loads sharp): slow on a busy 2-core machine.
  test: { testTimeout: 60_000 },
});
