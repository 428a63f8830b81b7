import { mkdir, readdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';

/** How an image folder gets its labels (see `ImageFolderOptions.labels`). */
export type FolderLabels = 'auto' | 'classes' | 'none';

/** Entries a scan left out: hidden names (starting with '.') and files that are not images. */
export interface IgnoredFiles {
  hidden: number;
  other: number;
  /** The first few, relative to the root. */
  examples: string[];
}

/** How the folder differs from the cached file list. */
export interface FolderChange {
  added: number;
  removed: number;
  /** The first few added (+) or removed (-) files, relative to the root. */
  examples: string[];
}

export interface FolderScan {
  root: string;
  layout: 'classes' | 'none';
  classes: string[];
  /** Absolute paths, in torchvision's order. */
  files: string[];
  targets: Int32Array;
  ignored: IgnoredFiles;
  fromCache: boolean;
  change: FolderChange | null;
}

interface ScanOptions {
  extensions: string[];
  labels: FolderLabels;
  cacheFile?: string | undefined;
}

const CACHE_VERSION = 1;
const EXAMPLES = 5;

/** The cache file's content: the scan plus every folder's mtime, to detect changes without listing. */
interface CachedScan {
  version: number;
  root: string;
  extensions: string[];
  labels: FolderLabels;
  layout: 'classes' | 'none';
  classes: string[];
  /** Relative to root. */
  files: string[];
  targets: number[];
  ignored: IgnoredFiles;
  /** [folder relative to root, mtimeMs]: a folder's mtime changes when an entry is added, removed or renamed. */
  dirs: [string, number][];
}

/** Python's sorted() on str: by code point. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const isHidden = (name: string) => name.startsWith('.');

/** Folder mtimes to the millisecond: what JSON and `utimes` keep exactly. */
const mtimeOf = (st: { mtimeMs: number }) => Math.round(st.mtimeMs);

interface Listing {
  dir: string;
  mtimeMs: number;
  /** Sub-folders (followed symlinks included), sorted. */
  dirs: string[];
  /** Image files, sorted. */
  images: string[];
}

class Walker {
  readonly ignored: IgnoredFiles = { hidden: 0, other: 0, examples: [] };
  readonly listings: Listing[] = [];
  private readonly visited = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly extensions: string[],
  ) {}

  ignore(kind: 'hidden' | 'other', path: string): void {
    this.ignored[kind]++;
    if (this.ignored.examples.length < EXAMPLES) this.ignored.examples.push(relative(this.root, path));
  }

  /** One folder's entries; hidden ones and non-images are counted, not returned. */
  async list(dir: string): Promise<Listing> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new Error(`ImageFolder: cannot read ${dir}: ${(err as Error).message}`);
    }
    const listing: Listing = { dir, mtimeMs: mtimeOf(await stat(dir)), dirs: [], images: [] };
    for (const e of entries.sort((a, b) => byCodePoint(a.name, b.name))) {
      const p = join(dir, e.name);
      if (isHidden(e.name)) {
        this.ignore('hidden', p);
        continue;
      }
      const st = e.isSymbolicLink() ? await stat(p).catch(() => null) : e;
      if (st?.isDirectory()) listing.dirs.push(e.name);
      else if (st?.isFile()) {
        const lower = e.name.toLowerCase();
        if (this.extensions.some((x) => lower.endsWith(x))) listing.images.push(e.name);
        else this.ignore('other', p);
      }
    }
    this.listings.push(listing);
    return listing;
  }

  /** Image paths under `dir` in the order of Python's `sorted(os.walk(dir, followlinks=True))` + sorted names. */
  async walk(dir: string, first?: Listing): Promise<string[]> {
    const found: Listing[] = [];
    const visit = async (d: string, listing?: Listing) => {
      // A symlink loop would make os.walk run forever; we visit each real folder once.
      const real = await realpath(d);
      if (this.visited.has(real)) return;
      this.visited.add(real);
      const l = listing ?? (await this.list(d));
      found.push(l);
      for (const sub of l.dirs) await visit(join(d, sub));
    };
    await visit(dir, first);
    found.sort((a, b) => byCodePoint(a.dir, b.dir));
    return found.flatMap((l) => l.images.map((f) => join(l.dir, f)));
  }
}

