/**
 * Weights as users download or train them, to a backbone state dict under the official names.
 *
 * Files: safetensors, `torch.save` `.pth`/`.pt` (read by `torch_checkpoint.ts`), or one of our
 * checkpoint directories (`checkpoint.safetensors` + `state.json`). Layouts, detected and reported:
 * - bare backbone state dicts (the released `dino_*_pretrain.pth`);
 * - `main_dino.py` save dicts (`student`/`teacher` with `module.` and `backbone.`, `optimizer`,
 *   `epoch`, `args` Namespace, `dino_loss`): the `teacher` by default, as the official
 *   `--checkpoint_key`;
 * - PAWS checkpoints (`encoder` with `module.`, heads `fc.*`/`pred.*`);
 * - Hugging Face `ViTModel` names (`facebook/dino-*`: `embeddings.*`, `encoder.layer.N.*`), mapped
 *   onto the official ones (`query`/`key`/`value` concatenated into `qkv`);
 * - our own checkpoints (`teacher.*`/`student.*` or `encoder.*`, the model spec in `state.json`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import type { Backbone } from './backbone.js';
import { CHECKPOINT_SECTIONS, wrapperPrefix } from './module.js';
import { isPickleDict, PickleObject } from './pickle.js';
import { VIT_PRESETS } from './registry.js';
import { parseSafetensorsWithMetadata } from './safetensors.js';
import { buildModel, inferModelSpec, parseModelSpec } from './spec.js';
import type { ModelSpec, VitSpecOptions } from './spec.js';
import { parseTorchCheckpoint, TorchTensor } from './torch_checkpoint.js';
import { isZip } from './zip.js';

/** A state dict: PyTorch names, shapes and layouts, as `Module.loadStateDict` takes. */
export type StateDict = Record<string, Tensor>;

export type WeightsFormat = 'safetensors' | 'torch';

/** How the weights were laid out in the file. */
export type WeightsLayout = 'bare' | 'main_dino' | 'paws' | 'huggingface' | 'ssl-vision' | 'checkpoint';

export interface LoadWeightsOptions {
  /**
   * Section of a checkpoint holding several networks (`teacher`, `student`, `encoder`, ...), as the
   * official `--checkpoint_key`. Default: `teacher`, else `encoder`, `target_encoder`, `model`,
   * `state_dict`, `student`, whichever the file has first; a bare state dict is used as is.
   */
  key?: string;
  /** Default: from the file's first bytes. */
  format?: WeightsFormat;
  /** Names bytes in messages. */
  name?: string;
}

export interface Weights {
  /** The backbone's state dict (and any head under it, e.g. `head.*`); the caller disposes it. */
  stateDict: StateDict;
  source: string;
  format: WeightsFormat;
  layout: WeightsLayout;
  /** The section taken (`teacher`, `encoder`, ...), or null for a bare state dict. */
  key: string | null;
  /** What was done to get there, for the user: sections taken, prefixes stripped, names mapped. */
  notes: string[];
  /** The full spec when the file records one (our checkpoints, safetensors metadata `ssl.model`). */
  spec?: ModelSpec;
  /** What the file says about a ViT where the weights cannot tell (heads from `args.arch`, HF config). */
  recorded?: Partial<VitSpecOptions>;
}

const SECTION_ORDER: readonly string[] = CHECKPOINT_SECTIONS;
/** A key only Hugging Face ViT checkpoints have (their `encoder.` is no PAWS section). */
const HF_MARKER = 'embeddings.patch_embeddings.projection.weight';
/** Safetensors metadata key holding our model spec (JSON). */
export const SPEC_METADATA_KEY = 'ssl.model';

type Entry = TorchTensor | Tensor;

interface Source {
  entries: Map<string, Entry>;
  format: WeightsFormat;
  tree?: unknown;
  metadata?: Record<string, string>;
  spec?: ModelSpec;
  recorded?: Partial<VitSpecOptions>;
  ours: boolean;
}

const ARCH_ALIASES: Record<string, keyof typeof VIT_PRESETS> = { deit_tiny: 'vit_tiny', deit_small: 'vit_small' };

