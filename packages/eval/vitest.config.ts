import { defineConfig } from 'vitest/config';

// The suite test runs a small ViT over images and photos; on a shared 2-core machine it can take
// several seconds.
export default defineConfig({ test: { testTimeout: 60_000 } });