async function freshScan(root: string, options: ScanOptions): Promise<Omit<FolderScan, 'fromCache' | 'change'> & { dirs: [string, number][] }> {
  const walker = new Walker(root, options.extensions);
  const top = await walker.list(root);
  const layout =
    options.labels === 'classes' || (options.labels === 'auto' && top.images.length === 0 && (await hasDirectImages(root, top.dirs, options.extensions)))
      ? 'classes'
      : 'none';
  const files: string[] = [];
  const targets: number[] = [];
  let classes: string[] = [];
  if (layout === 'classes') {
    if (top.dirs.length === 0) throw new Error(`ImageFolder: no class folders found in ${root} (expected root/<class>/<image>)`);
    classes = top.dirs;
    // torchvision reads only the class folders: images beside them are left out (and counted).
    for (const f of top.images) walker.ignore('other', join(root, f));
    for (let c = 0; c < classes.length; c++) {
      for (const f of await walker.walk(join(root, classes[c] as string))) {
        files.push(f);
        targets.push(c);
      }
    }
  } else {
    for (const f of await walker.walk(root, top)) {
      files.push(f);
      targets.push(-1);
    }
  }
  if (files.length === 0) {
    throw new Error(`ImageFolder: no images with extensions ${options.extensions.join(', ')} under ${root}`);
  }
  const dirs = walker.listings.map((l): [string, number] => [relative(root, l.dir), l.mtimeMs]);
  return { root, layout, classes, files, targets: Int32Array.from(targets), ignored: walker.ignored, dirs };
}

/** Whether any of the sub-folders `names` of `root` holds an image directly (a class layout). */
async function hasDirectImages(root: string, names: string[], extensions: string[]): Promise<boolean> {
  for (const name of names) {
    const entries = await readdir(join(root, name)).catch(() => [] as string[]);
    if (entries.some((f) => !isHidden(f) && extensions.some((x) => f.toLowerCase().endsWith(x)))) return true;
  }
  return false;
}

async function readCache(file: string, root: string, options: ScanOptions): Promise<CachedScan | null> {
  let cached: CachedScan;
  try {
    cached = JSON.parse(await readFile(file, 'utf8')) as CachedScan;
  } catch {
    return null;
  }
  const same =
    cached.version === CACHE_VERSION &&
    cached.root === root &&
    cached.labels === options.labels &&
    JSON.stringify(cached.extensions) === JSON.stringify(options.extensions);
  return same ? cached : null;
}

async function unchanged(root: string, dirs: [string, number][]): Promise<boolean> {
  for (const [rel, mtimeMs] of dirs) {
    const st = await stat(join(root, rel)).catch(() => null);
    if (!st || mtimeOf(st) !== mtimeMs) return false;
  }
  return true;
}

function difference(before: string[], after: string[]): FolderChange {
  const old = new Set(before);
  const now = new Set(after);
  const added = after.filter((f) => !old.has(f));
  const removed = before.filter((f) => !now.has(f));
  return {
    added: added.length,
    removed: removed.length,
    examples: [...added.map((f) => `+${f}`), ...removed.map((f) => `-${f}`)].slice(0, EXAMPLES),
  };
}

/**
 * List an image folder (see `ImageFolderOptions`), through `options.cacheFile` when it is valid:
 * a resumed run over a million files then stats its folders instead of listing them.
 */
export async function scanImageFolder(rootIn: string, options: ScanOptions): Promise<FolderScan> {
  const root = resolve(rootIn);
  const cached = options.cacheFile ? await readCache(options.cacheFile, root, options) : null;
  if (cached && (await unchanged(root, cached.dirs))) {
    return {
      root,
      layout: cached.layout,
      classes: cached.classes,
      files: cached.files.map((f) => join(root, f)),
      targets: Int32Array.from(cached.targets),
      ignored: cached.ignored,
      fromCache: true,
      change: null,
    };
  }
  const scan = await freshScan(root, options);
  const rel = scan.files.map((f) => relative(root, f));
  const change = cached ? difference(cached.files, rel) : null;
  if (options.cacheFile) {
    const content: CachedScan = {
      version: CACHE_VERSION,
      root,
      extensions: options.extensions,
      labels: options.labels,
      layout: scan.layout,
      classes: scan.classes,
      files: rel,
      targets: Array.from(scan.targets),
      ignored: scan.ignored,
      dirs: scan.dirs,
    };
    // Written to a temporary name and renamed, so a killed run never leaves half a list.
    await mkdir(dirname(options.cacheFile), { recursive: true });
    const tmp = `${options.cacheFile}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(content));
    await rename(tmp, options.cacheFile);
  }
  const { dirs: _dirs, ...rest } = scan;
  return { ...rest, fromCache: false, change };
}
