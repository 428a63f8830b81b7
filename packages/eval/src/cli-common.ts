import { createModel, loadBackbone, VisionTransformer } from '@ssl/models';
import { initBackend } from '@ssl/tensor';

/** Flags of every ssl-eval command that reads weights (`vitFromWeights`), with the official spellings. */
export const WEIGHTS_FLAGS = {
  weights: { type: 'string' },
  'pretrained-weights': { type: 'string' },
  pretrained_weights: { type: 'string' },
  'checkpoint-key': { type: 'string' },
  checkpoint_key: { type: 'string' },
  'num-heads': { type: 'string' },
} as const;

/** Flags every image subcommand of ssl-eval shares (a ViT from weights or a seeded random one). */
export const MODEL_FLAGS = {
  ...WEIGHTS_FLAGS,
  'random-init': { type: 'boolean' },
  arch: { type: 'string', default: 'vit_small' },
  'patch-size': { type: 'string', default: '16' },
  depth: { type: 'string' },
  seed: { type: 'string', default: '0' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const WEIGHTS_HELP = `  --weights PATH         a ViT's weights: official .pth (dino_*_pretrain.pth, a main_dino.py
                         checkpoint.pth), safetensors (Hugging Face facebook/dino-* too) or a
                         checkpoint directory of ssl-train; the architecture is read off the file
                         (also --pretrained-weights / --pretrained_weights, as the official eval scripts)
  --checkpoint-key KEY   section of a checkpoint holding several networks (default teacher, as the
                         official --checkpoint_key)
  --num-heads N          attention heads where the file does not record them and the width is no
                         official preset (192: 3, 384: 6, 768: 12)
`;

export const MODEL_HELP = `${WEIGHTS_HELP}  --random-init          a randomly initialised RGB ViT instead (--arch, --patch-size, --depth, --seed)
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

/** The weights path of `--weights` or the official `--pretrained_weights` spellings. */
export function weightsFlag(values: Record<string, unknown>): string | undefined {
  return (values['weights'] ?? values['pretrained-weights'] ?? values['pretrained_weights']) as string | undefined;
}

/**
 * A ViT with its weights from any file @ssl/models' `loadBackbone` reads (architecture inferred),
 * `--checkpoint-key` / `--num-heads` applied, and a one-line description.
 */
export async function vitFromWeights(
  values: Record<string, unknown>,
  log: (line: string) => void = () => {},
): Promise<{ model: VisionTransformer; desc: string }> {
  const key = (values['checkpoint-key'] ?? values['checkpoint_key']) as string | undefined;
  const loaded = await loadBackbone(weightsFlag(values) as string, {
    ...(key ? { key } : {}),
    ...(values['num-heads'] ? { numHeads: intFlag(values, 'num-heads') } : {}),
  });
  if (!(loaded.model instanceof VisionTransformer) || loaded.spec.arch !== 'vit') {
    loaded.model.dispose();
    throw new Error(`${loaded.source}: ssl-eval evaluates ViTs; the weights hold a ${loaded.spec.arch}`);
  }
  for (const note of loaded.notes) log(`weights: ${note}`);
  const o = loaded.spec.options;
  const desc = `${loaded.source} (${loaded.layout}): ViT dim ${o.embedDim}, depth ${o.depth}, heads ${o.numHeads}, patch ${o.patchSize}, ${o.inChans} channel(s)`;
  return { model: loaded.model, desc };
}

/** The ViT the flags name, in eval mode, and a one-line description of it (the tensor backend is chosen first). */
export async function modelFromFlags(values: Values, log: (line: string) => void = () => {}): Promise<{ model: VisionTransformer; desc: string }> {
  await initBackend({ log });
  let model: VisionTransformer;
  let desc: string;
  if (weightsFlag(values)) {
    ({ model, desc } = await vitFromWeights(values, log));
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
