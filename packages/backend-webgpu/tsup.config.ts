import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Dawn's prebuilt addon and tfjs's webgpu backend are loaded at run time, never bundled.
  external: ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
});
