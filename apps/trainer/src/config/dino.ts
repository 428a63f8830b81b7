import { z } from 'zod';
import { cpuDefaultWorkers, dataset, pretrained, fastDecode, loggingSchema, runtimeSchema, scaleRange } from './common.js';

/**
 * `ssl-train dino` configuration. Keys and defaults are those of the official
 * `main_dino.py get_args_parser()` (facebookresearch/dino), grouped; descriptions keep the
 * official advice. Extra keys (crop sizes, dataset, time budget...) are marked as ours.
 */
export const dinoModelSchema = z
  .object({
    arch: z
      .string()
      .default('vit_small')
      .describe(
        'Architecture from the @ssl/models registry (vit_tiny, vit_small, vit_base, resnet18/34/50, ...). ' +
          'For quick experiments with ViTs, the authors recommend vit_tiny or vit_small.',
      ),
    patch_size: z
      .number()
      .int()
      .positive()
      .default(16)
      .describe(
        'Size in pixels of input square patches (ViTs only). Smaller values perform better but cost more ' +
          'memory and time; on 28px Fashion-MNIST use 4.',
      ),
    embed_dim: z
      .number()
      .int()
      .positive()
      .nullable()
      .default(null)
      .describe('Ours: override the preset ViT width (null keeps the arch preset).'),
    depth: z.number().int().positive().nullable().default(null).describe('Ours: override the number of ViT blocks.'),
    num_heads: z.number().int().positive().nullable().default(null).describe('Ours: override the number of attention heads.'),
    ...pretrained,
    out_dim: z
      .number()
      .int()
      .positive()
      .default(65536)
      .describe('Dimensionality of the DINO head output. For complex and large datasets large values (like 65k) work well; small data wants far less (1-4k).'),
    hidden_dim: z.number().int().positive().default(2048).describe('DINOHead MLP hidden width (official class default 2048).'),
    bottleneck_dim: z.number().int().positive().default(256).describe('DINOHead bottleneck before the weight-normalised last layer (official 256).'),
    head_nlayers: z.number().int().min(1).default(3).describe('DINOHead MLP layers (official 3).'),
    norm_last_layer: z
      .boolean()
      .default(true)
      .describe(
        'Whether or not to weight normalize the last layer of the DINO head. Not normalizing leads to better ' +
          'performance but can make the training unstable. The authors set it False with vit_small and True with vit_base.',
      ),
    use_bn_in_head: z.boolean().default(false).describe('Whether to use batch normalizations in projection head (official default false).'),
    drop_path_rate: z.number().min(0).max(1).default(0.1).describe('Stochastic depth rate.'),
  })
  .strict();

export const dinoLossSchema = z
  .object({
    warmup_teacher_temp: z
      .number()
      .positive()
      .default(0.04)
      .describe('Initial value for the teacher temperature: 0.04 works well in most cases. Try decreasing it if the training loss does not decrease.'),
    teacher_temp: z
      .number()
      .positive()
      .default(0.04)
      .describe(
        'Final value (after linear warmup) of the teacher temperature. For most experiments, anything above 0.07 is unstable. ' +
          'Start with 0.04 and increase slightly if needed; a loss stuck near ln(out_dim) means collapse to uniform (dino#246): lower it.',
      ),
    warmup_teacher_temp_epochs: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Number of warmup epochs for the teacher temperature. The official code default is 0 (its help text says 30; the paper recipe uses 30).'),
  })
  .strict();

