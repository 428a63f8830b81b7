export { DINOLoss } from './dino.js';
export type { DINOLossOptions, DINOLossState } from './dino.js';
export { l2Normalize, makeLabelsMatrix, pawsLoss, sharpen, snn } from './paws.js';
export type { MakeLabelsMatrixOptions, PawsLossFn, PawsLossOptions, PawsLossResult } from './paws.js';
