/** Optimisers over a parameter arena, their kernel table, and gradient clipping. */
export { checkScheduleMomentum, clipGradNorm, clipGradValue, createOptimizer, followSchedule, OPTIMIZER_NAMES, OPTIMIZERS } from './optimizers';
export type {
  GradientTarget, Optimizer, OptimizerDef, OptimizerName, OptimizerOptionDef, OptimizerOptions, OptimizerSpec,
  OptimizerState, OptimizerTarget, ParsedOptimizerOptions,
} from './optimizers';
export { hyperIndex, OPTIMIZER_KERNEL_LIST, OPTIMIZER_KERNEL_NAMES, OPTIMIZER_KERNELS, optimizerKernelId } from './kernels';
export type { HyperIndex, OptimizerKernelDef, OptimizerKernelName } from './kernels';
