// tfjs-core's Node bundle (dist/tf-core.node.js) registers no gradient functions and no chained
// tensor methods; the @tensorflow/tfjs union does that. These two side-effect modules are ESM
// with extensionless imports that Node cannot load, so tsup bundles them (tsup.config.ts
// `noExternal`). They register into tfjs's global registries, shared by every copy of tfjs-core.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
