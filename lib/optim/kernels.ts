/**
 * The optimiser kernels' table, shared with the native addon (native/optimizers.cc): names in id
 * order, state slots, the layout of each `hyper` array, and the js backend's loops.
 *
 * A kernel does one update over a whole parameter arena of n values: param and state in place,
 * grad read only. State slot k occupies state[k*n, (k+1)*n). `hyper` holds the step's float32
 * scalars, computed by lib/optim/optimizers.ts (learning rate, bias corrections, NAdam's step
 * coefficients, RAdam's rectification), so a kernel keeps nothing between calls. Flags are 0 or
 * 1 (any non-zero value counts as set). Complements such as oneMinusBeta2 are computed in float64
 * before rounding, where 1 - float32(0.999) would be off by 1e-5.
 *
 * The loops here compute in float64; every state and parameter value is rounded to float32 when
 * stored, and a state value used after its update is the stored float32 (as PyTorch reads back
 * its float32 state). They are the reference. The addon does the same operations in the same
 * order but in float32 arithmetic, as PyTorch's CPU kernels do (centred RMSprop, whose variance
 * cancels, in float64), which is several times faster; the backends agree to float32 rounding
 * (normalised error under 1e-6), not bit for bit.
 */
import { tableId } from '../describe';

/** One kernel: its update rule, state slots and hyper layout, and the js loop. */
export interface OptimizerKernelDef {
  /** The update, per element, in terms of the hyper names. */
  readonly doc: string;
  /** State slots of n floats each, in order. */
  readonly slots: readonly string[];
  /** The hyper layout: the name of each scalar, in order. */
  readonly hyper: readonly string[];
  /** The update, unguarded (the backend checks first). */
  step(n: number, h: Float32Array, p: Float32Array, g: Float32Array, s: Float32Array): void;
}

const f = Math.fround;

/** NaN in either operand gives NaN, as torch.maximum does. */
function nanMax(a: number, b: number): number {
  return a !== a || a > b ? a : b; // eslint-disable-line no-self-compare
}

/**
 * The kernel table. Key order is the kernel id shared with the native addon, which is checked
 * against it when it loads. In the docs g is grad plus L2 weight decay, weightDecay * p, added
 * when weightDecay != 0 unless the kernel's decoupled flag is set; a set decoupled flag scales p
 * by 1 - lr * weightDecay first instead.
 */
