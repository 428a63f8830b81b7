export { cosineScheduler, WarmupCosineSchedule } from './schedule.js';
export type { CosineSchedulerOptions, WarmupCosineScheduleOptions } from './schedule.js';
export { getParamsGroups, pawsParamGroups } from './params.js';
export type { NamedParameters, ParamGroup, ParamGroupSpec } from './params.js';
export { Optimizer } from './optimizer.js';
export type { NamedGrads, OptimizerState } from './optimizer.js';
export { AdamW } from './adamw.js';
export type { AdamWOptions } from './adamw.js';
export { PawsSGD, SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { DinoLARS, LARS } from './lars.js';
export type { DinoLARSOptions, LARSOptions } from './lars.js';
export { cancelGradientsLastLayer, clipGradients, gradsByParamName } from './gradients.js';
export { copyStudentToTeacher, emaUpdate } from './ema.js';
export type { ParameterOwner } from './ema.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  loadCheckpoint,
  periodicCheckpointName,
  prefixed,
  resolveCheckpoint,
  saveCheckpoint,
  saveCheckpoints,
  section,
  STATE_FILE,
  TENSORS_FILE,
} from './checkpoint.js';
export type { Checkpoint, CheckpointState } from './checkpoint.js';
export { JsonlLogger, Mean, memoryStats } from './logger.js';
export { NonFiniteLossError, runTrainLoop } from './train-common.js';
export type {
  BatchSource,
  EpochEndInfo,
  StepOutput,
  TrainBatch,
  TrainLoopCore,
  TrainLoopOptions,
  TrainLoopResult,
} from './train-common.js';
export { DINO_DEFAULTS, trainDino } from './dino.js';
export type { DinoConfig, DinoEpochStats, DinoStepEvent, MultiCropNetwork, TrainDinoOptions, TrainDinoResult } from './dino.js';
export { PAWS_DEFAULTS, trainPaws } from './paws.js';
export type { PawsConfig, PawsEpochStats, PawsNetwork, PawsStepEvent, SupportSource, TrainPawsOptions, TrainPawsResult } from './paws.js';
export { SupportBatches } from './support.js';
export type { SupportBatchesOptions } from './support.js';
