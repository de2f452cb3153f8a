import { show } from '../describe';
import { BlasnetError, ErrorCode } from '../errors';
import { Layer } from './layer';
import type { LayerConfig } from './layer';
import { Activation } from './activation';
import type { ActivationLayerName } from './activation';
import { BatchNorm } from './batchnorm';
import type { BatchNormOptions } from './batchnorm';
import { Dense } from './dense';
import type { DenseOptions } from './dense';
import { Dropout } from './dropout';
import type { DropoutMode } from './dropout';
import { GaussianNoise } from './noise';
import { PReLU } from './prelu';
import type { PReLUOptions } from './prelu';

export { Activation, BatchNorm, Dense, Dropout, GaussianNoise, PReLU };
export type { ActivationLayerName, BatchNormOptions, DenseOptions, DropoutMode, PReLUOptions };
export { Layer };
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
/** A Gaussian-noise layer adding N(0, std^2) noise while training (see GaussianNoise). */
export const gaussianNoise = (std: number, options?: { name?: string }): GaussianNoise => new GaussianNoise(std, options);
/** A PReLU layer (see PReLU). */
export const prelu = (options?: PReLUOptions): PReLU => new PReLU(options);

/**
 * Rebuilds a layer from its config() (as saved in a model file). Unknown kinds and invalid
 * options fail with the same coded errors as the factories.
 */
/**
 * The index of the model's first layer that is not one of blasnet's own (a Layer subclass of the
 * caller's, which layerFromConfig cannot rebuild from its config), or -1.
 */
export function firstCustomLayer(layers: readonly Layer[]): number {
  return layers.findIndex((l) => !(l instanceof Dense || l instanceof Activation || l instanceof Dropout || l instanceof BatchNorm || l instanceof GaussianNoise || l instanceof PReLU));
}

/**
 * The keys each layer kind's config() writes, besides kind and name (every release has written
 * these and no others): a key outside them, from a file of a later release whose layer takes an
 * option this one does not know, would be dropped and the layer computed without it.
 */
const CONFIG_KEYS: Record<string, readonly string[]> = {
  dense: ['units', 'activation', 'activationParam', 'bias', 'init', 'biasInit', 'l1', 'l2', 'dropConnect', 'maxNorm'],
  activation: ['fn', 'param'],
  dropout: ['rate', 'mode'],
  batchNorm: ['eps', 'momentum'],
  gaussianNoise: ['std'],
  prelu: ['perUnit', 'init'],
};

/** A layer from its config(); an unknown kind or key is ERR_BLASNET_FORMAT. */
export function layerFromConfig(config: LayerConfig): Layer {
  const c = config as Record<string, unknown>;
  const name = (c.name ?? undefined) as string | undefined;
  const known = typeof c.kind === 'string' && Object.prototype.hasOwnProperty.call(CONFIG_KEYS, c.kind) ? CONFIG_KEYS[c.kind] : null;
  const extra = known ? Object.keys(c).find((k) => k !== 'kind' && k !== 'name' && !known.includes(k)) : undefined;
  if (extra !== undefined) {
    throw new BlasnetError(ErrorCode.FORMAT, `a ${c.kind as string} layer with the option ${show(extra)}, which this version of blasnet does not know (a file of a later release?)`);
  }
  switch (c.kind) {
    case 'dense':
      return new Dense(c.units as number, {
        activation: c.activation as DenseOptions['activation'], activationParam: c.activationParam as number,
        bias: c.bias as boolean, init: (c.init ?? undefined) as DenseOptions['init'], biasInit: c.biasInit as DenseOptions['biasInit'],
        l1: c.l1 as number, l2: c.l2 as number, dropConnect: c.dropConnect as number, maxNorm: (c.maxNorm ?? undefined) as number | undefined, name,
      });
    case 'activation':
      return new Activation(c.fn as ActivationLayerName, c.param as number, name);
    case 'dropout':
      return new Dropout(c.rate as number, { mode: c.mode as DropoutMode, name });
    case 'batchNorm':
      return new BatchNorm({ eps: c.eps as number, momentum: c.momentum as number, name });
    case 'gaussianNoise':
      return new GaussianNoise(c.std as number, { name });
    case 'prelu':
      return new PReLU({ perUnit: c.perUnit as boolean, init: c.init as number, name });
    default:
      throw new BlasnetError(ErrorCode.FORMAT, `unknown layer kind ${show(c.kind)}`);
  }
}
