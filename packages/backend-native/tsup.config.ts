import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', bench: 'bench/run.ts', profile: 'bench/profile.ts', step: 'bench/step.ts', gemm_shapes: 'bench/gemm_shapes.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  // The benchmarks need tfjs-core's gradients, which its Node bundle does not register; these
  // side-effect modules are ESM with extensionless imports, so they are bundled (as @ssl/tensor does).
  // A devDependency, so tsup would bundle it: load the published Node build instead.
  external: ['@tensorflow/tfjs-backend-wasm'],
  noExternal: [/^@tensorflow\/tfjs-core\/dist\/(register_all_gradients|public\/chained_ops\/register_all_chained_ops)/],
});
