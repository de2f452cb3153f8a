import { ACTIVATION_NAMES, ACTIVATIONS, activationId } from '../activations';
import type { ActivationName } from '../activations';
import { alignedFloat32Array } from '../backend/memory';
import { finiteIn, layerName, oneOf } from './check';
import { Layer } from './layer';
import type { LayerConfig, ParamSpec, PassContext } from './layer';

/** An elementwise table activation, or a row-wise softmax / log-softmax. */
export type ActivationLayerName = ActivationName | 'softmax' | 'logSoftmax';

/** A parameter-free activation layer: y = f(x), same shape. */
export class Activation extends Layer {
  readonly kind = 'activation';
  readonly fn: ActivationLayerName;
  readonly param: number;
  private readonly id: number;
  private y = new Float32Array(0);
  private dIn = new Float32Array(0);
  private lastInput: Float32Array | null = null;

  constructor(fn: ActivationLayerName, param?: number, name?: string) {
    super();
    this.fn = oneOf('activation', 'activation', fn, [...ACTIVATION_NAMES, 'softmax', 'logSoftmax'] as const);
    const rowwise = this.fn === 'softmax' || this.fn === 'logSoftmax';
    this.param = finiteIn('activation', 'param', param ?? (rowwise ? 0 : ACTIVATIONS[this.fn as ActivationName].param), -1e30, 1e30);
    this.id = rowwise ? -1 : activationId(this.fn as ActivationName);
    this.name = layerName('activation', name);
  }

  build(inSize: number): ParamSpec[] {
    this.inSize = inSize;
    this.outSize = inSize;
    return [];
  }

  protected allocate(rows: number): void {
    this.y = alignedFloat32Array(rows * this.inSize);
    this.dIn = alignedFloat32Array(rows * this.inSize);
  }

  forward(ctx: PassContext, batch: number, x: Float32Array): Float32Array {
    const b = ctx.backend;
    this.lastInput = x;
    if (this.fn === 'softmax') b.softmax(batch, this.inSize, x, this.y);
    else if (this.fn === 'logSoftmax') b.logSoftmax(batch, this.inSize, x, this.y);
    else b.activation(this.id, this.param, batch * this.inSize, x, this.y);
    return this.y;
  }

  backward(ctx: PassContext, batch: number, x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null {
    if (!needDx) return null;
    const b = ctx.backend;
    if (this.fn === 'softmax') b.softmaxBackward(batch, this.inSize, this.y, dy, this.dIn);
    else if (this.fn === 'logSoftmax') b.logSoftmaxBackward(batch, this.inSize, this.y, dy, this.dIn);
    else b.activationBackward(this.id, this.param, batch * this.inSize, x, this.y, dy, this.dIn);
    return this.dIn;
  }

  override logits(): Float32Array | null {
    return this.outputActivation() ? this.lastInput : null;
  }

  override outputActivation(): string | null {
    return this.fn === 'softmax' || this.fn === 'sigmoid' ? this.fn : null;
  }

  override activationName(): string | null {
    return this.fn;
  }

  config(): LayerConfig {
    return { kind: this.kind, fn: this.fn, param: this.param, name: this.name ?? null };
  }
}
