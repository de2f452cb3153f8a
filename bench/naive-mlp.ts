/**
 * The baseline for the mlp suite: a ReLU MLP written the way one would first write it in
 * JavaScript. Float32Array weights, every matrix product the textbook i-j-k triple loop
 * (drivers.ts's naiveGemm: no blocking, packing or threads), softmax cross-entropy, Adam
 * (PyTorch's defaults, bias-corrected) over shuffled minibatches. Same architecture and
 * update rule as blasnet's reference workload, none of its kernels.
 */
import { Rng } from '../lib';
import { naiveGemm } from './drivers';

export class NaiveMlp {
  readonly sizes: readonly number[];
  private readonly w: Float32Array[] = [];
  private readonly b: Float32Array[] = [];
  private readonly dw: Float32Array[] = [];
  private readonly db: Float32Array[] = [];
  private readonly m: Float32Array[] = [];
  private readonly v: Float32Array[] = [];
  private t = 0;
  private readonly rng: Rng;

  constructor(sizes: readonly number[], seed = 1, readonly lr = 1e-3) {
    this.sizes = sizes;
    this.rng = new Rng(seed);
    for (let l = 0; l + 1 < sizes.length; l++) {
      const fanIn = sizes[l], out = sizes[l + 1];
      const bound = 1 / Math.sqrt(fanIn); // PyTorch's nn.Linear default range
      this.w.push(this.rng.uniformArray(out * fanIn, -bound, bound));
      this.b.push(this.rng.uniformArray(out, -bound, bound));
      for (const list of [this.dw, this.m, this.v]) list.push(new Float32Array(out * fanIn));
      this.db.push(new Float32Array(out));
      this.m.push(new Float32Array(out));
      this.v.push(new Float32Array(out));
    }
  }

  /** One epoch-prefix: `steps` shuffled minibatches of `batch` rows of x (row-major, sizes[0] wide); returns the last loss. */
  train(x: Float32Array, labels: Int32Array, rows: number, batch: number, steps: number): number {
    const perm = new Int32Array(rows);
    for (let i = 0; i < rows; i++) perm[i] = i;
    for (let i = rows - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const s = perm[i]; perm[i] = perm[j]; perm[j] = s;
    }
    const L = this.sizes.length - 1, inSize = this.sizes[0];
    // Activations a[0] = the batch, a[l + 1] = relu(z[l]); gradients g[l] of the same shape as z[l].
    const a = this.sizes.map((s) => new Float32Array(batch * s));
    const z = this.sizes.slice(1).map((s) => new Float32Array(batch * s));
    const g = this.sizes.slice(1).map((s) => new Float32Array(batch * s));
    const da = this.sizes.map((s) => new Float32Array(batch * s));
    let loss = 0;
    for (let step = 0; step < steps; step++) {
      const from = (step * batch) % rows;
      const n = Math.min(batch, rows - from);
      for (let r = 0; r < n; r++) a[0].set(x.subarray(perm[from + r] * inSize, (perm[from + r] + 1) * inSize), r * inSize);
      // Forward: z = a W^T + b; ReLU on hidden layers.
      for (let l = 0; l < L; l++) {
        const fi = this.sizes[l], fo = this.sizes[l + 1];
        naiveGemm(false, true, n, fo, fi, 1, a[l], this.w[l], 0, z[l]);
        for (let r = 0; r < n; r++) {
          for (let j = 0; j < fo; j++) {
            const v = z[l][r * fo + j] + this.b[l][j];
            z[l][r * fo + j] = v;
            a[l + 1][r * fo + j] = l + 1 < L ? (v > 0 ? v : 0) : v;
          }
        }
      }
      // Softmax cross-entropy on the logits: g = (softmax(z) - onehot) / n.
      const k = this.sizes[L], zl = z[L - 1], gl = g[L - 1];
      loss = 0;
      for (let r = 0; r < n; r++) {
        let mx = -Infinity;
        for (let j = 0; j < k; j++) mx = Math.max(mx, zl[r * k + j]);
        let sum = 0;
        for (let j = 0; j < k; j++) sum += Math.exp(zl[r * k + j] - mx);
        const y = labels[perm[from + r]];
        loss += Math.log(sum) - (zl[r * k + y] - mx);
        for (let j = 0; j < k; j++) gl[r * k + j] = (Math.exp(zl[r * k + j] - mx) / sum - (j === y ? 1 : 0)) / n;
      }
      loss /= n;
      // Backward: dW = g^T a, db = column sums of g, and (except into the input) da = g W, g = da * relu'(z).
      for (let l = L - 1; l >= 0; l--) {
        const fi = this.sizes[l], fo = this.sizes[l + 1];
        naiveGemm(true, false, fo, fi, n, 1, g[l], a[l], 0, this.dw[l]);
        this.db[l].fill(0);
        for (let r = 0; r < n; r++) for (let j = 0; j < fo; j++) this.db[l][j] += g[l][r * fo + j];
        if (l > 0) {
          naiveGemm(false, false, n, fi, fo, 1, g[l], this.w[l], 0, da[l]);
          for (let i = 0; i < n * fi; i++) g[l - 1][i] = z[l - 1][i] > 0 ? da[l][i] : 0;
        }
      }
      this.adam();
    }
    return loss;
  }

  /** Adam with beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected, over every weight and bias. */
  private adam(): void {
    this.t++;
    const b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const c1 = 1 - b1 ** this.t, c2 = 1 - b2 ** this.t;
    const update = (p: Float32Array, gr: Float32Array, m: Float32Array, v: Float32Array) => {
      for (let i = 0; i < p.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * gr[i];
        v[i] = b2 * v[i] + (1 - b2) * gr[i] * gr[i];
        p[i] -= (this.lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      }
    };
    for (let l = 0; l < this.w.length; l++) {
      update(this.w[l], this.dw[l], this.m[2 * l], this.v[2 * l]);
      update(this.b[l], this.db[l], this.m[2 * l + 1], this.v[2 * l + 1]);
    }
  }
}
