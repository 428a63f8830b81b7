import { availableParallelism } from 'node:os';
import { z } from 'zod';

/** Loader threads by default: leave one core to the training step, never more than 4. */
export function cpuDefaultWorkers(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 1));
}

/** A `(min, max)` scale pair given as `--x 0.4 1` or `[0.4, 1]`. */
export function scaleRange(defaults: [number, number]) {
  return z
    .tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)])
    .refine(([lo, hi]) => lo <= hi, { message: 'expected two numbers lo <= hi in (0, 1]' })
    .default(defaults);
}

/** Data keys shared by both methods (ours; the official code reads ImageNet folders only). */
export const dataset = {
  dataset: z
    .enum(['fashion-mnist', 'folder'])
    .default('fashion-mnist')
    .describe(
      'Ours: fashion-mnist reads the IDX files in data_path (default: /usr/share/datasets/fashion-mnist when present, ' +
        'else the subset committed in @ssl/data); folder reads a folder of images in any layout: class sub-folders give labels ' +
        '(torchvision ImageFolder), a flat or nested folder is unlabelled (see labels).',
    ),
  data_path: z
    .string()
    .nullable()
    .default(null)
    .describe('Path to the training data (official: ImageNet train folder). null = the default Fashion-MNIST location.'),
  val_data_path: z
    .string()
    .nullable()
    .default(null)
    .describe('Ours: labelled evaluation images for k-NN (folder datasets). Fashion-MNIST uses its test split.'),
  folder_labels: z
    .enum(['auto', 'classes', 'none'])
    .default('auto')
    .describe(
      'Ours, folder datasets: auto = class sub-folders give labels when the folder holds no images of its own and a sub-folder ' +
        'holds images directly, else unlabelled; classes / none force either reading (none: nested-by-date folders).',
    ),
  val_split: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.1)
    .describe('Ours: with labelled folders and no val_data_path, hold out this share of each class (seeded) for the k-NN evaluation.'),
  max_skip_ratio: z
    .number()
    .min(0)
    .max(1)
    .default(0.05)
    .describe(
      'Ours: files that cannot be read are skipped and counted; stop the run when more than this share of the samples seen failed ' +
        '(checked from the 100th sample, or the whole dataset when smaller).',
    ),
  train_images: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Ours: train on the first N images only (0 = all). Handy for quick runs and fixed comparisons.'),
};

/** DINO's opt-in fast decode (its multi-crop sizes say how far an image may shrink). */
export const fastDecode = {
  fast_decode: z
    .boolean()
    .default(false)
    .describe(
      'Ours: decode large photos at reduced size (libjpeg DCT scaling through sharp) to the smallest size at which every crop is still ' +
        'downsampled; several times faster on multi-megapixel JPEGs. Default: full resolution, as the official pipeline.',
    ),
};

export const loggingSchema = z
  .object({
    output_dir: z.string().default('.').describe('Path to save logs, checkpoints, the resolved config and report.html.'),
    saveckp_freq: z.number().int().min(0).default(20).describe('Keep a checkpoint every x epochs (the latest one is always kept).'),
    checkpoint_minutes: z
      .number()
      .min(0)
      .default(5)
      .describe(
        'Ours: also save output_dir/checkpoint inside an epoch every x minutes, so a crash or kill -9 loses at most that much ' +
          '(0 = only at epoch ends; Ctrl-C and SIGTERM always save the current step).',
      ),
    eval_freq: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Ours: run the k-NN evaluation every x epochs (0 = only at the end).'),
    knn_k: z.number().int().positive().default(20).describe('Ours: neighbours for the weighted k-NN (official headline k = 20).'),
    knn_temperature: z.number().positive().default(0.07).describe('Ours: temperature of the k-NN vote weights exp(sim / T) (official 0.07).'),
    knn_train_images: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Ours: use only the first N training images as the k-NN memory (0 = all).'),
    attention_images: z.number().int().min(0).default(4).describe('Ours: validation images whose attention maps go into report.html (ViTs only).'),
    feature_map_images: z
      .number()
      .int()
      .min(0)
      .default(500)
      .describe('Ours: evaluation images in report.html\'s feature-space map (a seeded 2-D UMAP of the final features, coloured by class; 0 = none).'),
    progress: z
      .enum(['auto', 'bar', 'lines', 'none'])
      .default('auto')
      .describe('Ours: a progress bar on a TTY (auto), plain lines otherwise.'),
    log_every: z.number().int().positive().default(10).describe('Ours: write a log line (and plain progress line) every x steps.'),
  })
  .strict();

export const runtimeSchema = z
  .object({
    seed: z.number().int().min(0).default(0).describe('Random seed.'),
    threads: z
      .number()
      .int()
      .positive()
      .nullable()
      .default(null)
      .describe('Ours: threads for the tensor kernels (default: SSL_THREADS, else the number of cores).'),
    backend: z
      .enum(['webgpu', 'native', 'wasm', 'cpu', 'tensorflow'])
      .nullable()
      .default(null)
      .describe('Ours: force a tensor backend (default: the best that loads; see @ssl/tensor).'),
    precision: z
      .enum(['auto', 'bf16', 'fp16', 'fp32'])
      .default('auto')
      .describe(
        'Ours: bf16 runs matmuls and convolutions (and their gradients) on bf16 inputs with float32 accumulation, everything else, ' +
          'weights and optimizer state in float32 (PyTorch CPU autocast). auto: bf16 where the CPU has AVX512-BF16/AMX and use_fp16 is true, ' +
          'else fp32. fp16: the same for matmuls with binary16 inputs, on --backend webgpu (as torch.cuda.amp, without loss scaling). ' +
          'SSL_PRECISION=fp32 forces float32.',
      ),
    resume: z
      .boolean()
      .default(true)
      .describe('Ours: continue from output_dir/checkpoint when one exists (the official code always does). --no-resume starts over.'),
    dist_url: z.string().default('env://').describe('Accepted for compatibility with official command lines; ignored (one process).'),
    local_rank: z.number().int().default(0).describe('Accepted for compatibility with official command lines; ignored.'),
  })
  .strict();

/** Start from pretrained backbone weights (both methods; the eval scripts' official flag names). */
export const pretrained = {
  pretrained_weights: z
    .string()
    .nullable()
    .default(null)
    .describe(
      'Start the backbone from these weights: an official .pth (dino_*_pretrain.pth, a main_dino.py or PAWS checkpoint), ' +
        'safetensors (Hugging Face facebook/dino-* too) or an ssl-train checkpoint directory; they must fit the configured arch.',
    ),
  checkpoint_key: z
    .string()
    .nullable()
    .default(null)
    .describe('Section of pretrained_weights to take when it holds several networks (default teacher, else encoder; as the official --checkpoint_key).'),
};
