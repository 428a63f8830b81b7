import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Index, MetricKind } from 'usearch';

export interface IndexEntry {
  id: string;
  label?: string;
}

/** Pictures kept with an entry so it can be browsed and re-run: the model's input crop and a small thumbnail. */
export interface EntryImages {
  /** The crop fed to the model, losslessly encoded (PNG): re-running it gives the same embedding. */
  crop: Uint8Array;
  /** A small preview (WebP). */
  thumbnail: Uint8Array;
}

/** One entry as listed: its pictures, when kept, are fetched separately. */
export interface ListedEntry extends IndexEntry {
  hasImages: boolean;
}

interface StoredEntry extends IndexEntry {
  images?: true;
}

export interface Neighbor extends IndexEntry {
  /** Cosine similarity to the query. */
  similarity: number;
}

interface Meta {
  version: 1;
  dimensions: number;
  nextKey: number;
  /** key -> entry */
  entries: Record<string, StoredEntry>;
}

const VECTORS = 'vectors.usearch';
const META = 'entries.json';
/** The raw embeddings too (usearch cannot hand vectors back), in the key order of entries.json. */
const EMBEDDINGS = 'embeddings.f32';
const CROPS = 'crops';
const THUMBS = 'thumbs';

/**
 * A persistent cosine-similarity vector index: usearch (HNSW, single-file index, prebuilt N-API
 * binary in the npm package) for the vectors, plus a JSON map from usearch keys to string ids and
 * labels. Both files are written to a temporary name and renamed after every change, so a restart
 * reopens exactly what was acknowledged. Pictures given with an entry sit in `crops/<key>.png` and
 * `thumbs/<key>.webp`, written before the entry list that names them.
 */
export class VectorIndex {
  private index: Index;
  private meta: Meta;
  private readonly byId = new Map<string, bigint>();
  private readonly vectorOf = new Map<bigint, Float32Array>();
  private version = 0;
  /** Keys in insertion order, rebuilt lazily after a change (for paging). */
  private order: string[] | null = null;

  private constructor(
    readonly dir: string,
    index: Index,
    meta: Meta,
  ) {
    this.index = index;
    this.meta = meta;
    for (const [key, e] of Object.entries(meta.entries)) this.byId.set(e.id, BigInt(key));
    const embPath = join(dir, EMBEDDINGS);
    const keys = Object.keys(meta.entries);
    if (keys.length > 0 && existsSync(embPath)) {
      const buf = readFileSync(embPath);
      // An index written before embeddings were kept has no file; a mismatched one is ignored (maps then skip those entries).
      if (buf.byteLength === keys.length * meta.dimensions * 4) {
        const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        keys.forEach((k, i) => this.vectorOf.set(BigInt(k), all.subarray(i * meta.dimensions, (i + 1) * meta.dimensions)));
      }
    }
  }

  /** Opens the index in `dir` (created when missing). `dimensions` must match a stored index. */
  static open(dir: string, dimensions: number): VectorIndex {
    mkdirSync(dir, { recursive: true });
    const metaPath = join(dir, META);
    const index = new Index({ dimensions, metric: MetricKind.Cos, connectivity: 16, expansion_add: 128, expansion_search: 64, multi: false } as ConstructorParameters<typeof Index>[0] & object);
    if (!existsSync(metaPath)) {
      return new VectorIndex(dir, index, { version: 1, dimensions, nextKey: 0, entries: {} });
    }
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Meta;
    if (meta.dimensions !== dimensions) {
      throw new Error(`vector index in ${dir} holds ${meta.dimensions}-d vectors, but the model gives ${dimensions}-d embeddings; use another --index-dir`);
    }
    if (Object.keys(meta.entries).length > 0) index.load(join(dir, VECTORS));
    return new VectorIndex(dir, index, meta);
  }

  get size(): number {
    return this.byId.size;
  }

  get dimensions(): number {
    return this.meta.dimensions;
  }

  /** Changes with every add: a cache of something computed from the entries compares it. */
  get revision(): number {
    return this.version;
  }

