import type { z } from 'zod';

/** What a config leaf accepts, reduced to what a flag parser needs. */
export type FieldKind = 'number' | 'integer' | 'boolean' | 'string' | 'enum' | 'pair' | 'count-or-string';

export interface FieldInfo {
  /** Group in the config (`model`, `optimization`, ...), or null for top-level keys. */
  group: string | null;
  key: string;
  kind: FieldKind;
  nullable: boolean;
  description: string;
  defaultValue: unknown;
  choices?: readonly string[];
}

// zod 4 keeps its definition tree on `_zod.def`; we only read it, to derive flags and docs.
interface Def {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  defaultValue?: unknown;
  entries?: Record<string, string>;
  options?: ZodLike[];
  items?: ZodLike[];
  checks?: { _zod: { def: { check?: string; format?: string } } }[];
  shape?: Record<string, ZodLike>;
}
export interface ZodLike {
  _zod: { def: Def };
  description?: string;
}

function describeKind(schema: ZodLike): { kind: FieldKind; nullable: boolean; defaultValue: unknown; choices?: readonly string[] } {
  let s = schema;
  let nullable = false;
  let defaultValue: unknown;
  for (;;) {
    const def = s._zod.def;
    if (def.type === 'default' || def.type === 'prefault') {
      if (defaultValue === undefined) defaultValue = def.defaultValue;
      s = def.innerType as ZodLike;
    } else if (def.type === 'nullable' || def.type === 'optional') {
      nullable = true;
      s = def.innerType as ZodLike;
    } else if (def.type === 'pipe') {
      s = def.in as ZodLike;
    } else break;
  }
  const def = s._zod.def;
  switch (def.type) {
    case 'number': {
      const int = (def.checks ?? []).some((c) => c._zod.def.format === 'safeint' || c._zod.def.format === 'int32');
      return { kind: int ? 'integer' : 'number', nullable, defaultValue };
    }
    case 'boolean':
      return { kind: 'boolean', nullable, defaultValue };
    case 'string':
      return { kind: 'string', nullable, defaultValue };
    case 'literal':
      return { kind: 'string', nullable, defaultValue };
    case 'enum':
      return { kind: 'enum', nullable, defaultValue, choices: Object.values(def.entries ?? {}) };
    case 'tuple':
      return { kind: 'pair', nullable, defaultValue };
    case 'union':
      return { kind: 'count-or-string', nullable, defaultValue };
    default:
      throw new Error(`config field of zod type '${def.type}' has no flag form`);
  }
}

/** Every leaf of a grouped config schema, keyed by its (unique) leaf name. */
export function configFields(schema: z.ZodObject): Map<string, FieldInfo> {
  const out = new Map<string, FieldInfo>();
  const add = (group: string | null, key: string, field: ZodLike) => {
    if (out.has(key)) throw new Error(`config schema: leaf key '${key}' appears twice; flat keys must be unique`);
    out.set(key, { group, key, description: field.description ?? '', ...describeKind(field) });
  };
  for (const [name, field] of Object.entries(schema.shape as Record<string, ZodLike>)) {
    const group = groupShape(field);
    if (group) for (const [key, leaf] of Object.entries(group)) add(name, key, leaf);
    else add(null, name, field);
  }
  return out;
}

/** The inner object shape of a (possibly wrapped) group, or null for a leaf. */
export function groupShape(field: ZodLike): Record<string, ZodLike> | null {
  let s = field;
  while (s._zod.def.innerType && s._zod.def.type !== 'object') s = s._zod.def.innerType;
  return s._zod.def.type === 'object' ? (s._zod.def.shape as Record<string, ZodLike>) : null;
}

/** Levenshtein distance (insert, delete, substitute all cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The candidate closest to `name` by edit distance (ties: the first in order). */
export function nearest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

export const kebab = (key: string): string => key.replace(/_/g, '-');
export const snake = (key: string): string => key.replace(/-/g, '_');
