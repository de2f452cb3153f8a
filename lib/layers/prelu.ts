import { optionsArg, typeName } from '../describe';
import { ErrorCode, typeError } from '../errors';
import { finiteIn, layerName } from './check';
import type { InitSpec } from '../init';
import { Layer } from './layer';
import type { LayerConfig, ParamSpec, PassContext } from './layer';

/** Options of `prelu()`. */
export interface PReLUOptions {
  /** One learned slope per unit (true) or one for the whole layer (false, PyTorch's default). */
  perUnit?: boolean;
  /** Initial slope(s). Default 0.25, as PyTorch. */
  init?: number;
  name?: string;
}

/**
 * Parametric ReLU: y = x if x > 0 else a x, with the slope a learned (one, or one per unit).
 * No penalty applies to a (as PyTorch recommends: no weight decay on PReLU slopes).
 */
export class PReLU extends Layer {
  readonly kind = 'prelu';
  readonly perUnit: boolean;
  readonly initSlope: number;
  private y = new Float32Array(0);
  private dIn = new Float32Array(0);

  constructor(options: PReLUOptions = {}) {
    super();
    options = optionsArg('prelu', options, { perUnit: true, init: true, name: true });
    this.perUnit = options.perUnit ?? false;
    if (typeof this.perUnit !== 'boolean') {
      throw typeError(ErrorCode.ARG_TYPE, `prelu: Expected boolean for perUnit but received ${typeName(this.perUnit)}`);
    }
    this.initSlope = finiteIn('prelu', 'init', options.init ?? 0.25, -1e30, 1e30);
    this.name = layerName('prelu', options.name);
  }

  build(inSize: number): ParamSpec[] {
    this.inSize = inSize;
    this.outSize = inSize;
    const init: InitSpec = { name: 'constant', value: this.initSlope };
    return [{ name: 'slope', shape: [this.perUnit ? inSize : 1], init, penalized: false }];
  }

  protected allocate(rows: number): void {
    this.y = new Float32Array(rows * this.inSize);
    this.dIn = new Float32Array(rows * this.inSize);
  }

  forward(ctx: PassContext, batch: number, x: Float32Array): Float32Array {
    ctx.backend.prelu(this.perUnit, batch, this.inSize, x, this.params[0], this.y);
    return this.y;
  }

  backward(ctx: PassContext, batch: number, x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null {
    ctx.backend.preluBackward(this.perUnit, batch, this.inSize, 0, x, this.params[0], dy, this.grads[0], this.dIn);
    return needDx ? this.dIn : null;
  }

  override activationName(): string | null {
    return 'prelu';
  }

  config(): LayerConfig {
    return { kind: this.kind, perUnit: this.perUnit, init: this.initSlope, name: this.name ?? null };
  }
}
