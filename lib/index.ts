/** blasnet: multi-layer perceptrons in Node.js at native speed. */
export { ACTIVATIONS, ACTIVATION_NAMES, activationId } from './activations';
export type { ActivationDef, ActivationName } from './activations';
export { LOSSES, LOSS_NAMES, lossId } from './losses';
export type { LossDef, LossName, LossTargets } from './losses';
export { BlasnetError, ErrorCode } from './errors';
export type { Backend, BackendInfo } from './backend/types';
export { jsBackend } from './backend/js';
export { defaultBackend, getBackend, nativeAvailable, nativeLoadError, setDefaultBackend } from './backend/select';
export type { BackendName } from './backend/select';
export { Rng } from './rng';
export { calculateFans, calculateGain, defaultInit, GAINS, INIT_NAMES, INITIALIZERS, initialize, NONLINEARITIES } from './init';
export type { DefaultInitActivation, FanMode, Fans, GainDef, InitDef, InitName, InitOptions, InitSpec, Nonlinearity } from './init';
export { Matrix } from './tensor';
export { Activation, BatchNorm, Dense, Dropout, GaussianNoise, Layer, PReLU, activation, batchNorm, dense, dropout, gaussianNoise, prelu } from './layers';
export type {
  ActivationLayerName, BatchNormOptions, BufferView, DenseActivation, DenseOptions, DropoutMode, LayerConfig, ParamSpec,
  PassContext, PReLUOptions,
} from './layers';
export { Sequential } from './model/sequential';
export type { EvaluateOptions, Input, NamedTensor, ParameterView, SequentialOptions, Target } from './model/sequential';
export { resolveLoss } from './model/loss';
export type { BuiltInLossSpec, CustomLoss, LossSpec, LossSpecName, Reduction } from './model/loss';
export type { LayerDiagnostics } from './model/diagnostics';
export { createSchedule, SCHEDULE_NAMES, SCHEDULES } from './schedules';
export type {
  NestedScheduleSpec, OptionDef, OptionPresence, ParsedOptions, PlateauSettings, Schedule, ScheduleDef, ScheduleEngine,
  ScheduleName, ScheduleOptions, ScheduleSpec, ScheduleState,
} from './schedules';
export {
  checkScheduleMomentum, clipGradNorm, clipGradValue, createOptimizer, followSchedule, OPTIMIZER_KERNEL_NAMES, OPTIMIZER_KERNELS, OPTIMIZER_NAMES,
  OPTIMIZERS,
} from './optim';
export type {
  GradientTarget, Optimizer, OptimizerDef, OptimizerKernelDef, OptimizerKernelName, OptimizerName, OptimizerOptionDef,
  OptimizerOptions, OptimizerSpec, OptimizerState, OptimizerTarget, ParsedOptimizerOptions,
} from './optim';
export {
  BatchIterator, classWeights, Dataset, encodeIdx, recordsToMatrix, recordColumn, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, IDX_TYPES, loadFashionMnist, loadMnistLike, MinMaxScaler,
  oneHot, parseIdx, PCA, preprocessorFromJSON, readCsv, readIdx, readTable, takeRows, split, Standardizer, symmetricEigen, TabularPreprocessor,
  trainTestSplit, writeIdx,
} from './data';
export type {
  Batch, BatchOptions, EpochOptions, ClassWeight, DataRecord, DatasetOptions, DatasetTargets, InputSpec, CsvData, CsvOptions, Idx, IdxData, IdxType, MinMaxOptions, MinMaxScalerJSON, MnistLike, MnistOptions,
  PCAJSON, PCAOptions, Preprocessor, SplitOptions, SplitPart, StandardizerJSON, StandardizerOptions, SymmetricEigen, Table, TableInput, TabularOptions,
  TabularPreprocessorJSON, Targets, Task, TrainTestSplitOptions, Cell,
} from './data';
export {
  classificationReport, confusionMatrix, formatClassificationReport, formatRegressionReport, regressionReport, rocAuc,
} from './metrics';
export type { ClassificationReport, ClassLabels, ClassScores, RegressionReport } from './metrics';
export { csvLogger, earlyStopping, modelCheckpoint, progressBar, reduceLrOnPlateau, terminateOnNaN } from './train/callbacks';
export type { BatchLogs, Callback, CallbackState, EpochLogs, TrainContext } from './train/callbacks';
export { createMetric } from './train/metrics';
export type { Metric, MetricSpec } from './train/metrics';
export type { CompileOptions, Divergence, FitOptions, History, Labels } from './train/fit';
export { decodeModel, encodeModel, loadModel, loadModels, saveModel, saveModels } from './io/model-file';
export type { LoadedModel, ModelExtras, SavedCompile } from './io/model-file';
export { LBFGS } from './optim/lbfgs';
export type { Closure, LbfgsOptions, LbfgsTarget } from './optim/lbfgs';
export type { ModelConfig } from './model/sequential';
export { learningCurveSpec, learningCurvesSvg, movingAverage, svgToPng, writeLearningCurves } from './plot/curves';
export { confusionMatrixSpec, writeConfusionMatrix } from './plot/confusion';
export type { FitAsyncOptions } from './train/async';
export { updateBatchNorm } from './train/averaging';
export type { EmaOptions, SwaOptions } from './train/averaging';
export { mcPredict } from './recipe/uncertainty';
export { Ensemble, snapshotEnsemble } from './recipe/ensemble';
export { diagnosticsLogger, histogram } from './recipe/diagnostics';
export type { DiagnosticsData, Histogram, HistogramSnapshot } from './recipe/diagnostics';
export { diagnosticsSpec, writeDiagnostics } from './plot/diagnostics';
export type { EnsembleFitAsyncOptions, SnapshotOptions } from './recipe/ensemble';
export type { McPrediction } from './recipe/uncertainty';
export {
  compileInference, decodeSafetensors, encodeOnnx, encodeSafetensors, exportOnnx, loadSafetensors, OnnxGraph, parseSafetensors,
  saveSafetensors, stateDictEntries,
} from './interop';
export type {
  CompiledInference, InferenceFunction, InferenceOptions, OnnxAttribute, OnnxExportOptions, OnnxPreprocessing, SafetensorsOptions, SafetensorsTensor,
  StateDictEntry,
} from './interop';
export { checkModel, expectedInitialLoss, lrFinder, lrFinderSpec, lrFinderSvg, runStartChecks, writeLrFinderPlot } from './recipe';
export type {
  CheckOptions, GradientCheck, GradientTensorCheck, InitialLossCheck, LrFinderOptions, LrFinderResult, ModelCheckReport, OverfitCheck,
  UnitCheck,
} from './recipe';
export {
  checkSpace, choice, DEFAULT_QUEUE_NAME, defaultBuild, integers, logUniform, MLP_SPACE, search, SEARCH_METRICS, searchTableCsv, spaceFromJSON, startQueueWorker, uniform,
} from './search';
export type {
  BuildContext, BuildFunction, BuildSpec, ChoiceParam, Config, NumberParam, ParamValue, SearchBudget, SearchParam, SearchMetric,
  QueueSpec, QueueWorker, QueueWorkerOptions, SearchOptions, SearchResult, SearchSpace, SearchStrategy, Trial, TrialData, TrialResult, TrialRunner, TrialStatus,
} from './search';
export { searchPlotSpec, writeSearchPlot } from './plot/search';
export { predictClasses, predictProba } from './predict';
export type { PredictOptions } from './predict';
export { fitDistributed, initDistributed, mpiAvailable, replicaMaskSeed } from './distributed';
export type { Communicator, DistributedOptions, FitDistributedOptions } from './distributed';
export type { DataParallel, ReplicaBatches, ReplicaRows } from './train/parallel';
