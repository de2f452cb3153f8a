/**
 * L-BFGS for full-batch training, with torch.optim.LBFGS's semantics and defaults, written on
 * the kernel layer: every vector operation is a dot, axpy or scale over the parameter arena.
 */
import type { Backend } from '../backend/types';
import { optionsArg, show, typeName } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';

/** What L-BFGS optimises: a parameter arena, its gradient arena and the backend to use. */
export interface LbfgsTarget {
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly backend: Backend;
}

/** Options of `new LBFGS()`, as torch.optim.LBFGS's. */
export interface LbfgsOptions {
  /** Step length (PyTorch lr). Default 1. */
  lr?: number;
  /** Iterations per step(). Default 20. */
  maxIter?: number;
  /** Loss evaluations per step(). Default maxIter * 5 / 4. */
  maxEval?: number;
  /** Stop when max |gradient| is at most this. Default 1e-7. */
  toleranceGrad?: number;
  /** Stop when the step or the loss changes less than this. Default 1e-9. */
  toleranceChange?: number;
  /** Pairs (s, y) kept. Default 100. */
  historySize?: number;
  /** 'strongWolfe' for a line search satisfying the strong Wolfe conditions; null for fixed steps. */
  lineSearch?: 'strongWolfe' | null;
}

/**
 * Computes the loss at the current parameters and writes its gradient into the gradient arena
 * (for a model: `() => model.lossAndGradient(x, y)` on the full batch).
 */
export type Closure = () => number;

const DEFAULTS = { lr: 1, maxIter: 20, toleranceGrad: 1e-7, toleranceChange: 1e-9, historySize: 100 };

/**
 * Limited-memory BFGS (Nocedal 1980; Liu & Nocedal 1989), as torch.optim.LBFGS:
 *
 *   d = -H g by the two-loop recursion over the last historySize pairs s = x_{k+1} - x_k,
 *   y = g_{k+1} - g_k (pairs with y.s <= 1e-10 are skipped), H0 = (y.s / y.y) I;
 *   the first step is min(1, 1/|g|_1) * lr, later ones lr, or a strong-Wolfe line search
 *   (c1 = 1e-4, c2 = 0.9, cubic interpolation, at most 25 evaluations).
 *
 * One step() runs up to maxIter iterations and returns the loss before them, as PyTorch does.
 * The history survives between step() calls. Unlike PyTorch, vectors are float32 (the arena's
 * precision); dot products accumulate in float64.
 */
export class LBFGS {
  readonly lr: number;
  readonly maxIter: number;
  readonly maxEval: number;
  readonly toleranceGrad: number;
  readonly toleranceChange: number;
  readonly historySize: number;
  readonly lineSearch: 'strongWolfe' | null;
  private readonly target: LbfgsTarget;
  private readonly n: number;
  // History ring: s and y vectors, 1 / (y.s).
  private readonly sHist: Float32Array[] = [];
  private readonly yHist: Float32Array[] = [];
  private readonly rho: number[] = [];
  private readonly alpha: number[] = [];
  private start = 0;
  private count = 0;
  private hDiag = 1;
  private d: Float32Array;
  private t = 0;
  private prevGrad: Float32Array;
  private prevLoss = 0;
  private iterations = 0;
  private evaluations = 0;
  private readonly xInit: Float32Array;
  private readonly scratch: Float32Array;

