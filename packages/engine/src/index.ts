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
export { NonFiniteLossError, resolveGroups, runTrainLoop } from './train-common.js';
export type {
  BatchSource,
  ConfigInput,
  EpochEndInfo,
  EpochStats,
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
