export { classRank, knnClassifier, knnClassifierSweep, knnSearch, knnVotes, rankClasses } from './knn.js';
export type { KnnNeighbors, KnnOptions, KnnResult } from './knn.js';
export { labelArray, rowSource, toMatrix } from './matrix.js';
export type { FeatureInput, LabelInput, Matrix, RowSource } from './matrix.js';
export {
  clsAttentionMaps,
  cropToPatchMultiple,
  meanHeadMap,
  thresholdMask,
  thresholdMasks,
  upsampleNearest,
} from './attention.js';
export type { AttentionMaps, SelfAttentionModel } from './attention.js';
export { colorize, imageToRgb, maskOverlay, rgbToPng, writeAttentionPngs } from './heatmap.js';
export type { AttentionPngOptions } from './heatmap.js';
export { centredDiscMask, foregroundMask, jaccard, segmentationScore } from './segmentation.js';
export type { SegmentationOptions, SegmentationScore } from './segmentation.js';