  constructor(target: LbfgsTarget, options: LbfgsOptions = {}) {
    if (!target || typeof target !== 'object' || !(target.params instanceof Float32Array) || !(target.grads instanceof Float32Array)) {
      throw typeError(ErrorCode.ARG_TYPE, 'LBFGS: Expected a model (or { params, grads, backend })');
    }
    options = optionsArg('LBFGS', options, {
      lr: true, maxIter: true, maxEval: true, toleranceGrad: true, toleranceChange: true, historySize: true, lineSearch: true,
    });
    for (const [k, v] of Object.entries(options)) {
      if (k !== 'lineSearch' && v !== undefined && typeof v !== 'number') {
        throw typeError(ErrorCode.ARG_TYPE, `LBFGS: Expected number for ${k} but received ${typeName(v)}`);
      }
    }
    this.lr = options.lr ?? DEFAULTS.lr;
    if (!(this.lr > 0) || !Number.isFinite(this.lr)) throw rangeError(ErrorCode.ARG_RANGE, `Invalid learning rate: ${this.lr}`);
    this.maxIter = options.maxIter ?? DEFAULTS.maxIter;
    if (!Number.isInteger(this.maxIter) || this.maxIter < 1) throw rangeError(ErrorCode.ARG_RANGE, `Invalid maxIter: ${this.maxIter}`);
    this.maxEval = options.maxEval ?? Math.floor((this.maxIter * 5) / 4);
    if (!Number.isInteger(this.maxEval) || this.maxEval < 1) throw rangeError(ErrorCode.ARG_RANGE, `Invalid maxEval: ${this.maxEval}`);
    this.toleranceGrad = options.toleranceGrad ?? DEFAULTS.toleranceGrad;
    this.toleranceChange = options.toleranceChange ?? DEFAULTS.toleranceChange;
    for (const [name, v] of [['toleranceGrad', this.toleranceGrad], ['toleranceChange', this.toleranceChange]] as const) {
      if (!(v >= 0) || !Number.isFinite(v)) throw rangeError(ErrorCode.ARG_RANGE, `Invalid ${name}: ${v}`);
    }
    this.historySize = options.historySize ?? DEFAULTS.historySize;
    if (!Number.isInteger(this.historySize) || this.historySize < 1) {
      throw rangeError(ErrorCode.ARG_RANGE, `Invalid historySize: ${this.historySize}`);
    }
    const ls = options.lineSearch ?? null;
    if (ls !== null && ls !== 'strongWolfe') {
      throw rangeError(ErrorCode.UNKNOWN_NAME, `LBFGS: only 'strongWolfe' is supported as lineSearch, got ${show(ls)}`);
    }
    this.lineSearch = ls;
    this.target = target;
    this.n = target.params.length;
    this.d = new Float32Array(this.n);
    this.prevGrad = new Float32Array(this.n);
    this.xInit = new Float32Array(this.n);
    this.scratch = new Float32Array(this.n);
  }

  /** Total iterations and loss evaluations so far. */
  get stats(): { iterations: number; evaluations: number } {
    return { iterations: this.iterations, evaluations: this.evaluations };
  }

  /** Runs up to maxIter iterations; returns the loss at the parameters step() started from. */
  step(closure: Closure): number {
    if (typeof closure !== 'function') {
      throw typeError(ErrorCode.ARG_TYPE, 'LBFGS.step: Expected a closure that returns the loss and fills the gradients');
    }
    const b = this.target.backend;
    const n = this.n;
    const p = this.target.params;
    const g = this.target.grads;
    const origLoss = this.evaluate(closure);
    let loss = origLoss;
    let currentEvals = 1;
    if (maxAbs(g, n) <= this.toleranceGrad) return origLoss;

    let nIter = 0;
    while (nIter < this.maxIter) {
      nIter++;
      this.iterations++;
      if (this.iterations === 1) {
        this.d.set(g);
        b.scale(n, -1, this.d);
        this.hDiag = 1;
      } else {
        // y = g - prevGrad, s = t d
        const y = this.scratch;
        y.set(g);
        b.axpy(n, -1, this.prevGrad, y);
        const ys = this.t * b.dot(n, y, this.d);
        if (ys > 1e-10) {
          this.push(y, this.d, this.t, ys);
          this.hDiag = ys / b.dot(n, y, y);
        }
        this.direction(g);
      }
      this.prevGrad.set(g);
      this.prevLoss = loss;
      this.t = this.iterations === 1 ? Math.min(1, 1 / sumAbs(g, n)) * this.lr : this.lr;
      const gtd = b.dot(n, g, this.d);
      if (gtd > -this.toleranceChange) break;

      let evals = 0;
      if (this.lineSearch === 'strongWolfe') {
        this.xInit.set(p);
        const r = this.strongWolfe(closure, this.t, loss, gtd);
        loss = r.loss;
        this.t = r.t;
        evals = r.evals;
      } else {
        b.axpy(n, this.t, this.d, p);
        if (nIter !== this.maxIter) {
          loss = this.evaluate(closure);
          evals = 1;
        }
      }
      currentEvals += evals;
      if (nIter === this.maxIter) break;
      if (currentEvals >= this.maxEval) break;
      if (maxAbs(g, n) <= this.toleranceGrad) break;
      if (maxAbs(this.d, n) * Math.abs(this.t) <= this.toleranceChange) break;
      if (Math.abs(loss - this.prevLoss) < this.toleranceChange) break;
    }
    return origLoss;
  }

