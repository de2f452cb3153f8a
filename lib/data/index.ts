/** The data module: IDX and CSV readers, preprocessing (numeric scalers and tables), splits and mini-batches. */
export { encodeIdx, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, IDX_TYPES, loadFashionMnist, loadMnistLike, parseIdx, readIdx, writeIdx } from './idx';
export type { Idx, IdxData, IdxType, MnistLike, MnistOptions } from './idx';
export { readCsv } from './csv';
export type { CsvData, CsvOptions } from './csv';
export { MinMaxScaler, oneHot, PCA, preprocessorFromJSON, Standardizer } from './preprocess';
export type { MinMaxOptions, MinMaxScalerJSON, PCAJSON, PCAOptions, Preprocessor, StandardizerJSON, StandardizerOptions } from './preprocess';
export { readTable, TabularPreprocessor, takeRows } from './tabular';
export type { Cell, Table, TableInput, TabularOptions, TabularPreprocessorJSON, Task } from './tabular';
export { symmetricEigen } from './eigen';
export type { SymmetricEigen } from './eigen';
export { split, trainTestSplit } from './split';
export type { SplitOptions, SplitPart, Targets, TrainTestSplitOptions } from './split';
export { BatchIterator } from './batches';
export type { Batch, BatchOptions } from './batches';
export { inferColumns, isRecords, readRows, recordColumn, recordsToMatrix, toMatrix } from './input';
export type { DataRecord, Input, InputSpec, Rows } from './input';
export { classWeights, rowClasses, sampleWeights } from './weights';
export type { ClassWeight } from './weights';