  /** Every entry with its stored embedding (insertion order); entries without one are counted in `missing`. */
  embeddings(): { entries: (IndexEntry & { vector: Float32Array })[]; missing: number } {
    const entries: (IndexEntry & { vector: Float32Array })[] = [];
    let missing = 0;
    for (const [key, e] of Object.entries(this.meta.entries)) {
      const vector = this.vectorOf.get(BigInt(key));
      if (vector) entries.push({ ...e, vector });
      else missing++;
    }
    return { entries, missing };
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Adds (or replaces, by id) entries with their embeddings (and optionally pictures), then persists. */
  add(items: { id: string; label?: string; vector: Float32Array; images?: EntryImages }[]): void {
    for (const it of items) {
      if (it.vector.length !== this.meta.dimensions) {
        throw new Error(`index: embedding for "${it.id}" has ${it.vector.length} values, expected ${this.meta.dimensions}`);
      }
    }
    const replaced: string[] = [];
    for (const it of items) {
      const old = this.byId.get(it.id);
      if (old !== undefined) {
        this.index.remove(old);
        if (this.meta.entries[String(old)]?.images) replaced.push(String(old));
        delete this.meta.entries[String(old)];
        this.vectorOf.delete(old);
      }
      const key = BigInt(this.meta.nextKey++);
      this.index.add(key, it.vector);
      this.vectorOf.set(key, Float32Array.from(it.vector));
      const entry: StoredEntry = { id: it.id };
      if (it.label !== undefined) entry.label = it.label;
      if (it.images) {
        writeAtomic(this.picturePath(CROPS, String(key)), it.images.crop);
        writeAtomic(this.picturePath(THUMBS, String(key)), it.images.thumbnail);
        entry.images = true;
      }
      this.meta.entries[String(key)] = entry;
      this.byId.set(it.id, key);
    }
    this.version++;
    this.order = null;
    this.persist();
    // Only once the new entry list no longer names them.
    for (const key of replaced) {
      rmSync(this.picturePath(CROPS, key), { force: true });
      rmSync(this.picturePath(THUMBS, key), { force: true });
    }
  }

  /** Entries in insertion order, `limit` of them from `offset` (a page of the index). */
  list(offset: number, limit: number): ListedEntry[] {
    this.order ??= Object.keys(this.meta.entries).sort((a, b) => Number(a) - Number(b));
    return this.order.slice(offset, offset + limit).map((key) => {
      const e = this.meta.entries[key] as StoredEntry;
      const out: ListedEntry = { id: e.id, hasImages: e.images === true };
      if (e.label !== undefined) out.label = e.label;
      return out;
    });
  }

  /** The entry's thumbnail (WebP) or model-input crop (PNG), or null when it was indexed without pictures. */
  picture(id: string, kind: 'thumbnail' | 'crop'): Buffer | null {
    const key = this.byId.get(id);
    if (key === undefined || !this.meta.entries[String(key)]?.images) return null;
    return readFileSync(this.picturePath(kind === 'crop' ? CROPS : THUMBS, String(key)));
  }

  /** Entries per label (unlabelled ones not counted), sorted by label. */
  labelCounts(): { label: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const e of Object.values(this.meta.entries)) if (e.label !== undefined) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
    return [...counts.keys()].sort().map((label) => ({ label, count: counts.get(label) as number }));
  }

  private picturePath(kind: string, key: string): string {
    return join(this.dir, kind, `${key}.${kind === CROPS ? 'png' : 'webp'}`);
  }

  /** The `k` nearest entries by cosine similarity, best first (optionally only labelled ones). */
  search(vector: Float32Array, k: number, options: { labelledOnly?: boolean } = {}): Neighbor[] {
    if (this.size === 0) return [];
    // Removed (replaced) keys and unlabelled entries are filtered, so ask for more than k.
    const want = options.labelledOnly ? this.size : Math.min(this.size, k);
    const m = this.index.search(vector, Math.max(1, Math.min(this.index.size(), want + 8)), 0);
    const out: Neighbor[] = [];
    for (let i = 0; i < m.keys.length && out.length < k; i++) {
      const entry = this.meta.entries[String(m.keys[i])];
      if (!entry || (options.labelledOnly && entry.label === undefined)) continue;
      out.push({ ...entry, similarity: 1 - (m.distances[i] as number) });
    }
    return out;
  }

  /** All distinct labels, sorted (the classes of the k-NN vote). */
  labels(): string[] {
    return this.labelCounts().map((c) => c.label);
  }

  private persist(): void {
    const vPath = join(this.dir, VECTORS);
    const mPath = join(this.dir, META);
    // usearch appends nothing to the name; write beside and rename so readers never see half a file.
    this.index.save(`${vPath}.tmp`);
    renameSync(`${vPath}.tmp`, vPath);
    const ePath = join(this.dir, EMBEDDINGS);
    const keys = Object.keys(this.meta.entries);
    const all = new Float32Array(keys.length * this.meta.dimensions);
    keys.forEach((k, i) => {
      const v = this.vectorOf.get(BigInt(k));
      if (v) all.set(v, i * this.meta.dimensions);
    });
    writeFileSync(`${ePath}.tmp`, all);
    renameSync(`${ePath}.tmp`, ePath);
    writeFileSync(`${mPath}.tmp`, JSON.stringify(this.meta));
    renameSync(`${mPath}.tmp`, mPath);
  }
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}
