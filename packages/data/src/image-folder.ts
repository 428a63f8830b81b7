import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '@ssl/augment';
import { checkIndex, type Dataset, type DatasetSpec, type Sample } from './dataset.js';

/** torchvision's IMG_EXTENSIONS (matched case-insensitively). */
export const IMG_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

export interface ImageFolderOptions {
  channels?: 1 | 3;
  /** File endings to keep. Default torchvision's IMG_EXTENSIONS; add '.gif' if wanted. */
  extensions?: string[];
}

/** Python's sorted() on str: by code point. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * torchvision's ImageFolder: `root/<class>/**\/<image>`; classes are the sorted sub-directory names
 * (label = position), files are walked recursively in sorted order, symlinks followed.
 */
export class ImageFolder implements Dataset {
  readonly length: number;
  readonly spec: DatasetSpec;
  readonly classToIdx: Record<string, number>;

  private constructor(
    readonly root: string,
    readonly classes: readonly string[],
    readonly samples: ReadonlyArray<readonly [string, number]>,
    readonly targets: Int32Array,
    private readonly channels: 1 | 3,
    extensions: string[],
  ) {
    this.length = samples.length;
    this.spec = { kind: 'image-folder', root, channels, extensions };
    this.classToIdx = Object.fromEntries(classes.map((c, i) => [c, i]));
  }

  static async create(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
    const extensions = (options.extensions ?? IMG_EXTENSIONS).map((e) => e.toLowerCase());
    let entries;
    try {
      entries = await readdir(root, { withFileTypes: true });
    } catch (err) {
      throw new Error(`ImageFolder: cannot read ${root}: ${(err as Error).message}`);
    }
    const classes: string[] = [];
    for (const e of entries) {
      if (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(root, e.name))).isDirectory())) classes.push(e.name);
    }
    classes.sort(byCodePoint);
    if (classes.length === 0) throw new Error(`ImageFolder: no class folders found in ${root} (expected root/<class>/<image>)`);
    const samples: [string, number][] = [];
    for (let c = 0; c < classes.length; c++) {
      const files = await walk(join(root, classes[c] as string));
      for (const f of files) if (extensions.some((x) => f.toLowerCase().endsWith(x))) samples.push([f, c]);
    }
    if (samples.length === 0) {
      throw new Error(`ImageFolder: no images with extensions ${extensions.join(', ')} under ${root}`);
    }
    return new ImageFolder(root, classes, samples, Int32Array.from(samples, (s) => s[1]), options.channels ?? 3, extensions);
  }

  async get(index: number): Promise<Sample> {
    checkIndex(index, this.length, 'ImageFolder');
    const [path, label] = this.samples[index] as readonly [string, number];
    return { image: await decodeImage(path, { channels: this.channels }), label };
  }

  describe(index: number): string {
    return this.samples[index]?.[0] ?? `image-folder[${index}]`;
  }
}

/** All files under `dir`, in the order of Python's `sorted(os.walk(dir, followlinks=True))` + sorted names. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  // os.walk yields (dirpath, dirnames, filenames); sorting those tuples orders by dirpath.
  const dirs: string[] = [];
  const collect = async (d: string) => {
    dirs.push(d);
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory() || (e.isSymbolicLink() && (await stat(p).catch(() => null))?.isDirectory())) await collect(p);
    }
  };
  await collect(dir);
  dirs.sort(byCodePoint);
  for (const d of dirs) {
    const entries = await readdir(d, { withFileTypes: true });
    const files: string[] = [];
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isFile() || (e.isSymbolicLink() && (await stat(p).catch(() => null))?.isFile())) files.push(e.name);
    }
    files.sort(byCodePoint);
    for (const f of files) out.push(join(d, f));
  }
  return out;
}
