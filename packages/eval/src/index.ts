export { classRank, knnClassifier, knnClassifierSweep, knnSearch, knnVotes, rankClasses } from './knn.js';
export type { KnnNeighbors, KnnOptions, KnnResult } from './knn.js';
export { labelArray, rowSource, toMatrix } from './matrix.js';
export type { FeatureInput, LabelInput, Matrix, RowSource } from './matrix.js';
