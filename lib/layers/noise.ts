import { optionsArg } from '../describe';
import { finiteIn, layerName } from './check';
import { Layer } from './layer';
import type { LayerConfig, ParamSpec, PassContext } from './layer';

/**
 * Gaussian noise: while training, adds zero-mean normal noise of standard deviation `std` to
 * every unit (a regulariser, as Keras' GaussianNoise); at inference it passes its input through.
 * The noise comes from the model's seeded generator, so it is the same on every backend. Its
 * gradient is the identity.
 */
export class GaussianNoise extends Layer {
  readonly kind = 'gaussianNoise';
  readonly std: number;
  private y = new Float32Array(0);

  constructor(std: number, options: { name?: string } = {}) {
    super();
    this.std = finiteIn('gaussianNoise', 'std', std, 0, 1e30);
    options = optionsArg('gaussianNoise', options, { name: true });
    this.name = layerName('gaussianNoise', options.name);
  }

  build(inSize: number): ParamSpec[] {
    this.inSize = inSize;
    this.outSize = inSize;
    return [];
  }

  protected allocate(rows: number): void {
    this.y = new Float32Array(rows * this.inSize);
  }

  forward(ctx: PassContext, batch: number, x: Float32Array): Float32Array {
    if (!(ctx.training || ctx.stochastic === true) || this.std === 0) return x;
    const n = batch * this.inSize;
    const rng = ctx.rng;
    for (let i = 0; i < n; i++) this.y[i] = x[i] + this.std * rng.normal();
    return this.y;
  }

  backward(_ctx: PassContext, _batch: number, _x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null {
    return needDx ? dy : null;
  }

  config(): LayerConfig {
    return { kind: this.kind, std: this.std, name: this.name ?? null };
  }
}
