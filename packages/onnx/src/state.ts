/** One tensor of a state dict in PyTorch layout (conv weights OIHW, linear weights [out, in]). */
export interface TensorData {
  data: Float32Array;
  shape: number[];
}

/** A state dict keyed by the official PyTorch parameter names. */
export type StateDict = Record<string, TensorData>;

/** Fetches a tensor, checking its rank (and the sizes that are given). */
export function take(sd: StateDict, name: string, shape?: (number | null)[]): TensorData {
  const t = sd[name];
  if (!t) throw new Error(`state dict: missing "${name}"`);
  if (shape) {
    const ok = t.shape.length === shape.length && shape.every((s, i) => s === null || s === t.shape[i]);
    if (!ok) {
      const want = shape.map((s) => (s === null ? '?' : String(s))).join(', ');
      throw new Error(`state dict: "${name}" has shape [${t.shape.join(', ')}], expected [${want}]`);
    }
  }
  return t;
}

/**
 * Prefixes under which a backbone sits in the checkpoints we know: ours (`teacher.`/`student.`
 * with or without `backbone.`), official DINO training checkpoints (`teacher.backbone.` after
 * stripping `module.`), and plain backbones.
 */
const BACKBONE_PREFIXES = [
  'teacher.backbone.',
  'teacher.',
  'module.backbone.',
  'backbone.',
  'module.',
  'student.backbone.',
  'student.',
  '',
];

/**
 * Returns the backbone's state dict with its prefix removed. The teacher is preferred because
 * DINO's released weights are the teacher's. `marker` is a key that identifies the backbone
 * (e.g. `patch_embed.proj.weight` for a ViT, `conv1.weight` for a ResNet).
 */
export function backboneStateDict(sd: StateDict, marker: string): { prefix: string; state: StateDict } {
  for (const prefix of BACKBONE_PREFIXES) {
    if (!(prefix + marker in sd)) continue;
    const state: StateDict = {};
    for (const [k, v] of Object.entries(sd)) if (k.startsWith(prefix)) state[k.slice(prefix.length)] = v;
    return { prefix, state };
  }
  const sample = Object.keys(sd).slice(0, 5).join(', ');
  throw new Error(`state dict: no "${marker}" under any known prefix (${BACKBONE_PREFIXES.filter(Boolean).join(', ')}); keys start with: ${sample}`);
}
