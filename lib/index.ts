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
export { Activation, BatchNorm, Dense, Dropout, Layer, PReLU, activation, batchNorm, dense, dropout, prelu } from './layers';
export type {
  ActivationLayerName, BatchNormOptions, BufferView, DenseActivation, DenseOptions, DropoutMode, LayerConfig, ParamSpec,
  PassContext, PReLUOptions,
} from './layers';
export { Sequential } from './model/sequential';
export type { Input, NamedTensor, ParameterView, SequentialOptions, Target } from './model/sequential';
export { resolveLoss } from './model/loss';
export type { CustomLoss, LossSpec } from './model/loss';
export type { LayerDiagnostics } from './model/diagnostics';
export { createSchedule, SCHEDULE_NAMES, SCHEDULES } from './schedules';
export type {
  NestedScheduleSpec, OptionDef, OptionPresence, ParsedOptions, PlateauSettings, Schedule, ScheduleDef, ScheduleEngine,
  ScheduleName, ScheduleOptions, ScheduleSpec, ScheduleState,
} from './schedules';
