import { ACTIVATION_NAMES, ACTIVATIONS, activationId } from '../activations';
import type { ActivationName } from '../activations';
import { defaultInit } from '../init';
import type { InitSpec } from '../init';
import { alignedFloat32Array } from '../backend/memory';
import type { Backend } from '../backend/types';
import { ErrorCode, rangeError, typeError } from '../errors';
import { optionsArg, typeName } from '../describe';
import { finiteIn, layerName, oneOf, positiveInt } from './check';
import { Layer } from './layer';
import type { LayerConfig, ParamSpec, PassContext } from './layer';

/** What a dense layer may apply after its affine map: a table activation or a row-wise softmax. */
export type DenseActivation = ActivationName | 'softmax';

/** Options of `dense()`. */
export interface DenseOptions {
  /** Applied to z = x W^T + b. Default 'identity' (logits). */
  activation?: DenseActivation;
  /** The activation's parameter (leakyRelu slope, elu alpha); default from the table. */
  activationParam?: number;
  /** Whether the layer has a bias. Default true. */
  bias?: boolean;
  /** Weight initialiser; default by activation (see defaultInit). */
  init?: InitSpec;
  /** Bias initialiser. Default zeros. */
  biasInit?: InitSpec;
  /** L1 penalty strength on the weights: l1 * sum |W|. Default 0. */
  l1?: number;
  /** L2 penalty strength on the weights: (l2 / 2) * sum W^2, gradient l2 * W. Default 0. */
  l2?: number;
  /**
   * DropConnect: probability of dropping each weight during training. Kept weights are scaled
   * by 1 / (1 - rate) (inverted, as dropout), so inference uses W unchanged. Default 0.
   */
  dropConnect?: number;
  /**
   * Max-norm constraint: after every optimiser step in fit, each unit's incoming weight vector
   * (a row of W) longer than maxNorm is scaled back to maxNorm (torch.renorm; Keras' MaxNorm on
   * this layout). Default none.
   */
  maxNorm?: number;
  name?: string;
}

const IDENTITY = activationId('identity');

/**
 * A fully connected layer: z = x W^T + b, y = f(z), with W [units, inSize] and b [units]
 * (PyTorch's nn.Linear layout), f fused into the same native pass. With activation 'softmax' or
 * 'sigmoid' as the output layer and a cross-entropy loss, the model computes the loss on z and
 * the gradient as prediction - target.
 */
export class Dense extends Layer {
  readonly kind = 'dense';
  readonly units: number;
  readonly activation: DenseActivation;
  readonly activationParam: number;
  readonly useBias: boolean;
  readonly init: InitSpec | undefined;
  readonly biasInit: InitSpec;
  readonly l1: number;
  readonly l2: number;
  readonly dropConnect: number;
  readonly maxNorm: number | null;
  private readonly actId: number;
  private z = new Float32Array(0);
  private y = new Float32Array(0);
  private dz = new Float32Array(0);
  private dIn = new Float32Array(0);
  private mask = new Float32Array(0);
  private masked = new Float32Array(0);
  private maskedLast = false;