  private evaluate(closure: Closure): number {
    this.evaluations++;
    const v = closure();
    if (typeof v !== 'number') throw typeError(ErrorCode.ARG_TYPE, 'LBFGS.step: the closure must return the loss as a number');
    return v;
  }

  /** Adds the pair (s = t d, y), dropping the oldest beyond historySize. */
  private push(y: Float32Array, d: Float32Array, t: number, ys: number): void {
    const b = this.target.backend;
    let slot: number;
    if (this.count < this.historySize) {
      slot = (this.start + this.count) % this.historySize;
      if (!this.sHist[slot]) {
        this.sHist[slot] = new Float32Array(this.n);
        this.yHist[slot] = new Float32Array(this.n);
      }
      this.count++;
    } else {
      slot = this.start;
      this.start = (this.start + 1) % this.historySize;
    }
    const s = this.sHist[slot];
    s.set(d);
    b.scale(this.n, t, s);
    this.yHist[slot].set(y);
    this.rho[slot] = 1 / ys;
  }

  /** d = -H g by the two-loop recursion. */
  private direction(g: Float32Array): void {
    const b = this.target.backend;
    const n = this.n;
    const q = this.d;
    q.set(g);
    b.scale(n, -1, q);
    for (let k = this.count - 1; k >= 0; k--) {
      const i = (this.start + k) % this.historySize;
      this.alpha[i] = b.dot(n, this.sHist[i], q) * this.rho[i];
      b.axpy(n, -this.alpha[i], this.yHist[i], q);
    }
    b.scale(n, this.hDiag, q);
    for (let k = 0; k < this.count; k++) {
      const i = (this.start + k) % this.historySize;
      const beta = b.dot(n, this.yHist[i], q) * this.rho[i];
      b.axpy(n, this.alpha[i] - beta, this.sHist[i], q);
    }
  }

  /** Loss and directional derivative at xInit + t d; leaves the parameters there. */
  private probe(closure: Closure, t: number): { f: number; gtd: number } {
    const p = this.target.params;
    p.set(this.xInit);
    this.target.backend.axpy(this.n, t, this.d, p);
    const f = this.evaluate(closure);
    return { f, gtd: this.target.backend.dot(this.n, this.target.grads, this.d) };
  }