/** ViT facts recorded in a main_dino.py `args` Namespace (`arch`, `patch_size`). */
function recordedFromArgs(args: unknown): Partial<VitSpecOptions> | undefined {
  if (!(args instanceof PickleObject)) return undefined;
  const f = args.fields;
  const arch = typeof f['arch'] === 'string' ? f['arch'] : undefined;
  const preset = arch ? VIT_PRESETS[(ARCH_ALIASES[arch] ?? arch) as keyof typeof VIT_PRESETS] : undefined;
  if (!preset) return undefined;
  return { numHeads: preset.numHeads };
}

/** The ViT heads recorded beside our checkpoints: `num_heads` anywhere in a config object. */
function findNumHeads(v: unknown, depth = 0): number | undefined {
  if (v === null || typeof v !== 'object' || depth > 8) return undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if ((k === 'num_heads' || k === 'numHeads') && typeof x === 'number' && Number.isInteger(x) && x > 0) return x;
    const inner = findNumHeads(x, depth + 1);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

function readJson(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** File of a run directory (beside config.json) holding the backbone's model spec, written by ssl-train. */
export const MODEL_SPEC_FILE = 'model.json';

/**
 * What a checkpoint directory of ours records about its model: the spec (`model` in state.json, or
 * model.json in the run directory above it), else `num_heads` in its config or the run's config.json.
 */
function recordedInDirectory(dir: string): { spec?: ModelSpec; recorded?: Partial<VitSpecOptions> } {
  const state = readJson(join(dir, 'state.json')) as { model?: unknown; config?: unknown } | undefined;
  if (state?.model !== undefined) return { spec: parseModelSpec(state.model, join(dir, 'state.json')) };
  for (const file of [join(dir, MODEL_SPEC_FILE), join(dirname(dir), MODEL_SPEC_FILE)]) {
    const spec = readJson(file);
    if (spec !== undefined) return { spec: parseModelSpec(spec, file) };
  }
  const heads = findNumHeads(state?.config) ?? findNumHeads(readJson(join(dirname(dir), 'config.json')));
  return heads !== undefined ? { recorded: { numHeads: heads } } : {};
}

/** Hugging Face `config.json` beside a `model.safetensors`: heads and LayerNorm eps. */
function recordedFromHfConfig(file: string): Partial<VitSpecOptions> | undefined {
  const cfg = readJson(join(dirname(file), 'config.json')) as { num_attention_heads?: unknown; layer_norm_eps?: unknown } | undefined;
  if (!cfg) return undefined;
  const out: Partial<VitSpecOptions> = {};
  if (typeof cfg.num_attention_heads === 'number') out.numHeads = cfg.num_attention_heads;
  if (typeof cfg.layer_norm_eps === 'number') out.normEps = cfg.layer_norm_eps;
  return out;
}

function resolveFile(path: string): { file: string; dir: string | null } {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Error(`weights: no such file or directory: ${path}`);
  }
  if (!st.isDirectory()) return { file: path, dir: null };
  for (const dir of [path, join(path, 'checkpoint')]) {
    if (existsSync(join(dir, 'checkpoint.safetensors'))) return { file: join(dir, 'checkpoint.safetensors'), dir };
  }
  throw new Error(`weights: ${path} is a directory without checkpoint.safetensors (expected a checkpoint or run directory)`);
}

function openSource(bytes: Uint8Array, name: string, format: WeightsFormat | undefined): Source {
  const fmt = format ?? (isZip(bytes) ? 'torch' : 'safetensors');
  if (fmt === 'torch') {
    const ck = parseTorchCheckpoint(bytes, name);
    const entries = new Map<string, Entry>(Object.entries(ck.tensors));
    const tree = ck.tree;
    const recorded = isPickleDict(tree) ? recordedFromArgs(tree['args']) : undefined;
    return { entries, format: fmt, tree, ours: false, ...(recorded ? { recorded } : {}) };
  }
  let file;
  try {
    file = parseSafetensorsWithMetadata(bytes);
  } catch (err) {
    const hint = bytes.length >= 2 && bytes[0] === 0x80 ? ' (it looks like a pickle: a .pth written by torch.save before PyTorch 1.6?)' : '';
    throw new Error(`${name}: not a safetensors file${hint}: ${(err as Error).message}`);
  }
  const src: Source = { entries: new Map(Object.entries(file.tensors)), format: fmt, metadata: file.metadata, ours: file.metadata['format'] === 'ssl-vision-checkpoint' };
  const recordedSpec = file.metadata[SPEC_METADATA_KEY];
  if (recordedSpec !== undefined) {
    try {
      src.spec = parseModelSpec(JSON.parse(recordedSpec), `${name} metadata '${SPEC_METADATA_KEY}'`);
    } catch (err) {
      tf.dispose([...src.entries.values()].filter((e): e is Tensor => !(e instanceof TorchTensor)));
      throw err;
    }
  }
  return src;
}

/** Hugging Face ViTModel names -> the official DINO names. Returns null when the keys are not HF's. */
function fromHuggingFace(dict: Map<string, Tensor>, notes: string[]): Map<string, Tensor> | null {
  const hfKey = [...dict.keys()].find((k) => k.endsWith(HF_MARKER));
  if (hfKey === undefined) return null;
  const prefix = hfKey.slice(0, hfKey.length - HF_MARKER.length); // '' or 'vit.'
  const out = new Map<string, Tensor>();
  const used = new Set<string>();
  const get = (k: string): Tensor | undefined => {
    const t = dict.get(prefix + k);
    if (t) used.add(prefix + k);
    return t;
  };
  const move = (from: string, to: string) => {
    const t = get(from);
    if (t) out.set(to, t);
  };
  move('embeddings.cls_token', 'cls_token');
  move('embeddings.position_embeddings', 'pos_embed');
  move('embeddings.patch_embeddings.projection.weight', 'patch_embed.proj.weight');
  move('embeddings.patch_embeddings.projection.bias', 'patch_embed.proj.bias');
  let depth = 0;
  for (; dict.has(`${prefix}encoder.layer.${depth}.attention.attention.query.weight`); depth++) {
    const hf = `encoder.layer.${depth}`;
    const ours = `blocks.${depth}`;
    move(`${hf}.layernorm_before.weight`, `${ours}.norm1.weight`);
    move(`${hf}.layernorm_before.bias`, `${ours}.norm1.bias`);
    for (const p of ['weight', 'bias']) {
      const qkv = ['query', 'key', 'value'].map((n) => get(`${hf}.attention.attention.${n}.${p}`));
      if (qkv.every((t) => t !== undefined)) out.set(`${ours}.attn.qkv.${p}`, tf.concat(qkv as Tensor[], 0)); // [3D, D] / [3D]
    }
    move(`${hf}.attention.output.dense.weight`, `${ours}.attn.proj.weight`);
    move(`${hf}.attention.output.dense.bias`, `${ours}.attn.proj.bias`);
    move(`${hf}.layernorm_after.weight`, `${ours}.norm2.weight`);
    move(`${hf}.layernorm_after.bias`, `${ours}.norm2.bias`);
    move(`${hf}.intermediate.dense.weight`, `${ours}.mlp.fc1.weight`);
    move(`${hf}.intermediate.dense.bias`, `${ours}.mlp.fc1.bias`);
    move(`${hf}.output.dense.weight`, `${ours}.mlp.fc2.weight`);
    move(`${hf}.output.dense.bias`, `${ours}.mlp.fc2.bias`);
  }
  move('layernorm.weight', 'norm.weight');
  move('layernorm.bias', 'norm.bias');
  // The concatenated qkv tensors are new; the per-projection ones they came from are freed.
  for (const [k, t] of dict) {
    if (/\.attention\.attention\.(query|key|value)\./.test(k)) t.dispose();
    else if (!used.has(k)) {
      notes.push(`left out '${k}' (not part of the backbone)`);
      t.dispose();
    }
  }
  notes.push(`mapped Hugging Face ViTModel names onto the official ones (${depth} blocks, query/key/value -> qkv)`);
  return out;
}

function toTensor(e: Entry): Tensor {
  return e instanceof TorchTensor ? e.toTensor() : e;
}

function disposeUnused(entries: Iterable<Entry>): void {
  for (const e of entries) if (!(e instanceof TorchTensor) && !e.isDisposed) e.dispose();
}

/**
 * Read weights and reduce them to a backbone state dict (plus heads under it), reporting the
 * layout and every step taken. See `loadWeights` for the plain state dict.
 */
export async function readWeights(pathOrBytes: string | Uint8Array, options: LoadWeightsOptions = {}): Promise<Weights> {
  let bytes: Uint8Array;
  let source: string;
  let fileRecorded: { spec?: ModelSpec; recorded?: Partial<VitSpecOptions> } = {};
  let file: string | null = null;
  if (typeof pathOrBytes === 'string') {
    const r = resolveFile(pathOrBytes);
    file = r.file;
    source = r.file;
    if (r.dir) fileRecorded = recordedInDirectory(r.dir);
    const buf = readFileSync(r.file);
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } else if (pathOrBytes instanceof Uint8Array) {
    bytes = pathOrBytes;
    source = options.name ?? `<${bytes.length} bytes>`;
  } else {
    throw new TypeError('loadWeights: expected a file path (string) or the file bytes (Uint8Array)');
  }
  const src = openSource(bytes, source, options.format);
  const notes: string[] = [];
  try {
    // 1. The section: --checkpoint-key, else the first of SECTION_ORDER present, else all keys.
    const keys = [...src.entries.keys()];
    const sections = [...new Set(keys.filter((k) => k.includes('.')).map((k) => k.slice(0, k.indexOf('.'))))];
    let key: string | null = null;
    if (options.key !== undefined) {
      if (sections.includes(options.key)) key = options.key;
      else if (SECTION_ORDER.some((s) => sections.includes(s))) {
        throw new Error(`${source}: no section '${options.key}' (--checkpoint-key); it has: ${sections.join(', ')}`);
      } else notes.push(`no section '${options.key}': the file is a bare state dict, used as is (as the official load_pretrained_weights)`);
    } else if (!keys.some((k) => k.endsWith(HF_MARKER))) key = SECTION_ORDER.find((s) => sections.includes(s)) ?? null;
    let chosen = new Map<string, Entry>();
    if (key !== null) {
      const p = `${key}.`;
      for (const [k, e] of src.entries) if (k.startsWith(p)) chosen.set(k.slice(p.length), e);
      notes.push(`took '${key}' (${chosen.size} of ${src.entries.size} tensors)`);
    } else chosen = new Map(src.entries);

    // 2. Wrapper prefixes, per key as the official load_pretrained_weights.
    const counts = new Map<string, number>();
    const stripped = new Map<string, Entry>();
    for (const [k0, e] of chosen) {
      let k = k0;
      for (let p = wrapperPrefix(k); p; p = wrapperPrefix(k)) {
        counts.set(p, (counts.get(p) ?? 0) + 1);
        k = k.slice(p.length);
      }
      if (stripped.has(k)) throw new Error(`${source}: keys '${k0}' and another both become '${k}' once prefixes are stripped`);
      stripped.set(k, e);
    }
    for (const [p, n] of counts) notes.push(`stripped '${p}' from ${n} keys`);

    // 3. Tensors (read from the file only now), and Hugging Face names mapped.
    const kept = new Set(stripped.values());
    disposeUnused([...src.entries.values()].filter((e) => !kept.has(e)));
    let dict = new Map<string, Tensor>();
    try {
      for (const [k, e] of stripped) dict.set(k, toTensor(e));
    } catch (err) {
      disposeUnused(dict.values());
      disposeUnused(stripped.values());
      throw new Error(`${source}: ${(err as Error).message}`);
    }
    const hf = fromHuggingFace(dict, notes);
    if (hf) dict = hf;

    const tree = src.tree;
    const layout: WeightsLayout = hf
      ? 'huggingface'
      : src.ours || fileRecorded.spec || fileRecorded.recorded
        ? 'ssl-vision'
        : isPickleDict(tree) && 'teacher' in tree && 'student' in tree
          ? 'main_dino'
          : key === 'encoder'
            ? 'paws'
            : key === null
              ? 'bare'
              : 'checkpoint';
    if (layout === 'main_dino' && isPickleDict(tree) && typeof tree['epoch'] === 'number') notes.unshift(`main_dino.py checkpoint of epoch ${tree['epoch']}`);
    const recorded = { ...src.recorded, ...fileRecorded.recorded, ...(hf && file ? recordedFromHfConfig(file) : {}) };
    const spec = fileRecorded.spec ?? src.spec;
    const out: Weights = { stateDict: Object.fromEntries(dict), source, format: src.format, layout, key, notes };
    if (spec) out.spec = spec;
    if (Object.keys(recorded).length) out.recorded = recorded;
    return out;
  } catch (err) {
    disposeUnused(src.entries.values());
    throw err;
  }
}

/**
 * The backbone state dict of a safetensors file, a `torch.save` `.pth`/`.pt` or a checkpoint
 * directory, in any layout `readWeights` knows. The caller disposes the tensors.
 */
export async function loadWeights(pathOrBytes: string | Uint8Array, options: LoadWeightsOptions = {}): Promise<StateDict> {
  return (await readWeights(pathOrBytes, options)).stateDict;
}

export interface LoadBackboneOptions extends LoadWeightsOptions {
  /** ViT heads where the file does not record them and the width is no official preset (`--num-heads`). */
  numHeads?: number;
  /** Build this model instead of the one inferred from the weights (its weights must fit). */
  spec?: ModelSpec;
}

export interface LoadedBackbone {
  model: Backbone;
  spec: ModelSpec;
  source: string;
  layout: WeightsLayout;
  key: string | null;
  notes: string[];
}

/**
 * A backbone with its weights, from any file `loadWeights` reads: the spec is the one the file
 * records, else inferred from the weights (`inferModelSpec`). Every backbone tensor must be in the
 * file; tensors beyond the backbone (DINO `head.*`, PAWS `fc.*`/`pred.*`) are left out and noted.
 */
export async function loadBackbone(pathOrBytes: string | Uint8Array, options: LoadBackboneOptions = {}): Promise<LoadedBackbone> {
  const w = await readWeights(pathOrBytes, options);
  try {
    let spec = options.spec ?? w.spec;
    if (!spec) {
      spec = inferModelSpec(w.stateDict, {
        ...(options.numHeads !== undefined ? { numHeads: options.numHeads } : {}),
        ...(w.recorded ? { recorded: w.recorded } : {}),
        name: w.source,
      });
    } else if (spec.arch === 'vit' && options.numHeads !== undefined) {
      spec = { arch: 'vit', options: { ...spec.options, numHeads: options.numHeads } };
    }
    const model = buildModel(spec);
    try {
      const res = model.loadStateDict(w.stateDict, { strict: false });
      const problems = [
        ...(res.missing.length ? [`${res.missing.length} backbone tensors missing (${res.missing.slice(0, 4).join(', ')})`] : []),
        ...res.mismatched.slice(0, 4).map((m) => `'${m.key}' is [${m.got}], the ${spec.arch} spec needs [${m.expected}]`),
      ];
      if (problems.length) throw new Error(`${w.source}: the weights do not fit ${JSON.stringify(spec)}: ${problems.join('; ')}`);
      const notes = [...w.notes];
      if (res.unexpected.length) notes.push(`left out ${res.unexpected.length} tensors beyond the backbone (${res.unexpected.slice(0, 3).join(', ')}${res.unexpected.length > 3 ? ', ...' : ''})`);
      return { model, spec, source: w.source, layout: w.layout, key: w.key, notes };
    } catch (err) {
      model.dispose();
      throw err;
    }
  } finally {
    tf.dispose(Object.values(w.stateDict));
  }
}
