import { optionsArg } from '../describe';
import { ErrorCode, rangeError } from '../errors';
import { alignedFloat32Array } from '../backend/memory';
import { finiteIn, layerName } from './check';
import { Layer } from './layer';
import type { BufferView, LayerConfig, ParamSpec, PassContext } from './layer';

/** Options of `batchNorm()`. */
export interface BatchNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Weight of the current batch in the running estimates. Default 0.1. */
  momentum?: number;
  name?: string;
}

/**
 * Batch normalisation over the batch, one channel per feature, with PyTorch's BatchNorm1d
 * semantics: while training, normalise with the batch mean and biased variance and update the
 * running estimates (running = (1 - momentum) running + momentum * batch, with the unbiased
 * variance); at inference, normalise with the running estimates. y = gamma * xhat + beta,
 * gamma initialised to 1 and beta to 0.
 */
export class BatchNorm extends Layer {
  readonly kind = 'batchNorm';
  readonly eps: number;
  readonly momentum: number;
  private mean = new Float32Array(0);
  private invStd = new Float32Array(0);
  private xhat = new Float32Array(0);
  private y = new Float32Array(0);
  private dIn = new Float32Array(0);
  private trainedLast = false;
  private state: { mean: Float32Array; var: Float32Array } = { mean: new Float32Array(0), var: new Float32Array(0) };

  constructor(options: BatchNormOptions = {}) {
    super();
    options = optionsArg('batchNorm', options, { eps: true, momentum: true, name: true });
    this.eps = finiteIn('batchNorm', 'eps', options.eps ?? 1e-5, Number.MIN_VALUE, 1e30);
    // The kernels and an exported graph hold eps as float32, where this would be 0.
    if (Math.fround(this.eps) === 0) {
      throw rangeError(ErrorCode.ARG_RANGE, `batchNorm: eps ${this.eps} rounds to 0 in float32, where the kernels and an exported graph hold it; ` +
        'use at least 1.4e-45 (default 1e-5)');
    }
    this.momentum = finiteIn('batchNorm', 'momentum', options.momentum ?? 0.1, 0, 1);
    this.name = layerName('batchNorm', options.name);
  }

  build(inSize: number): ParamSpec[] {
    this.inSize = inSize;
    this.outSize = inSize;
    // On shared memory, so that a worker training this model updates the same statistics.
    this.state = {
      mean: new Float32Array(new SharedArrayBuffer(4 * inSize)),
      var: new Float32Array(new SharedArrayBuffer(4 * inSize)).fill(1),
    };
    this.mean = new Float32Array(inSize);
    this.invStd = new Float32Array(inSize);
    return [
      { name: 'gamma', shape: [inSize], init: 'ones', penalized: false },
      { name: 'beta', shape: [inSize], init: 'zeros', penalized: false },
    ];
  }

  /** The running mean, updated by training passes. */
  get runningMean(): Float32Array {
    return this.state.mean;
  }

  /** The running (unbiased) variance, updated by training passes. */
  get runningVar(): Float32Array {
    return this.state.var;
  }

  override buffers(): BufferView[] {
    return [
      { name: 'runningMean', data: this.state.mean },
      { name: 'runningVar', data: this.state.var },
    ];
  }

  override adoptBuffers(arrays: Float32Array[]): void {
    this.state = { mean: arrays[0], var: arrays[1] };
  }

  protected allocate(rows: number): void {
    const n = rows * this.inSize;
    this.xhat = alignedFloat32Array(n);
    this.y = alignedFloat32Array(n);
    this.dIn = alignedFloat32Array(n);
  }

  /**
   * The momentum training passes use instead of `momentum` while set (updateBatchNorm's
   * cumulative average); null otherwise. @internal
   */
  momentumOverride: number | null = null;

  forward(ctx: PassContext, batch: number, x: Float32Array): Float32Array {
    this.trainedLast = ctx.training;
    ctx.backend.batchNormForward(ctx.training, batch, this.inSize, this.eps, this.momentumOverride ?? this.momentum, x, this.params[0],
      this.params[1], this.state.mean, this.state.var, this.mean, this.invStd, this.xhat, this.y);
    return this.y;
  }

  backward(ctx: PassContext, batch: number, _x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null {
    const dx = needDx ? this.dIn : null;
    ctx.backend.batchNormBackward(this.trainedLast, batch, this.inSize, 0, this.xhat, this.params[0], this.invStd, dy,
      this.grads[0], this.grads[1], dx);
    return dx;
  }

  config(): LayerConfig {
    return { kind: this.kind, eps: this.eps, momentum: this.momentum, name: this.name ?? null };
  }
}
