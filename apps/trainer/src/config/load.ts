import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { z } from 'zod';
import { dinoConfigSchema } from './dino.js';
import type { DinoConfig } from './dino.js';
import { configFields, groupShape, kebab, nearest, snake } from './fields.js';
import type { FieldInfo, ZodLike } from './fields.js';
import { pawsConfigSchema } from './paws.js';
import type { PawsConfig } from './paws.js';
import { presetFor } from './presets.js';

export type Method = 'dino' | 'paws';
export type MethodConfig<M extends Method> = M extends 'dino' ? DinoConfig : PawsConfig;

/** Official names that map onto one of our keys. */
const ALIASES: Record<Method, Record<string, string>> = {
  dino: {},
  paws: { folder: 'output_dir' },
};

export function methodSchema(method: Method): z.ZodObject {
  return (method === 'dino' ? dinoConfigSchema : pawsConfigSchema) as unknown as z.ZodObject;
}

const fieldCache = new Map<Method, Map<string, FieldInfo>>();
export function methodFields(method: Method): Map<string, FieldInfo> {
  let f = fieldCache.get(method);
  if (!f) {
    f = configFields(methodSchema(method));
    fieldCache.set(method, f);
  }
  return f;
}

type Grouped = Record<string, unknown>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every valid spelling of a key: `group.key` and the flat leaf names. */
function validNames(method: Method): string[] {
  const names: string[] = [];
  for (const f of methodFields(method).values()) names.push(f.group ? `${f.group}.${f.key}` : f.key, f.key);
  return names;
}

function unknownKey(method: Method, path: string, source: string): ConfigError {
  const leaf = path.split('.').pop() as string;
  const candidates = validNames(method);
  const guess = path.includes('.') ? nearest(path, candidates.filter((c) => c.includes('.'))) : nearest(leaf, candidates);
  const hint = guess ? ` (did you mean '${guess}'?)` : '';
  return new ConfigError(`${source}: unknown ${method} config key '${path}'${hint}. Run 'ssl-train ${method} --help' for the list.`);
}

/**
 * Bring a user object into the grouped shape: groups stay groups, flat official keys
 * (`lr: 0.001`, as in main_dino.py's args) move into their group, kebab-case becomes snake_case.
 * Unknown keys are an error naming the key and the nearest valid one.
 */
