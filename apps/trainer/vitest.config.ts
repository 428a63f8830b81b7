import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The end-to-end tests train a tiny model and launch Chromium; give them room on 2 shared cores.
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