  /**
   * Strong Wolfe line search along d from xInit (Nocedal & Wright, algorithms 3.5 and 3.6, with
   * cubic interpolation; c1 = 1e-4, c2 = 0.9, at most 25 evaluations). Leaves the parameters
   * and gradients at the accepted point.
   */
  private strongWolfe(closure: Closure, t0: number, f0: number, gtd0: number): { loss: number; t: number; evals: number } {
    const c1 = 1e-4, c2 = 0.9, maxLs = 25;
    const dNorm = maxAbs(this.d, this.n);
    let t = t0;
    let { f, gtd } = this.probe(closure, t);
    let evals = 1;
    let tPrev = 0, fPrev = f0, gtdPrev = gtd0;
    let lo: Point | null = null, hi: Point | null = null;
    let done = false;
    // Bracketing phase.
    while (evals < maxLs) {
      if (f > f0 + c1 * t * gtd0 || (evals > 1 && f >= fPrev)) {
        lo = { t: tPrev, f: fPrev, gtd: gtdPrev };
        hi = { t, f, gtd };
        break;
      }
      if (Math.abs(gtd) <= -c2 * gtd0) {
        done = true;
        break;
      }
      if (gtd >= 0) {
        lo = { t, f, gtd };
        hi = { t: tPrev, f: fPrev, gtd: gtdPrev };
        break;
      }
      const minStep = t + 0.01 * (t - tPrev);
      const maxStep = t * 10;
      const next = cubicMinimum(tPrev, fPrev, gtdPrev, t, f, gtd, minStep, maxStep);
      tPrev = t; fPrev = f; gtdPrev = gtd;
      t = next;
      ({ f, gtd } = this.probe(closure, t));
      evals++;
    }
    if (done) return { loss: f, t, evals };
    if (!lo || !hi) {
      // Out of evaluations while still expanding: keep the last point.
      return { loss: f, t, evals };
    }
    // Zoom phase: shrink [lo, hi] until the strong Wolfe conditions hold.
    let insufficientProgress = false;
    while (evals < maxLs) {
      if (Math.abs(hi.t - lo.t) * dNorm < this.toleranceChange) break;
      let tNew = cubicMinimum(lo.t, lo.f, lo.gtd, hi.t, hi.f, hi.gtd);
      // Keep the trial point away from the bracket's ends, as PyTorch does.
      const a = Math.min(lo.t, hi.t), bnd = Math.max(lo.t, hi.t);
      const eps = 0.1 * (bnd - a);
      if (Math.min(bnd - tNew, tNew - a) < eps) {
        if (insufficientProgress || tNew >= bnd || tNew <= a) {
          tNew = Math.abs(tNew - bnd) < Math.abs(tNew - a) ? bnd - eps : a + eps;
          insufficientProgress = false;
        } else {
          insufficientProgress = true;
        }
      } else {
        insufficientProgress = false;
      }
      t = tNew;
      ({ f, gtd } = this.probe(closure, t));
      evals++;
      if (f > f0 + c1 * t * gtd0 || f >= lo.f) {
        hi = { t, f, gtd };
      } else {
        if (Math.abs(gtd) <= -c2 * gtd0) {
          return { loss: f, t, evals };
        }
        if (gtd * (hi.t - lo.t) >= 0) hi = lo;
        lo = { t, f, gtd };
      }
    }
    // Settle on the best point found.
    if (t !== lo.t) {
      ({ f } = this.probe(closure, lo.t));
      evals++;
    }
    return { loss: f, t: lo.t, evals };
  }
}

interface Point {
  t: number;
  f: number;
  gtd: number;
}

/**
 * The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to [lo, hi]
 * (default: the interval between x1 and x2); the interval's midpoint when the cubic has none.
 */
function cubicMinimum(x1: number, f1: number, g1: number, x2: number, f2: number, g2: number, lo?: number, hi?: number): number {
  const xmin = lo ?? Math.min(x1, x2);
  const xmax = hi ?? Math.max(x1, x2);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const sq = d1 * d1 - g1 * g2;
  if (sq >= 0 && Number.isFinite(sq)) {
    const d2 = Math.sqrt(sq);
    const m = x1 <= x2
      ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
      : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    if (Number.isFinite(m)) return Math.min(Math.max(m, xmin), xmax);
  }
  return (xmin + xmax) / 2;
}

function maxAbs(v: Float32Array, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(v[i]);
    if (a > m || Number.isNaN(a)) m = a;
  }
  return m;
}

function sumAbs(v: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(v[i]);
  return s;
}
