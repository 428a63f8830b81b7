import { z } from 'zod';
import { cpuDefaultWorkers, dataset, pretrained, loggingSchema, runtimeSchema, scaleRange } from './common.js';

/**
 * `ssl-train paws` configuration: the groups and keys of the official suncet
 * `configs/paws/*.yaml` (criterion / data / meta / optimization), with `imgnt_train.yaml` values as
 * defaults. Keys that only make sense on a GPU cluster are accepted and ignored, so an official
 * YAML file loads unchanged.
 */
export const pawsCriterionSchema = z
  .object({
    classes_per_batch: z
      .number()
      .int()
      .positive()
      .default(15)
      .describe('Classes sampled in each labelled support batch (ImageNet 15, CIFAR-10 10; at most the number of classes).'),
    supervised_imgs_per_class: z.number().int().positive().default(7).describe('Labelled images per sampled class in each support batch (ImageNet 7, CIFAR-10 64).'),
    supervised_views: z.number().int().positive().default(1).describe('Augmented views of each support image (ImageNet 1, CIFAR-10 2).'),
    unsupervised_batch_size: z.number().int().positive().default(64).describe('Unlabelled images per step (ImageNet 64 per GPU, CIFAR-10 256).'),
    temperature: z
      .number()
      .positive()
      .default(0.1)
      .describe('Soft nearest-neighbour temperature tau: softmax(sim / tau) over the support set (official 0.1).'),
    sharpen: z.number().positive().default(0.25).describe('Target sharpening temperature T: p^(1/T) renormalised (official 0.25).'),
    me_max: z
      .boolean()
      .default(true)
      .describe('Mean-entropy maximisation on the batch mean of sharpened anchor predictions; keeps pseudo-labels from collapsing to a few classes.'),
  })
  .strict();

export const pawsDataSchema = z
  .object({
    ...dataset,
    labels: z
      .union([z.number().int().positive(), z.string()])
      .nullable()
      .default(null)
      .describe(
        'Ours: labelled subset, as a per-class count (e.g. 10) drawn with data_seed, or a file listing labelled images ' +
          '(official subset format: one file name per line; or sample indices). null = 1 - unlabeled_frac of each class.',
      ),
    unlabeled_frac: z
      .number()
      .min(0)
      .max(1)
      .default(0.9)
      .describe('Fraction of training images whose labels are hidden (ImageNet 0.9 = 10% labels, CIFAR-10 0.92 = 4000 labels).'),
    data_seed: z.number().int().nullable().default(null).describe('Seed of the labelled-subset draw (official CIFAR-10 splits: 152, 321, 401, 73, 91).'),
    label_smoothing: z.number().min(0).max(1).default(0.1).describe('Label smoothing of the support labels: off = eps / C, on = 1 - eps + off.'),
    multicrop: z.number().int().min(0).default(6).describe('Number of small multi-crop views per unlabelled image (official 6; 0 disables).'),
    color_jitter_strength: z.number().min(0).default(1.0).describe('Colour jitter strength s (SimCLR-style 0.8s, 0.8s, 0.8s, 0.2s; ImageNet 1.0, CIFAR-10 0.5).'),
    normalize: z.boolean().default(true).describe('Normalise images with the dataset mean/std.'),
    crop_size: z.number().int().positive().default(224).describe('Ours: side of the two large views (ImageNet 224, CIFAR-10 32, Fashion-MNIST 28).'),
    crop_scale: scaleRange([0.14, 1]).describe('Scale range of the large views (official: ImageNet 0.14-1 with multicrop, else 0.08-1; CIFAR-10 0.75-1, else 0.5-1).'),
    mc_size: z.number().int().positive().default(96).describe('Side of the multi-crop views (official ImageNet 96, CIFAR-10 18; Fashion-MNIST 12).'),
    mc_scale: scaleRange([0.05, 0.14]).describe('Scale range of the multi-crop views (official ImageNet 0.05-0.14, CIFAR-10 0.3-0.75).'),
    num_workers: z.number().int().min(0).default(cpuDefaultWorkers()).describe('Data loading worker threads (0 = main thread).'),
    root_path: z.string().nullable().default(null).describe('Accepted for compatibility with the official YAML; use data_path.'),
    image_folder: z.string().nullable().default(null).describe('Accepted for compatibility with the official YAML; use data_path.'),
    subset_path: z.string().nullable().default(null).describe('Accepted for compatibility with the official YAML; use labels FILE.'),
    unique_classes_per_rank: z.boolean().default(false).describe('Accepted for compatibility; one process here.'),
  })
  .strict();