export const dinoOptimizationSchema = z
  .object({
    optimizer: z.enum(['adamw', 'sgd', 'lars']).default('adamw').describe('Type of optimizer. The authors recommend adamw with ViTs (ResNet-50 recipe: sgd).'),
    lr: z
      .number()
      .positive()
      .default(0.0005)
      .describe(
        'Learning rate at the end of linear warmup (highest LR used during training), for a reference batch size of 256: ' +
          'the rate used is lr * batch_size_per_gpu * world_size / 256.',
      ),
    min_lr: z.number().min(0).default(1e-6).describe('Target LR at the end of optimization (cosine schedule with linear warmup).'),
    warmup_epochs: z.number().int().min(0).default(10).describe('Number of epochs for the linear learning-rate warm up.'),
    weight_decay: z.number().min(0).default(0.04).describe('Initial value of the weight decay. With ViT, a smaller value at the beginning of training works well.'),
    weight_decay_end: z
      .number()
      .min(0)
      .default(0.4)
      .describe('Final value of the weight decay (cosine schedule); a larger decay by the end of training improves ViTs.'),
    clip_grad: z
      .number()
      .min(0)
      .default(3.0)
      .describe('Maximal parameter gradient norm (per parameter tensor). Clipping with norm .3 ~ 1.0 can help larger ViTs. 0 disables.'),
    batch_size_per_gpu: z.number().int().positive().default(64).describe('Batch size: number of distinct images per step (one process here).'),
    epochs: z.number().int().positive().default(100).describe('Number of epochs of training.'),
    freeze_last_layer: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe('Number of epochs during which the output layer is kept fixed. Typically doing so during the first epoch helps training. Try increasing it if the loss does not decrease.'),
    momentum_teacher: z
      .number()
      .min(0)
      .max(1)
      .default(0.996)
      .describe(
        'Base EMA parameter for teacher update, raised to 1 with a cosine schedule. The authors recommend a higher value with small batches ' +
          '(0.9995 with batch 256); on small data a faster teacher (lower value, e.g. 0.99) fights collapse.',
      ),
    use_fp16: z
      .boolean()
      .default(true)
      .describe('Mixed precision, as the official default. Here: true = bf16 autocast where the CPU supports it (--precision auto), false = float32.'),
    time_budget: z
      .number()
      .min(0)
      .default(0)
      .describe('Ours: wall-clock budget in minutes for training (0 = none). The run measures its pace over the first steps, then lays every schedule out over the epochs that fit (at most --epochs), so they end inside the budget; should it still run out, the run saves a checkpoint and goes to evaluation.'),
  })
  .strict();

export const dinoDataSchema = z
  .object({
    ...dataset,
    ...fastDecode,
    global_crops_scale: scaleRange([0.4, 1]).describe(
      'Scale range of the cropped image before resizing, relative to the origin image, for the large global views. ' +
        'When disabling multi-crop (local_crops_number 0), the authors recommend a wider range such as 0.14 1.',
    ),
    local_crops_number: z
      .number()
      .int()
      .min(0)
      .default(8)
      .describe('Number of small local views to generate. 0 disables multi-crop (then use global_crops_scale 0.14 1).'),
    local_crops_scale: scaleRange([0.05, 0.4]).describe('Scale range of the cropped image before resizing, relative to the origin image, for the small local views.'),
    blur_radius: z
      .tuple([z.number().min(0), z.number().min(0)])
      .refine(([lo, hi]) => lo <= hi, { message: 'expected two numbers lo <= hi' })
      .default([0.1, 2.0])
      .describe(
        'Ours: Gaussian blur radius range in pixels (official GaussianBlur 0.1-2.0, made for 224px crops). ' +
          'On 28px images 2.0 wipes the object out; scale it with the crop size (e.g. 0.1 0.25).',
      ),
    global_crops_size: z.number().int().positive().default(224).describe('Ours: side of the global crops in pixels (official 224; Fashion-MNIST 28).'),
    local_crops_size: z.number().int().positive().default(96).describe('Ours: side of the local crops in pixels (official 96; Fashion-MNIST 12).'),
    num_workers: z
      .number()
      .int()
      .min(0)
      .default(cpuDefaultWorkers())
      .describe('Number of data loading worker threads (official 10 per GPU; here min(4, cores - 1), 0 = load on the main thread).'),
  })
  .strict();

export const dinoConfigSchema = z
  .object({
    method: z.literal('dino').default('dino'),
    preset: z.string().nullable().default(null).describe('Start from a named preset (see --list-presets); the file and flags override it.'),
    model: dinoModelSchema.prefault({}),
    loss: dinoLossSchema.prefault({}),
    optimization: dinoOptimizationSchema.prefault({}),
    data: dinoDataSchema.prefault({}),
    logging: loggingSchema.prefault({}),
    runtime: runtimeSchema.prefault({}),
  })
  .strict();

export type DinoConfig = z.infer<typeof dinoConfigSchema>;
export type DinoConfigInput = z.input<typeof dinoConfigSchema>;
