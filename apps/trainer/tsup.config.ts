import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts', 'dino-step': 'bench/dino-step.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts', cli: 'src/cli.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
