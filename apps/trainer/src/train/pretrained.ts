import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL_SPEC_FILE, readWeights, specOf } from '@ssl/models';
import type { Backbone, Module } from '@ssl/models';
import { tf } from '@ssl/tensor';

/**
 * Record the backbone's model spec (`{ arch, options }`) in the run directory, beside config.json:
 * `loadBackbone` of the run's checkpoints (ssl-infer, ssl-eval, --pretrained-weights) then builds
 * the model without guessing (ViT heads are not in the weights).
 */
export function writeModelSpec(outputDir: string, backbone: Backbone): void {
  writeFileSync(join(outputDir, MODEL_SPEC_FILE), `${JSON.stringify(specOf(backbone), null, 1)}\n`);
}

/**
 * Copy pretrained backbone weights (any file @ssl/models' `readWeights` reads: official .pth,
 * safetensors, Hugging Face, our checkpoints) into each of `backbones`, which must all be of the
 * configured architecture: every backbone tensor must be in the file with its shape. Returns a
 * line for the run's facts (file, layout, section, what was stripped or left out).
 */
export async function loadPretrainedBackbones(backbones: Module[], path: string, key: string | null): Promise<string> {
  const w = await readWeights(path, key !== null ? { key } : {});
  try {
    let leftOut = 0;
    for (const b of backbones) {
      const res = b.loadStateDict(w.stateDict, { strict: false });
      const problems = [
        ...(res.missing.length ? [`${res.missing.length} backbone tensors missing (${res.missing.slice(0, 4).join(', ')})`] : []),
        ...res.mismatched.slice(0, 4).map((m) => `'${m.key}' is [${m.got}] in the file, the configured model has [${m.expected}]`),
      ];
      if (problems.length) {
        throw new Error(`--pretrained-weights ${w.source}: the weights do not fit the configured arch: ${problems.join('; ')}`);
      }
      leftOut = res.unexpected.length;
    }
    const parts = [`${w.source} (${w.layout}${w.key ? `, '${w.key}'` : ''})`, ...w.notes];
    if (leftOut) parts.push(`${leftOut} tensors beyond the backbone left out`);
    return parts.join('; ');
  } finally {
    tf.dispose(Object.values(w.stateDict));
  }
}
