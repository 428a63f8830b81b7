import { decodeImage } from '@ssl/augment';
import { checkIndex, type Dataset, type DatasetSpec, type Sample } from './dataset.js';
import { scanImageFolder, type FolderChange, type FolderLabels, type FolderScan, type IgnoredFiles } from './scan.js';

/** torchvision's IMG_EXTENSIONS (matched case-insensitively). */
export const IMG_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

export interface ImageFolderOptions {
  channels?: 1 | 3;
  /** File endings to keep. Default torchvision's IMG_EXTENSIONS; add '.gif' if wanted. */
  extensions?: string[];
  /**
   * 'classes': torchvision's ImageFolder (`root/<class>/**\/<image>`, label = class position).
   * 'none': every image under `root`, at any depth, unlabelled (label -1).
   * 'auto' (default): 'classes' when `root` holds no images of its own and at least one of its
   * sub-folders holds images directly, else 'none' (a flat folder, or one nested by date).
   */
  labels?: FolderLabels;
  /**
   * JSON file caching the scan (file list, labels, folder mtimes). A later `create` with the same
   * options reads it instead of listing every folder, after checking that no folder changed; a
   * changed folder is rescanned and the difference reported in `change`.
   */
  cacheFile?: string;
  /** Decode at reduced size (opt-in, see @ssl/augment `DecodeOptions.minDecodedSide`). */
  minDecodedSide?: number;
}

/**
 * An image folder in any layout: class sub-folders (torchvision's ImageFolder: classes are the
 * sorted sub-folder names, files walked recursively in sorted order, symlinks followed) or a flat
 * or nested folder of unlabelled images. Hidden entries (names starting with '.') and files of
 * other types are left out and counted in `ignored`.
 */
export class ImageFolder implements Dataset {
  readonly length: number;
  readonly spec: DatasetSpec;
  readonly classToIdx: Record<string, number>;
  readonly root: string;
  /** Class names (empty when unlabelled). */
  readonly classes: readonly string[];
  readonly samples: ReadonlyArray<readonly [string, number]>;
  /** Every sample's label; all -1 when unlabelled. */
  readonly targets: Int32Array;
  /** Whether labels came from class sub-folders. */
  readonly labelled: boolean;
  readonly ignored: IgnoredFiles;
  /** Where the file list came from: a fresh scan or the cache file. */
  readonly fromCache: boolean;
  /** Difference against the cached list when the folder changed since it was written; else null. */
  readonly change: FolderChange | null;
  private readonly channels: 1 | 3;
  private readonly minDecodedSide: number | undefined;

  private constructor(scan: FolderScan, options: ImageFolderOptions, extensions: string[]) {
    this.root = scan.root;
    this.classes = scan.classes;
    this.samples = scan.files.map((f, i) => [f, scan.targets[i] as number] as const);
    this.targets = scan.targets;
    this.labelled = scan.layout === 'classes';
    this.ignored = scan.ignored;
    this.fromCache = scan.fromCache;
    this.change = scan.change;
    this.length = scan.files.length;
    this.channels = options.channels ?? 3;
    this.minDecodedSide = options.minDecodedSide;
    this.spec = {
      kind: 'image-folder',
      root: scan.root,
      channels: this.channels,
      extensions,
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.cacheFile ? { cacheFile: options.cacheFile } : {}),
      ...(options.minDecodedSide ? { minDecodedSide: options.minDecodedSide } : {}),
    };
    this.classToIdx = Object.fromEntries(this.classes.map((c, i) => [c, i]));
  }

  static async create(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
    const extensions = (options.extensions ?? IMG_EXTENSIONS).map((e) => e.toLowerCase());
    const scan = await scanImageFolder(root, { extensions, labels: options.labels ?? 'auto', cacheFile: options.cacheFile });
    return new ImageFolder(scan, options, extensions);
  }

  async get(index: number): Promise<Sample> {
    checkIndex(index, this.length, 'ImageFolder');
    const [path, label] = this.samples[index] as readonly [string, number];
    const opts = this.minDecodedSide ? { channels: this.channels, minDecodedSide: this.minDecodedSide } : { channels: this.channels };
    return { image: await decodeImage(path, opts), label };
  }

  describe(index: number): string {
    return this.samples[index]?.[0] ?? `image-folder[${index}]`;
  }
}
