import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readSafetensors, VisionTransformer, type VisionTransformerOptions } from '@ssl/models';
import { tf } from '@ssl/tensor';

/**
 * Heads by width: the DINO presets (vit_tiny 192/3, vit_small 384/6, vit_base 768/12) and the
 * Fashion-MNIST recipe of ssl-train (96/3); otherwise 64-wide heads where that divides.
 */
function defaultHeads(embedDim: number): number {
  const known: Record<number, number> = { 96: 3, 192: 3, 384: 6, 768: 12 };
  return known[embedDim] ?? (embedDim % 64 === 0 ? embedDim / 64 : 1);
}

/**
 * The ViT head count recorded for a checkpoint directory (the weights cannot tell it): `num_heads`
 * anywhere in its state.json config, else in the resolved `config.json` that ssl-train writes in the
 * run directory above it (the engine's state.json holds the loop's config, not the model's).
 */
export function checkpointNumHeads(dir: string): number | undefined {
  const find = (v: unknown): number | undefined => {
    if (v === null || typeof v !== 'object') return undefined;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if ((k === 'num_heads' || k === 'numHeads') && typeof x === 'number' && Number.isInteger(x) && x > 0) return x;
      const inner = find(x);
      if (inner !== undefined) return inner;
    }
    return undefined;
  };
  const read = (file: string): unknown => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
  const state = read(join(dir, 'state.json')) as { config?: unknown } | undefined;
  return find(state?.config) ?? find(read(join(dirname(dir), 'config.json')));
}

/**
 * The backbone keys of a state dict with any checkpoint prefix removed, choosing the `section`
 * (`teacher` by default, as DINO releases the teacher) when both networks are present.
 */
function backboneKeys(dict: Record<string, tf.Tensor>, section: string): Map<string, tf.Tensor> {
  const keys = Object.keys(dict);
  const hasSections = keys.some((k) => k.startsWith('teacher.') || k.startsWith('student.'));
  const out = new Map<string, tf.Tensor>();
  for (const k of keys) {
    let key = k;
    if (hasSections) {
      if (!key.startsWith(`${section}.`)) continue;
      key = key.slice(section.length + 1);
    }
    for (const p of ['module.', 'backbone.']) if (key.startsWith(p)) key = key.slice(p.length);
    out.set(key, dict[k] as tf.Tensor);
  }
  return out;
}

/**
 * ViT hyper-parameters read off a PyTorch-named state dict: width from `cls_token`, patch size and
 * input channels from `patch_embed.proj.weight` (OIHW), depth from the block count, training image
 * size from `pos_embed`. The head count is not stored in a state dict: DINO preset values by width
 * unless given.
 */
export function vitOptionsFromStateDict(
  dict: Record<string, tf.Tensor>,
  options: { section?: string; numHeads?: number } = {},
): VisionTransformerOptions {
  const keys = backboneKeys(dict, options.section ?? 'teacher');
  const cls = keys.get('cls_token');
  const proj = keys.get('patch_embed.proj.weight');
  const pos = keys.get('pos_embed');
  if (!cls || !proj || !pos) {
    throw new Error('state dict: not a ViT backbone (need cls_token, pos_embed and patch_embed.proj.weight, optionally under teacher./student./module./backbone.)');
  }
  const embedDim = cls.shape[2] as number;
  const [, inChans, patchSize] = proj.shape as [number, number, number, number];
  let depth = 0;
  while (keys.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  const grid = Math.round(Math.sqrt((pos.shape[1] as number) - 1));
  const qkvBias = keys.has('blocks.0.attn.qkv.bias');
  return { embedDim, inChans, patchSize, depth, imgSize: grid * patchSize, numHeads: options.numHeads ?? defaultHeads(embedDim), qkvBias };
}

/**
 * Load a ViT from a safetensors file or a checkpoint directory (`checkpoint.safetensors` inside),
 * building it from the shapes in the file; the head count comes from `options`, else the
 * directory's `state.json` config, else the width. Returns the model and the options it was built with.
 */
export async function loadVit(
  path: string,
  options: { section?: string; numHeads?: number } = {},
): Promise<{ model: VisionTransformer; options: VisionTransformerOptions; file: string }> {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'checkpoint.safetensors') : path;
  if (!existsSync(file)) throw new Error(`weights: ${file} does not exist (expected a .safetensors file or a checkpoint directory)`);
  const dict = await readSafetensors(file);
  try {
    const numHeads = options.numHeads ?? checkpointNumHeads(dirname(file));
    const vitOptions = vitOptionsFromStateDict(dict, { ...options, ...(numHeads !== undefined ? { numHeads } : {}) });
    const model = new VisionTransformer(vitOptions);
    const loadOpts = options.section !== undefined ? { strict: false, section: options.section } : { strict: false };
    const res = model.loadStateDict(dict, loadOpts);
    if (res.missing.length > 0) throw new Error(`weights: ${file} lacks ${res.missing.length} backbone keys, e.g. ${res.missing.slice(0, 3).join(', ')}`);
    return { model, options: vitOptions, file };
  } finally {
    tf.dispose(Object.values(dict));
  }
}