export const OPTIMIZER_KERNELS = {
  sgd: {
    doc: 'momentum = 0: p -= lr g. PyTorch form (lrInVelocity = 0): buf = firstStep ? g : momentum buf + ' +
      '(1 - dampening) g; p -= lr (nesterov ? g + momentum buf : buf). Velocity form (lrInVelocity = 1): ' +
      'v = firstStep ? -lr g : momentum v - lr (1 - dampening) g; p += nesterov ? momentum v - lr g : v. ' +
      'Slot 0 is buf or v (untouched when momentum = 0).',
    slots: ['momentumBuffer'],
    hyper: ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'firstStep', 'lrInVelocity'],
    step(n, h, p, g, s) {
      const lr = h[0], mom = h[1], damp = h[2], wd = h[3];
      const nesterov = h[4] !== 0, first = h[5] !== 0, inVelocity = h[6] !== 0;
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) gi += wd * pd;
        if (mom !== 0) {
          if (!inVelocity) {
            const b = f(first ? gi : mom * s[i] + (1 - damp) * gi);
            s[i] = b;
            pd -= lr * (nesterov ? gi + mom * b : b);
          } else {
            const v = f(first ? -lr * gi : mom * s[i] - lr * (1 - damp) * gi);
            s[i] = v;
            pd += nesterov ? mom * v - lr * gi : v;
          }
        } else {
          pd -= lr * gi;
        }
        p[i] = pd;
      }
    },
  },
  adagrad: {
    doc: 'sum += g^2; p -= clr g / (sqrt(sum) + eps), clr = lr / (1 + (t - 1) lrDecay) computed by the caller.',
    slots: ['sum'],
    hyper: ['clr', 'weightDecay', 'eps'],
    step(n, h, p, g, s) {
      const clr = h[0], wd = h[1], eps = h[2];
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) gi += wd * pd;
        const sum = f(s[i] + gi * gi);
        s[i] = sum;
        pd -= clr * (gi / (Math.sqrt(sum) + eps));
        p[i] = pd;
      }
    },
  },
  rmsprop: {
    doc: 'sq = alpha sq + oneMinusAlpha g^2; var = centered ? sq - gAvg^2 after gAvg = alpha gAvg + ' +
      'oneMinusAlpha g : sq; avg = epsInsideSqrt ? sqrt(var + eps) : sqrt(var) + eps; momentum > 0: ' +
      'buf = momentum buf + g / avg, p -= lr buf; else p -= lr g / avg.',
    slots: ['squareAvg', 'momentumBuffer', 'gradAvg'],
    hyper: ['lr', 'alpha', 'oneMinusAlpha', 'eps', 'weightDecay', 'momentum', 'centered', 'epsInsideSqrt'],
    step(n, h, p, g, s) {
      const lr = h[0], alpha = h[1], oma = h[2], eps = h[3], wd = h[4], mom = h[5];
      const centered = h[6] !== 0, inside = h[7] !== 0;
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) gi += wd * pd;
        const sq = f(alpha * s[i] + oma * gi * gi);
        s[i] = sq;
        let variance = sq;
        if (centered) {
          const ga = f(alpha * s[2 * n + i] + oma * gi);
          s[2 * n + i] = ga;
          variance -= ga * ga;
        }
        const avg = inside ? Math.sqrt(variance + eps) : Math.sqrt(variance) + eps;
        if (mom > 0) {
          const b = f(mom * s[n + i] + gi / avg);
          s[n + i] = b;
          pd -= lr * b;
        } else {
          pd -= lr * (gi / avg);
        }
        p[i] = pd;
      }
    },
  },
  adadelta: {
    doc: 'sq = rho sq + oneMinusRho g^2; delta = sqrt(acc + eps) / sqrt(sq + eps) g; acc = rho acc + ' +
      'oneMinusRho delta^2; p -= lr delta.',
    slots: ['squareAvg', 'accDelta'],
    hyper: ['lr', 'rho', 'oneMinusRho', 'eps', 'weightDecay'],
    step(n, h, p, g, s) {
      const lr = h[0], rho = h[1], omr = h[2], eps = h[3], wd = h[4];
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) gi += wd * pd;
        const sq = f(rho * s[i] + omr * gi * gi);
        s[i] = sq;
        const delta = Math.sqrt(s[n + i] + eps) / Math.sqrt(sq + eps) * gi;
        s[n + i] = rho * s[n + i] + omr * delta * delta;
        pd -= lr * delta;
        p[i] = pd;
      }
    },
  },
  adam: {
    doc: 'decoupled: p *= 1 - lr weightDecay; m = beta1 m + oneMinusBeta1 g; v = beta2 v + ' +
      'oneMinusBeta2 g^2; vh = amsgrad ? (vMax = max(vMax, v)) : v; denom = epsInsideSqrt ? ' +
      'sqrt(vh / bc2 + eps) : sqrt(vh) / sqrt(bc2) + eps; p -= (lr / bc1) m / denom. ' +
      'vMax is untouched unless amsgrad.',
    slots: ['expAvg', 'expAvgSq', 'maxExpAvgSq'],
    hyper: ['lr', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'eps', 'weightDecay', 'decoupled', 'amsgrad',
      'epsInsideSqrt', 'bc1', 'bc2'],
    step(n, h, p, g, s) {
      const lr = h[0], b1 = h[1], omb1 = h[2], b2 = h[3], omb2 = h[4], eps = h[5], wd = h[6], bc1 = h[10], bc2 = h[11];
      const decoupled = h[7] !== 0, amsgrad = h[8] !== 0, inside = h[9] !== 0;
      const decay = 1 - lr * wd, stepSize = lr / bc1, bc2Sqrt = Math.sqrt(bc2);
      if (wd === 0 && !amsgrad && !inside) {
        // PyTorch's defaults, without the branches: sqrt(v) / sqrt(bc2) as a product with the
        // reciprocal (in float64, one rounding apart), which leaves one division per element.
        const invBc2Sqrt = 1 / bc2Sqrt;
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const m = f(b1 * s[i] + omb1 * gi);
          const v = f(b2 * s[n + i] + omb2 * gi * gi);
          s[i] = m;
          s[n + i] = v;
          p[i] -= stepSize * (m / (Math.sqrt(v) * invBc2Sqrt + eps));
        }
        return;
      }
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) {
          if (decoupled) pd *= decay;
          else gi += wd * pd;
        }
        const m = f(b1 * s[i] + omb1 * gi);
        const v = f(b2 * s[n + i] + omb2 * gi * gi);
        s[i] = m;
        s[n + i] = v;
        let vh = v;
        if (amsgrad) {
          vh = nanMax(s[2 * n + i], v);
          s[2 * n + i] = vh;
        }
        const denom = inside ? Math.sqrt(vh / bc2 + eps) : Math.sqrt(vh) / bc2Sqrt + eps;
        pd -= stepSize * (m / denom);
        p[i] = pd;
      }
    },
  },
  adamax: {
    doc: 'm = beta1 m + oneMinusBeta1 g; u = max(beta2 u, |g| + eps); p -= (lr / bc1) m / u.',
    slots: ['expAvg', 'expInf'],
    hyper: ['lr', 'beta1', 'oneMinusBeta1', 'beta2', 'eps', 'weightDecay', 'bc1'],
    step(n, h, p, g, s) {
      const lr = h[0], b1 = h[1], omb1 = h[2], b2 = h[3], eps = h[4], wd = h[5], bc1 = h[6];
      const stepSize = lr / bc1;
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) gi += wd * pd;
        const m = f(b1 * s[i] + omb1 * gi);
        const u = nanMax(f(b2 * s[n + i]), f(Math.abs(gi) + eps));
        s[i] = m;
        s[n + i] = u;
        pd -= stepSize * (m / u);
        p[i] = pd;
      }
    },
  },
  nadam: {
    doc: 'decoupled: p *= 1 - lr weightDecay; m = beta1 m + oneMinusBeta1 g; v = beta2 v + oneMinusBeta2 ' +
      'g^2; denom = sqrt(v / bc2) + eps; p -= gradCoef g / denom; p -= avgCoef m / denom, with ' +
      'gradCoef = lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) and avgCoef = lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i).',
    slots: ['expAvg', 'expAvgSq'],
    hyper: ['lr', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'eps', 'weightDecay', 'decoupled', 'bc2',
      'gradCoef', 'avgCoef'],
    step(n, h, p, g, s) {
      const lr = h[0], b1 = h[1], omb1 = h[2], b2 = h[3], omb2 = h[4], eps = h[5], wd = h[6], bc2 = h[8];
      const cg = h[9], cm = h[10];
      const decoupled = h[7] !== 0;
      const decay = 1 - lr * wd;
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) {
          if (decoupled) pd *= decay;
          else gi += wd * pd;
        }
        const m = f(b1 * s[i] + omb1 * gi);
        const v = f(b2 * s[n + i] + omb2 * gi * gi);
        s[i] = m;
        s[n + i] = v;
        const denom = Math.sqrt(v / bc2) + eps;
        pd -= cg * (gi / denom);
        pd -= cm * (m / denom);
        p[i] = pd;
      }
    },
  },
  radam: {
    doc: 'decoupled: p *= 1 - lr weightDecay; m = beta1 m + oneMinusBeta1 g; v = beta2 v + oneMinusBeta2 ' +
      'g^2; rectified: p -= (m / bc1) lr (sqrt(bc2) / (sqrt(v) + eps)) rect; else p -= (m / bc1) lr.',
    slots: ['expAvg', 'expAvgSq'],
    hyper: ['lr', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'eps', 'weightDecay', 'decoupled', 'bc1', 'bc2',
      'rectified', 'rect'],
    step(n, h, p, g, s) {
      const lr = h[0], b1 = h[1], omb1 = h[2], b2 = h[3], omb2 = h[4], eps = h[5], wd = h[6], bc1 = h[8], bc2 = h[9];
      const rect = h[11];
      const decoupled = h[7] !== 0, rectified = h[10] !== 0;
      const decay = 1 - lr * wd, bc2Sqrt = Math.sqrt(bc2);
      for (let i = 0; i < n; i++) {
        let pd = p[i], gi = g[i];
        if (wd !== 0) {
          if (decoupled) pd *= decay;
          else gi += wd * pd;
        }
        const m = f(b1 * s[i] + omb1 * gi);
        const v = f(b2 * s[n + i] + omb2 * gi * gi);
        s[i] = m;
        s[n + i] = v;
        const mhat = m / bc1;
        if (rectified) pd -= mhat * lr * (bc2Sqrt / (Math.sqrt(v) + eps)) * rect;
        else pd -= mhat * lr;
        p[i] = pd;
      }
    },
  },
} as const satisfies Record<string, OptimizerKernelDef>;

