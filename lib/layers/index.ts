import { Activation } from './activation';
import type { ActivationLayerName } from './activation';
import { BatchNorm } from './batchnorm';
import type { BatchNormOptions } from './batchnorm';
import { Dense } from './dense';
import type { DenseOptions } from './dense';
import { Dropout } from './dropout';
import type { DropoutMode } from './dropout';
import { PReLU } from './prelu';
import type { PReLUOptions } from './prelu';

export { Activation, BatchNorm, Dense, Dropout, PReLU };
export type { ActivationLayerName, BatchNormOptions, DenseOptions, DropoutMode, PReLUOptions };
export { Layer } from './layer';
export type { BufferView, LayerConfig, ParamSpec, PassContext } from './layer';
export type { DenseActivation } from './dense';

/** A fully connected layer of `units` outputs (see Dense). */
export const dense = (units: number, options?: DenseOptions): Dense => new Dense(units, options);
/** An activation layer (see Activation). */
export const activation = (fn: ActivationLayerName, param?: number): Activation => new Activation(fn, param);
/** A dropout layer dropping each unit with probability `rate` (see Dropout). */
export const dropout = (rate: number, options?: { mode?: DropoutMode; name?: string }): Dropout => new Dropout(rate, options);
/** A batch-normalisation layer (see BatchNorm). */
export const batchNorm = (options?: BatchNormOptions): BatchNorm => new BatchNorm(options);
/** A PReLU layer (see PReLU). */
export const prelu = (options?: PReLUOptions): PReLU => new PReLU(options);
