import { defineConfig } from 'vitest/config';

// Registry tests build full-size presets (vit_base is 86M parameters) on the pure-JS backend.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000 } });