export function normalizeConfigObject(method: Method, raw: unknown, source: string): Grouped {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw new ConfigError(`${source}: expected a mapping of config keys, got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  const fields = methodFields(method);
  const shape = methodSchema(method).shape as Record<string, ZodLike>;
  const aliases = ALIASES[method];
  const out: Grouped = {};
  const put = (group: string | null, key: string, value: unknown) => {
    if (group === null) out[key] = value;
    else ((out[group] ??= {}) as Record<string, unknown>)[key] = value;
  };
  for (const [rawKey, value] of Object.entries(raw)) {
    const key = snake(rawKey);
    const groupFields = shape[key] ? groupShape(shape[key] as ZodLike) : null;
    if (groupFields) {
      if (value === null || value === undefined) continue;
      if (!isPlainObject(value)) throw new ConfigError(`${source}: '${key}' must be a mapping of ${key} keys`);
      for (const [rawInner, innerValue] of Object.entries(value)) {
        const inner = aliases[snake(rawInner)] ?? snake(rawInner);
        if (!(inner in groupFields)) {
          // A key of another group written under the wrong one is still a typo for the user.
          throw unknownKey(method, `${key}.${inner}`, source);
        }
        put(key, inner, innerValue);
      }
      continue;
    }
    const leaf = aliases[key] ?? key;
    const info = fields.get(leaf);
    if (!info) throw unknownKey(method, key, source);
    put(info.group, leaf, value);
  }
  return out;
}

/** Deep merge of grouped objects; later wins; arrays are values, not merged. */
export function mergeConfig(...layers: Grouped[]): Grouped {
  const out: Grouped = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (isPlainObject(v) && isPlainObject(out[k])) out[k] = { ...(out[k] as object), ...v };
      else if (isPlainObject(v)) out[k] = { ...v };
      else out[k] = v;
    }
  }
  return out;
}

/** Read a YAML or JSON config file (YAML is a superset of JSON; the extension only picks the error wording). */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    return extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
}

/** Parse one command-line value for a field (flags arrive as strings). */
export function coerceFlag(info: FieldInfo, value: unknown, flag: string): unknown {
  const bad = (expected: string) => new ConfigError(`${flag}: expected ${expected}, got '${Array.isArray(value) ? value.join(' ') : String(value)}'`);
  const one = (v: unknown): string => {
    if (Array.isArray(v)) {
      if (v.length !== 1) throw bad('one value');
      return String(v[0]);
    }
    return String(v);
  };
  if (info.nullable && (value === 'null' || value === 'none')) return null;
  switch (info.kind) {
    case 'boolean': {
      if (value === true || value === false) return value;
      const s = one(value).toLowerCase();
      // Same words as the official utils.bool_flag.
      if (['true', 'on', '1', 'yes'].includes(s)) return true;
      if (['false', 'off', '0', 'no'].includes(s)) return false;
      throw bad('a boolean (true/false, on/off, 1/0)');
    }
    case 'number':
    case 'integer': {
      const n = Number(one(value));
      if (one(value).trim() === '' || !Number.isFinite(n)) throw bad(info.kind === 'integer' ? 'an integer' : 'a number');
      return n;
    }
    case 'pair': {
      const parts = (Array.isArray(value) ? value : String(value).split(/[\s,]+/)).map(String).filter(Boolean);
      const nums = parts.map(Number);
      if (nums.length !== 2 || nums.some((n) => !Number.isFinite(n))) throw bad('two numbers, e.g. 0.4 1');
      return nums;
    }
    case 'count-or-string': {
      const s = one(value);
      return /^\d+$/.test(s) ? Number(s) : s;
    }
    default:
      return one(value);
  }
}

/** Flag values (leaf key -> raw value) into the grouped shape. */
export function flagsToConfig(method: Method, flags: Record<string, unknown>): Grouped {
  const fields = methodFields(method);
  const out: Grouped = {};
  for (const [rawKey, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const key = ALIASES[method][snake(rawKey)] ?? snake(rawKey);
    const info = fields.get(key);
    if (!info) throw unknownKey(method, key, 'command line');
    const v = coerceFlag(info, value, `--${kebab(key)}`);
    if (info.group === null) out[key] = v;
    else ((out[info.group] ??= {}) as Record<string, unknown>)[key] = v;
  }
  return out;
}

export interface ResolveOptions {
  /** Preset name (see `listPresets`). A file's `preset:` key is used when this is absent. */
  preset?: string | null;
  /** A config file path, or an already parsed object. */
  file?: string | Record<string, unknown> | null;
  /** Leaf key -> raw flag value (strings from the command line, or typed values). */
  flags?: Record<string, unknown>;
}

function formatZodError(method: Method, err: z.ZodError): string {
  const lines = err.issues.map((issue) => {
    const path = issue.path.join('.');
    const leaf = String(issue.path[issue.path.length - 1] ?? '');
    const flag = methodFields(method).has(leaf) ? ` (--${kebab(leaf)})` : '';
    return `  ${path}${flag}: ${issue.message}`;
  });
  return `invalid ${method} config:\n${lines.join('\n')}`;
}

/** defaults < preset < file < flags, validated. */
export function resolveConfig<M extends Method>(method: M, options: ResolveOptions = {}): MethodConfig<M> {
  const fileObj =
    typeof options.file === 'string'
      ? normalizeConfigObject(method, readConfigFile(options.file), options.file)
      : normalizeConfigObject(method, options.file ?? {}, 'config');
  const flagObj = flagsToConfig(method, options.flags ?? {});
  const presetName = (flagObj.preset as string | undefined) ?? options.preset ?? (fileObj.preset as string | undefined) ?? null;
  const presetObj = presetName ? normalizeConfigObject(method, presetFor(method, presetName), `preset '${presetName}'`) : {};
  const merged = mergeConfig(presetObj, fileObj, flagObj, presetName ? { preset: presetName } : {});
  if (merged.method !== undefined && merged.method !== method) {
    throw new ConfigError(`config says method '${String(merged.method)}' but this is 'ssl-train ${method}'`);
  }
  const parsed = methodSchema(method).safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatZodError(method, parsed.error));
  return parsed.data as MethodConfig<M>;
}

/** Write the resolved config as `config.yaml` (plus `config.json`) into `dir`. Returns the YAML path. */
export function writeResolvedConfig(dir: string, config: DinoConfig | PawsConfig): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'config.yaml');
  const header = `# ssl-train ${config.method}: resolved config (defaults < preset < file < flags).\n# Rerun with: ssl-train ${config.method} --config ${path}\n`;
  writeFileSync(path, header + stringifyYaml(config));
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return path;
}