  constructor(units: number, options: DenseOptions = {}) {
    super();
    const where = 'dense';
    this.units = positiveInt(where, 'units', units);
    options = optionsArg(where, options, {
      activation: true, activationParam: true, bias: true, init: true, biasInit: true, l1: true, l2: true, dropConnect: true, maxNorm: true, name: true,
    });
    this.activation = oneOf(where, 'activation', options.activation ?? 'identity', [...ACTIVATION_NAMES, 'softmax'] as const);
    const tableParam = this.activation === 'softmax' ? 0 : ACTIVATIONS[this.activation].param;
    this.activationParam = finiteIn(where, 'activationParam', options.activationParam ?? tableParam, -1e30, 1e30);
    this.useBias = options.bias ?? true;
    if (typeof this.useBias !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for bias but received ${typeName(this.useBias)}`);
    this.init = options.init;
    this.biasInit = options.biasInit ?? 'zeros';
    this.l1 = finiteIn(where, 'l1', options.l1 ?? 0, 0, 1e30);
    this.l2 = finiteIn(where, 'l2', options.l2 ?? 0, 0, 1e30);
    this.dropConnect = finiteIn(where, 'dropConnect', options.dropConnect ?? 0, 0, 1, true);
    const maxNorm = options.maxNorm;
    if (maxNorm === undefined || maxNorm === null) {
      this.maxNorm = null;
    } else {
      if (typeof maxNorm !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected number for maxNorm but received ${typeof maxNorm}`);
      if (!(maxNorm > 0 && maxNorm < 1e30)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected maxNorm in (0, 1e+30) but received ${maxNorm}`);
      this.maxNorm = maxNorm;
    }
    this.name = layerName(where, options.name);
    this.actId = this.activation === 'softmax' ? IDENTITY : activationId(this.activation);
  }

  build(inSize: number): ParamSpec[] {
    this.inSize = inSize;
    this.outSize = this.units;
    const specs: ParamSpec[] = [{
      name: 'weight',
      shape: [this.units, inSize],
      init: this.init ?? defaultInit(this.activation, this.activationParam),
      penalized: true,
    }];
    if (this.useBias) specs.push({ name: 'bias', shape: [this.units], init: this.biasInit, penalized: false });
    return specs;
  }

  protected allocate(rows: number): void {
    const n = rows * this.units;
    this.z = alignedFloat32Array(n);
    // Without an activation the output is z itself.
    this.y = this.activation === 'identity' ? this.z : alignedFloat32Array(n);
    this.dz = alignedFloat32Array(n);
    this.dIn = alignedFloat32Array(rows * this.inSize);
    if (this.dropConnect > 0 && this.mask.length === 0) {
      this.mask = alignedFloat32Array(this.units * this.inSize);
      this.masked = alignedFloat32Array(this.units * this.inSize);
    }
  }

  private get weight(): Float32Array {
    return this.params[0];
  }

  private get bias(): Float32Array | null {
    return this.useBias ? this.params[1] : null;
  }

  /** The weights this pass uses: W, or W * mask under DropConnect while training. */
  private effectiveWeight(ctx: PassContext): Float32Array {
    this.maskedLast = (ctx.training || ctx.stochastic === true) && this.dropConnect > 0;
    if (!this.maskedLast) return this.weight;
    const keep = 1 - this.dropConnect;
    fillMask(ctx, this.mask, this.mask.length, this.dropConnect, 1 / keep);
    ctx.backend.mul(this.mask.length, this.weight, this.mask, this.masked);
    return this.masked;
  }

  /** The DropConnect mask of the last pass (scale or 0 per weight), or null if none was applied. */
  lastMask(): Float32Array | null {
    return this.maskedLast ? this.mask : null;
  }

  forward(ctx: PassContext, batch: number, x: Float32Array): Float32Array {
    const b = ctx.backend;
    const w = this.effectiveWeight(ctx);
    if (this.activation === 'softmax') {
      b.denseForward(IDENTITY, 0, batch, this.inSize, this.units, x, w, this.bias, this.z, this.z);
      b.softmax(batch, this.units, this.z, this.y);
    } else {
      // Sigmoid's pre-activations are its logits (logits()); the others' only backward reads.
      const z = ctx.inference && this.activation !== 'sigmoid' ? this.y : this.z;
      b.denseForward(this.actId, this.activationParam, batch, this.inSize, this.units, x, w, this.bias, z, this.y);
    }
    return this.y;
  }

  backward(ctx: PassContext, batch: number, x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null {
    if (this.activation === 'softmax') {
      ctx.backend.softmaxBackward(batch, this.units, this.y, dy, this.dz);
      return this.backwardFromLogits(ctx, batch, x, this.dz, needDx);
    }
    return this.affineBackward(ctx, batch, x, this.actId, this.activationParam, dy, needDx);
  }

  override logits(): Float32Array | null {
    return this.activation === 'softmax' || this.activation === 'sigmoid' ? this.z : null;
  }

  override outputActivation(): string | null {
    return this.activation === 'softmax' || this.activation === 'sigmoid' ? this.activation : null;
  }

  override backwardFromLogits(ctx: PassContext, batch: number, x: Float32Array, dz: Float32Array, needDx: boolean): Float32Array | null {
    return this.affineBackward(ctx, batch, x, IDENTITY, 0, dz, needDx);
  }

  private affineBackward(ctx: PassContext, batch: number, x: Float32Array, act: number, param: number,
    dy: Float32Array, needDx: boolean): Float32Array | null {
    const b = ctx.backend;
    const w = this.maskedLast ? this.masked : this.weight;
    const dw = this.grads[0];
    const db = this.useBias ? this.grads[1] : null;
    const dx = needDx ? this.dIn : null;
    // dz may be dy itself (the softmax path writes its delta there).
    b.denseBackward(act, param, batch, this.inSize, this.units, 0, x, w, this.z, this.y, dy, this.dz, dw, db, dx);
    // d/dW of (W * mask) is mask * d/d(W * mask).
    if (this.maskedLast) b.mul(dw.length, dw, this.mask, dw);
    return dx;
  }

  override penalty(): { l1: number; l2: number } {
    return { l1: this.l1, l2: this.l2 };
  }

  override hasConstraints(): boolean {
    return this.maxNorm !== null;
  }

  override constrain(backend: Backend): void {
    if (this.maxNorm !== null) backend.maxNormRows(this.units, this.inSize, this.maxNorm, this.weight);
  }

  override activationName(): string | null {
    return this.activation;
  }

  config(): LayerConfig {
    return {
      kind: this.kind, units: this.units, activation: this.activation, activationParam: this.activationParam,
      bias: this.useBias, init: this.init ?? null, biasInit: this.biasInit, l1: this.l1, l2: this.l2,
      dropConnect: this.dropConnect, maxNorm: this.maxNorm, name: this.name ?? null,
    };
  }
}

/**
 * Fills mask[0..n) with `scale` (kept, probability 1 - rate) or 0 (dropped), drawing one 32-bit
 * number per element from the model's generator, so masks are the same on every backend.
 */
export function fillMask(ctx: PassContext, mask: Float32Array, n: number, rate: number, scale: number): void {
  const threshold = rate * 4294967296;
  const rng = ctx.rng;
  for (let i = 0; i < n; i++) mask[i] = rng.nextUint32() >= threshold ? scale : 0;
}