/** Name of an optimiser kernel. */
export type OptimizerKernelName = keyof typeof OPTIMIZER_KERNELS;

/** Kernel names in id order. */
export const OPTIMIZER_KERNEL_NAMES = Object.keys(OPTIMIZER_KERNELS) as OptimizerKernelName[];

/** Table rows in id order, for the js backend's dispatch. */
export const OPTIMIZER_KERNEL_LIST: readonly OptimizerKernelDef[] = OPTIMIZER_KERNEL_NAMES.map((k) => OPTIMIZER_KERNELS[k]);

/** The numeric id the kernels take for a kernel name. */
export function optimizerKernelId(name: OptimizerKernelName): number {
  return tableId('optimizer kernel', OPTIMIZER_KERNEL_NAMES, name);
}

/** Where each hyper name sits in a kernel's layout. */
export type HyperIndex<K extends OptimizerKernelName> = { readonly [N in (typeof OPTIMIZER_KERNELS)[K]['hyper'][number]]: number };

/** The hyper layout of a kernel as name -> index. */
export function hyperIndex<K extends OptimizerKernelName>(name: K): HyperIndex<K> {
  const out: Record<string, number> = {};
  OPTIMIZER_KERNELS[name].hyper.forEach((h, i) => {
    out[h] = i;
  });
  return out as HyperIndex<K>;
}
