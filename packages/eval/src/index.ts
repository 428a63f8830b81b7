export { classRank, knnClassifier, knnClassifierSweep, knnSearch, knnVotes, rankClasses } from './knn.js';
export type { KnnNeighbors, KnnOptions, KnnResult } from './knn.js';
export { labelArray, normalizeRows, rowSource, toMatrix } from './matrix.js';
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
export { COPY_EDITS, makeCopy } from './copies.js';
export type { CopyEdit, CopyOptions, ImageCopy } from './copies.js';
export {
  applyWhitening,
  averagePrecision,
  copyDetection,
  copyDetectionDescriptor,
  gemPool,
  learnWhitening,
  scoreRanking,
} from './copy-detection.js';
export type { CopyDetectionOptions, RetrievalScore, Whitening, WhiteningOptions } from './copy-detection.js';
export { featureMap } from './feature-map.js';
export type { FeatureMap, FeatureMapOptions } from './feature-map.js';
export {
  computeMap,
  interpolateBilinear,
  interpolateBilinearArray,
  labelRetrieval,
  MULTISCALE_SCALES,
  multiScaleEmbed,
  rankByCosine,
  revisitedMap,
} from './retrieval.js';
export type { LabelRetrievalScore, MapResult, QueryGroundTruth, RevisitedGnd, RevisitedScore } from './retrieval.js';
export {
  labelPropagation,
  oneHot,
  resizeLabelsNearest,
  segmentationLabels,
  videoSegmenter,
} from './video-segmentation.js';
export type { FrameFeatures, LabelPropagationOptions, SoftSegmentation, VideoSegmentationOptions } from './video-segmentation.js';
export { boundaryF, boundaryMap, davisScore, regionJ } from './davis-metrics.js';
export type { DavisScore } from './davis-metrics.js';
export { davisPalette, decodeLabelPng, encodeIndexedPng } from './indexed-png.js';
export { davisFrameSize, segmentVideo } from './video-seg-cli.js';
export type { VideoSegResult } from './video-seg-cli.js';
export { symmetricEigen } from './linalg.js';
export { snnClassifier, snnProbabilities } from './snn.js';
export type { SnnOptions } from './snn.js';
export { datasetBatchSource, extractFeatures, linearProbeFeatures, tensorBatchSource } from './features.js';
export type { Embed, ImageBatchSource, IntermediateLayersModel } from './features.js';
export { evaluateLinearProbe, resizedCropFlip, trainLinearProbe } from './linear-probe.js';
export type { LinearProbe, LinearProbeOptions } from './linear-probe.js';
export { bundledPhotosDir, runEvalSuite } from './suite.js';
export type { EvalSuiteOptions, EvalSuiteResult, EvalViT } from './suite.js';
export {
  evalImagesSource,
  imageFeatures,
  knnEvaluate,
  pickImages,
  recomputeBatchNormStats,
  withEvalBatchNormStats,
  writeAttentionMaps,
} from './eval-images.js';
export type { EvalImages, FeatureModel, KnnEval } from './eval-images.js';
export { pixelFeatures } from './pixels.js';
