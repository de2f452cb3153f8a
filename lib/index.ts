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
