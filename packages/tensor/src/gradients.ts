// tfjs-core's Node bundle (dist/tf-core.node.js) registers no gradient functions and no chained
// tensor methods; the @tensorflow/tfjs union does that. These two side-effect modules are ESM
// with extensionless imports that Node cannot load, so tsup bundles them (tsup.config.ts
// `noExternal`). They register into tfjs's global registries, shared by every copy of tfjs-core.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

import { registerGradient, reshape, sum, Tile, type GradConfig, type Tensor, type TileAttrs } from '@tensorflow/tfjs-core';

// tfjs's Tile gradient adds the input-sized slices of dy one by one: two kernels per repetition,
// so the cls token tiled over a batch of 256 crops cost 512 kernels per backward pass. Splitting
// each axis of dy into (repetition, input extent) and summing the repetition axes is one reduction.
const tileGradient: GradConfig = {
  kernelName: Tile,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [Tensor];
    const { reps } = attrs as unknown as TileAttrs;
    return {
      x: () => {
        const split = x.shape.flatMap((extent, axis) => [reps[axis]!, extent]);
        const repetitionAxes = x.shape.map((_, axis) => 2 * axis);
        return reshape(sum(reshape(dy as Tensor, split), repetitionAxes), x.shape);
      },
    };
  },
};
registerGradient(tileGradient);