export const pawsMetaSchema = z
  .object({
    model_name: z
      .string()
      .default('resnet50')
      .describe('Encoder from the @ssl/models registry (official resnet50, wide_resnet28w2; any ViT preset works too).'),
    output_dim: z.number().int().positive().default(2048).describe('Projection head output dimension (ImageNet 2048, CIFAR-10 128).'),
    hidden_dim: z
      .number()
      .int()
      .positive()
      .nullable()
      .default(null)
      .describe('Ours: projection head width (null = official rule: the encoder feature width, 2048 for ResNet-50, 128 for WRN-28-2).'),
    use_pred_head: z.boolean().default(true).describe('Add the 4x-bottleneck prediction head (ImageNet true, CIFAR-10 false).'),
    patch_size: z.number().int().positive().default(16).describe('Ours: patch size when model_name is a ViT.'),
    embed_dim: z.number().int().positive().nullable().default(null).describe('Ours: override the preset ViT width.'),
    depth: z.number().int().positive().nullable().default(null).describe('Ours: override the number of ViT blocks.'),
    num_heads: z.number().int().positive().nullable().default(null).describe('Ours: override the number of attention heads.'),
    ...pretrained,
    base_width: z
      .number()
      .int()
      .positive()
      .nullable()
      .default(null)
      .describe('Ours: channels of a ResNet\'s stem and first stage (null = 64, torchvision); 16 with a _cifar model keeps full resolution at a quarter of the width.'),
    load_checkpoint: z.boolean().default(false).describe('Official key: same as runtime.resume.'),
    read_checkpoint: z.string().nullable().default(null).describe('Official key: checkpoint directory to start from.'),
    use_fp16: z
      .boolean()
      .default(true)
      .describe('Mixed precision, as the official default. Here: true = bf16 autocast where the CPU supports it (--precision auto), false = float32.'),
    copy_data: z.boolean().default(false).describe('Accepted for compatibility; ignored.'),
    device: z.string().default('cpu').describe('Accepted for compatibility; the tensor backend is chosen by @ssl/tensor.'),
  })
  .strict();

export const pawsOptimizationSchema = z
  .object({
    epochs: z.number().int().positive().default(100).describe('Number of epochs (ImageNet 100, CIFAR-10 600).'),
    lr: z.number().positive().default(6.4).describe('Reference learning rate after warm-up (ImageNet 6.4 for batch 4096 over 64 GPUs; CIFAR-10 3.2). Not rescaled by batch size.'),
    start_lr: z.number().min(0).default(0.3).describe('Learning rate at the start of the linear warm-up.'),
    final_lr: z.number().min(0).default(0.064).describe('Learning rate at the end of the cosine schedule.'),
    warmup: z.number().min(0).default(10).describe('Warm-up epochs.'),
    optimizer: z
      .enum(['lars', 'adamw'])
      .default('lars')
      .describe(
        "Ours: 'lars' = the official PAWS SGD inside LARS (trust coefficient 0.001; parameters named *bias*/*bn* get plain SGD at the full lr, " +
          "which suits a ResNet but wrecks a ViT's many biases); 'adamw' = AdamW with decay on weights only (use it for ViTs, lr ~1e-3).",
      ),
    momentum: z.number().min(0).max(1).default(0.9).describe('SGD momentum (lars only).'),
    nesterov: z.boolean().default(false).describe('Nesterov momentum.'),
    weight_decay: z.number().min(0).default(1e-6).describe('Weight decay (bias and batch-norm parameters excluded).'),
    time_budget: z.number().min(0).default(0).describe('Ours: wall-clock budget in minutes for training (0 = none). The run measures its pace over the first steps, then lays every schedule out over the epochs that fit (at most --epochs), so they end inside the budget; should it still run out, the run saves a checkpoint and goes to evaluation.'),
  })
  .strict();

export const pawsLoggingSchema = loggingSchema
  .extend({
    write_tag: z.string().default('paws').describe('Official key: tag of the run; here it names the log lines.'),
  })
  .strict();

export const pawsConfigSchema = z
  .object({
    method: z.literal('paws').default('paws'),
    preset: z.string().nullable().default(null).describe('Start from a named preset (see --list-presets); the file and flags override it.'),
    criterion: pawsCriterionSchema.prefault({}),
    data: pawsDataSchema.prefault({}),
    meta: pawsMetaSchema.prefault({}),
    optimization: pawsOptimizationSchema.prefault({}),
    logging: pawsLoggingSchema.prefault({}),
    runtime: runtimeSchema.prefault({}),
  })
  .strict();

export type PawsConfig = z.infer<typeof pawsConfigSchema>;
export type PawsConfigInput = z.input<typeof pawsConfigSchema>;
