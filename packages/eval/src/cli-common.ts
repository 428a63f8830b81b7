import { createModel, type VisionTransformer } from '@ssl/models';
import { initBackend } from '@ssl/tensor';
import { loadVit } from './model-io.js';

/** Flags every image subcommand of ssl-eval shares (a ViT from weights or a seeded random one). */
export const MODEL_FLAGS = {
  weights: { type: 'string' },
  section: { type: 'string' },
  'num-heads': { type: 'string' },
  'random-init': { type: 'boolean' },
  arch: { type: 'string', default: 'vit_small' },
  'patch-size': { type: 'string', default: '16' },
  depth: { type: 'string' },
  seed: { type: 'string', default: '0' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const MODEL_HELP = `  --weights PATH         safetensors weights (teacher.* section by default) or a checkpoint directory
  --section NAME         teacher (default) or student, when the file holds both
  --num-heads N          attention heads (not stored in a state dict; default by width)
  --random-init          a randomly initialised RGB ViT instead (--arch, --patch-size, --depth, --seed)
  --arch NAME            vit_tiny | vit_small (default) | vit_base, random init
  --patch-size N         random init; default 16
  --depth N              random init; default the preset's 12
  --seed N               random init seed; default 0
  --json                 print the result as JSON
`;

type Values = Partial<Record<keyof typeof MODEL_FLAGS, string | boolean | undefined>>;

/** A non-negative integer flag, with an error naming it. */
export function intFlag(values: Record<string, unknown>, name: string): number {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got '${String(values[name])}'`);
  return v;
}

/** The ViT the flags name, in eval mode, and a one-line description of it (the tensor backend is chosen first). */
export async function modelFromFlags(values: Values, log: (line: string) => void = () => {}): Promise<{ model: VisionTransformer; desc: string }> {
  await initBackend({ log });
  let model: VisionTransformer;
  let desc: string;
  if (values.weights) {
    const loaded = await loadVit(values.weights as string, {
      ...(values.section ? { section: values.section as string } : {}),
      ...(values['num-heads'] ? { numHeads: intFlag(values, 'num-heads') } : {}),
    });
    model = loaded.model;
    const o = loaded.options;
    desc = `${loaded.file}: ViT dim ${o.embedDim}, depth ${o.depth}, heads ${o.numHeads}, patch ${o.patchSize}, ${o.inChans} channel(s)`;
  } else if (values['random-init']) {
    model = createModel(values.arch as string, {
      patchSize: intFlag(values, 'patch-size'),
      inChans: 3,
      seed: intFlag(values, 'seed'),
      ...(values.depth ? { depth: intFlag(values, 'depth') } : {}),
      ...(values['num-heads'] ? { numHeads: intFlag(values, 'num-heads') } : {}),
    }) as VisionTransformer;
    desc = `random init ${values.arch}, patch ${values['patch-size']}${values.depth ? `, depth ${values.depth}` : ''}, seed ${values.seed}`;
  } else {
    throw new Error('give --weights PATH or --random-init');
  }
  if (model.inChans !== 3) throw new Error(`this command needs an RGB model; the weights take ${model.inChans} channel(s)`);
  model.eval();
  return { model, desc };
}
