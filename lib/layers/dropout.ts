import { alignedFloat32Array } from '../backend/memory';
import { optionsArg } from '../describe';
import { finiteIn, layerName, oneOf } from './check';
import { fillMask } from './dense';
import { Layer } from './layer';
import type { LayerConfig, ParamSpec, PassContext } from './layer';

/**
 * How dropout keeps the expected activation: 'inverted' scales kept units by 1 / (1 - rate)
 * while training and does nothing at inference (PyTorch's nn.Dropout); 'classic' keeps units
 * unscaled while training and multiplies by the keep probability 1 - rate at inference (the
 * original formulation, as in the lecture notes).
 */
export type DropoutMode = 'inverted' | 'classic';

/**
 * Dropout: while training, each unit is zeroed with probability `rate` (the drop probability),
 * from the model's seeded generator, so the masks are the same on every backend.
 */
export class Dropout extends Layer {
  readonly kind = 'dropout';
  readonly rate: number;
  readonly mode: DropoutMode;
  private mask = new Float32Array(0);
  private y = new Float32Array(0);
  private dIn = new Float32Array(0);
  private maskedLast = false;

  constructor(rate: number, options: { mode?: DropoutMode; name?: string } = {}) {
    super();
    this.rate = finiteIn('dropout', 'rate', rate, 0, 1, true);
    options = optionsArg('dropout', options, { mode: true, name: true });
    this.mode = oneOf('dropout', 'mode', options.mode ?? 'inverted', ['inverted', 'classic'] as const);
    this.name = layerName('dropout', options.name);
  }

  build(inSize: number): ParamSpec[] {
    this.inSize = inSize;
    this.outSize = inSize;
    return [];
  }

  protected allocate(rows: number): void {
    const n = rows * this.inSize;
    this.mask = alignedFloat32Array(n);
    this.y = alignedFloat32Array(n);
    this.dIn = alignedFloat32Array(n);
  }

  /** The mask of the last training pass (scale or 0 per element), for inspection and tests. */
  lastMask(batch: number): Float32Array {
    return this.mask.subarray(0, batch * this.inSize);
  }

  forward(ctx: PassContext, batch: number, x: Float32Array): Float32Array {
    const n = batch * this.inSize;
    this.maskedLast = (ctx.training || ctx.stochastic === true) && this.rate > 0;
    if (this.maskedLast) {
      fillMask(ctx, this.mask, n, this.rate, this.mode === 'inverted' ? 1 / (1 - this.rate) : 1);
      ctx.backend.mul(n, x, this.mask, this.y);
      return this.y;
    }
    if (this.mode === 'classic' && this.rate > 0) {
      for (let i = 0; i < n; i++) this.y[i] = x[i];
      ctx.backend.scale(n, 1 - this.rate, this.y);
      return this.y;
    }
    return x;
  }

  backward(ctx: PassContext, batch: number, _x: Float32Array, dy: Float32Array, needDx: boolean): Float32Array | null {
    if (!needDx) return null;
    const n = batch * this.inSize;
    if (this.maskedLast) {
      ctx.backend.mul(n, dy, this.mask, this.dIn);
      return this.dIn;
    }
    if (this.mode === 'classic' && this.rate > 0) {
      for (let i = 0; i < n; i++) this.dIn[i] = dy[i];
      ctx.backend.scale(n, 1 - this.rate, this.dIn);
      return this.dIn;
    }
    return dy;
  }

  config(): LayerConfig {
    return { kind: this.kind, rate: this.rate, mode: this.mode, name: this.name ?? null };
  }
}
