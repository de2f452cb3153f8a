/**
 * The kernel layer: everything a dense network needs, over plain typed arrays. Two backends
 * implement it with the same semantics: `js` (the pure-TypeScript reference) and `native`
 * (OpenBLAS through the N-API addon).
 *
 * Conventions: row-major, batch first, packed arrays (a matrix [r, c] is r*c consecutive floats).
 * Argument order: ids and flags, dims, scalars, inputs, outputs. Arrays may be longer than needed;
 * only the leading elements are used. Outputs must not share memory with inputs, except where a
 * method says an output may be an input itself (elementwise work in place).
 * Every bad argument throws TypeError/RangeError with a stable `code` (see ErrorCode).
 */
export interface Backend {
  /** Which implementation this is. */
  readonly name: 'js' | 'native';

  /**
   * C = alpha * op(A) * op(B) + beta * C with op(A) [m, k], op(B) [k, n], C [m, n]; op transposes
   * when its flag is set (A is then stored [k, m], B [n, k]). beta = 0 overwrites C, as in BLAS.
   */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void;

  /** `batch` independent GEMMs; matrix i of A starts at element i * strideA (likewise B, C). */
  gemmBatched(transA: boolean, transB: boolean, m: number, n: number, k: number, batch: number,
    alpha: number, a: Float32Array, strideA: number, b: Float32Array, strideB: number,
    beta: number, c: Float32Array, strideC: number): void;

  /** y[i, j] += bias[j] for y [rows, cols]. */
  addBias(rows: number, cols: number, bias: Float32Array, y: Float32Array): void;
  /** out[j] = beta * out[j] + sum_i x[i, j] for x [rows, cols]. */
  colSum(rows: number, cols: number, beta: number, x: Float32Array, out: Float32Array): void;
  /** dst[i, :] = src[index[i], :]; every index must lie in [0, srcRows). */
  gatherRows(rows: number, cols: number, srcRows: number, index: Int32Array, src: Float32Array,
    dst: Float32Array): void;
  /**
   * gatherRows, returning the position in dst of the first NaN or infinity among the gathered
   * values (firstNonFinite of dst), or -1: each row is tested while it is still in cache, a few
   * rows after its copy.
   */
  gatherRowsChecked(rows: number, cols: number, srcRows: number, index: Int32Array, src: Float32Array,
    dst: Float32Array): number;
  /**
   * out[0..n) = a random permutation of 0..n-1: the identity shuffled as Rng.shuffle shuffles,
   * from the generator state in state[0..4) (the four words of Rng.getState, as int32 bits),
   * which is advanced in place past the draws. Both backends give the same permutation and state.
   */
  shuffledRange(n: number, state: Int32Array, out: Int32Array): void;
  /**
   * out[i] = the index of the first largest value of row i of x [rows, cols] (classes from
   * scores: accuracy, predicted labels). A value wins only if it is greater than every one
   * before it, so a NaN never does; a row of no columns gives 0. out must not share memory with x.
   */
  argmaxRows(rows: number, cols: number, x: Float32Array, out: Int32Array): void;
  /** x *= alpha. */
  scale(n: number, alpha: number, x: Float32Array): void;
  /** y += alpha * x; y may be x itself. */
  axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void;
  /** sum x[i] y[i], accumulated in float64. */
  dot(n: number, x: Float32Array, y: Float32Array): number;
  /** sum x[i]^2 (the squared L2 norm), accumulated in float64. */
  sumSquares(n: number, x: Float32Array): number;
  /** The index of the first NaN or infinity among x[0..n), or -1 when all are finite (input checks). */
  firstNonFinite(n: number, x: Float32Array): number;
  /** The index of the first of labels[0..n) outside [0, classes), or -1 when every label is a class (label checks). */
  firstLabelOutside(n: number, labels: Int32Array, classes: number): number;
  /** out[i] = x[i] * y[i] (dropout and DropConnect masks); out may be x or y itself. */
  mul(n: number, x: Float32Array, y: Float32Array, out: Float32Array): void;
  /**
   * Weight penalty: returns l1 * sum |w| + (l2 / 2) * sum w^2 (accumulated in float64) and, unless
   * grad is null, adds its gradient l1 * sign(w) + l2 * w to grad, with sign(0) = 0. L2 is
   * lambda/2 sum W^2 so that its gradient is lambda W: l2 equals PyTorch's weight_decay. L1 is
   * lambda sum |W|. l1 and l2 must be finite and >= 0; grad must not share memory with w.
   */
  penalty(n: number, l1: number, l2: number, w: Float32Array, grad: Float32Array | null): number;

  /** y = f(x) for activation id `act` with parameter `param`; y may be x itself. */
  activation(act: number, param: number, n: number, x: Float32Array, y: Float32Array): void;
  /** dx = dy * f'(x), where y = f(x); dx may be x, y or dy itself. */
  activationBackward(act: number, param: number, n: number, x: Float32Array, y: Float32Array,
    dy: Float32Array, dx: Float32Array): void;
  /** Row-wise softmax with max subtraction; y may be x itself. */
  softmax(rows: number, cols: number, x: Float32Array, y: Float32Array): void;
  /** Row-wise log-softmax, x - logsumexp(x); y may be x itself. */
  logSoftmax(rows: number, cols: number, x: Float32Array, y: Float32Array): void;
  /** dx = y * (dy - sum_j dy_j y_j) for y = softmax(x); dx may be y or dy itself. */
  softmaxBackward(rows: number, cols: number, y: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** dx = dy - exp(y) * sum_j dy_j for y = logSoftmax(x); dx may be y or dy itself. */
  logSoftmaxBackward(rows: number, cols: number, y: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /**
   * PReLU: y = x > 0 ? x : a_j * x for x [rows, cols], with one slope per column (a [cols]) when
   * perUnit, else one slope a[0] for all. y may be x itself.
   */
  prelu(perUnit: boolean, rows: number, cols: number, x: Float32Array, a: Float32Array, y: Float32Array): void;
  /**
   * PReLU backward, as PyTorch: dx = dy * (x > 0 ? 1 : a_j); da = beta * da + sum over elements
   * with x <= 0 of dy * x (per column when perUnit, else in total into da[0]). At x = 0 the
   * gradient w.r.t. x is a_j and w.r.t. a is 0. beta = 0 overwrites da. dx may be dy itself.
   */
  preluBackward(perUnit: boolean, rows: number, cols: number, beta: number, x: Float32Array,
    a: Float32Array, dy: Float32Array, da: Float32Array, dx: Float32Array): void;

  /**
   * Batch normalisation with PyTorch BatchNorm1d semantics over x [rows, cols], one channel per
   * column; gamma, beta, runningMean, runningVar, mean and invStd are [cols], xhat and y [rows, cols].
   * Training: mean_j and the biased variance var_j over the rows (rows must be at least 2),
   * invStd_j = 1/sqrt(var_j + eps), and in place runningMean = (1 - momentum) * runningMean +
   * momentum * mean, runningVar = (1 - momentum) * runningVar + momentum * var * rows/(rows-1)
   * (unbiased). Eval (training false): mean = runningMean, invStd = 1/sqrt(runningVar + eps), and
   * the running estimates are left alone. Either way xhat = (x - mean_j) * invStd_j and
   * y = gamma_j * xhat + beta_j. Sums are accumulated in float64. eps > 0, momentum in [0, 1].
   * Every output (the running estimates included) must be disjoint from every input and from
   * each other.
   */
  batchNormForward(training: boolean, rows: number, cols: number, eps: number, momentum: number,
    x: Float32Array, gamma: Float32Array, beta: Float32Array, runningMean: Float32Array,
    runningVar: Float32Array, mean: Float32Array, invStd: Float32Array, xhat: Float32Array,
    y: Float32Array): void;

  /**
   * Batch normalisation backward, from the forward pass's xhat and invStd: dbeta = beta * dbeta +
   * sum_rows dy; dgamma = beta * dgamma + sum_rows dy * xhat; dx (skipped when null) =
   * gamma * invStd / rows * (rows * dy - sum_rows dy - xhat * sum_rows dy * xhat) in training,
   * and dy * gamma * invStd in eval (a fixed affine map). The sums in dx are this batch's, not the
   * accumulated dgamma and dbeta. beta = 0 overwrites the gradients. Every output must be
   * disjoint from every input and from each other.
   */
  batchNormBackward(training: boolean, rows: number, cols: number, beta: number, xhat: Float32Array,
    gamma: Float32Array, invStd: Float32Array, dy: Float32Array, dgamma: Float32Array,
    dbeta: Float32Array, dx: Float32Array | null): void;

  /**
   * Fused dense forward: z = x * w^T + b, y = f(z), with x [batch, inDim], w [outDim, inDim],
   * b [outDim] or null, z and y [batch, outDim]. z is what the backward pass needs; y may be z
   * itself when no backward pass follows (inference) or the activation is identity.
   */
  denseForward(act: number, param: number, batch: number, inDim: number, outDim: number,
    x: Float32Array, w: Float32Array, b: Float32Array | null, z: Float32Array, y: Float32Array): void;

  /**
   * Packs a dense layer's weight w [outDim, inDim] and bias b [outDim] (null: zeros) for
   * packedDenseForward into packed, of at least ceil(outDim/16)*16*(inDim+1) values
   * (packedDenseLength; the layout is lib/backend/packed.ts's). packed must not overlap w or b.
   */
  packDense(outDim: number, inDim: number, w: Float32Array, b: Float32Array | null, packed: Float32Array): void;

  /**
   * Dense inference forward over packed weights: y = f(x * w^T + b) with x [batch, inDim] and y
   * [batch, outDim], w and b as packDense packed them; no z is kept (nothing goes backward). The
   * same values as denseForward's y to float32 rounding (native: blasnet's own kernels, the sums
   * in another order than OpenBLAS's). y must not overlap x or packed.
   */
  packedDenseForward(act: number, param: number, batch: number, inDim: number, outDim: number,
    x: Float32Array, packed: Float32Array, y: Float32Array): void;

  /**
   * Fused dense backward: dz = dy * f'(z); dw = beta * dw + dz^T x; db = beta * db + colsum(dz)
   * (skipped when db is null); dx = dz * w (skipped when dx is null, as for a first layer).
   * beta = 0 overwrites the gradients, 1 accumulates. dz may be dy itself.
   */
  denseBackward(act: number, param: number, batch: number, inDim: number, outDim: number,
    beta: number, x: Float32Array, w: Float32Array, z: Float32Array, y: Float32Array,
    dy: Float32Array, dz: Float32Array, dw: Float32Array, db: Float32Array | null,
    dx: Float32Array | null): void;

  /**
   * Mean loss of pred [rows, cols] against target (Float32Array [rows, cols], Int32Array labels
   * [rows], or Float32Array [rows, cols/2] for gaussianNll); writes d(loss)/d(pred) into grad
   * unless grad is null. `param` is the loss's parameter (huber delta, multiMargin margin,
   * gaussianNll eps; ignored by the others).
   */
  loss(loss: number, param: number, rows: number, cols: number, pred: Float32Array,
    target: Float32Array | Int32Array, grad: Float32Array | null): number;

  /**
   * loss with one factor per row: weight [rows] holds finite non-negative values; each row's
   * term and gradient are multiplied by its factor and the normaliser stays the unweighted one
   * (rows, or rows*cols for elementwise losses; Keras's sample_weight), so all-ones weights give
   * exactly loss(). The values are read once and checked before any work (ERR_BLASNET_ARG_RANGE
   * names the first bad one); grad must not overlap weight.
   */
  lossWeighted(loss: number, param: number, rows: number, cols: number, pred: Float32Array,
    target: Float32Array | Int32Array, weight: Float32Array, grad: Float32Array | null): number;

  /**
   * One optimiser update over a whole parameter arena of n values, for kernel id `opt` (the table
   * in lib/optim/kernels.ts, shared with the addon: sgd, adagrad, rmsprop, adadelta, adam,
   * adamax, nadam, radam). param and state are updated in place, grad is only read. state holds
   * `slots * n` floats, slot k at [k*n, (k+1)*n); `hyper` holds the step's float32 scalars, which
   * the caller computes (createOptimizer does), so the kernel keeps nothing between calls. Flags
   * in hyper are 0 or 1. In the rules, g starts as grad and, when weightDecay != 0 and no
   * decoupled flag is set, becomes g + weightDecay * p; a set decoupled flag scales p by
   * 1 - lr * weightDecay first. Layouts (hyper names in order; slots):
   *
   * - sgd (7; momentumBuffer): lr, momentum, dampening, weightDecay, nesterov, firstStep,
   *   lrInVelocity. momentum = 0: p -= lr g. Otherwise buf = firstStep ? g : momentum buf +
   *   (1 - dampening) g, p -= lr (nesterov ? g + momentum buf : buf); with lrInVelocity the slot
   *   holds v = firstStep ? -lr g : momentum v - lr (1 - dampening) g, p += nesterov ?
   *   momentum v - lr g : v.
   * - adagrad (3; sum): clr, weightDecay, eps. sum += g^2, p -= clr g / (sqrt(sum) + eps).
   * - rmsprop (8; squareAvg, momentumBuffer, gradAvg): lr, alpha, oneMinusAlpha, eps, weightDecay,
   *   momentum, centered, epsInsideSqrt. sq = alpha sq + (1 - alpha) g^2; var = sq, or
   *   sq - gAvg^2 when centered (gAvg = alpha gAvg + (1 - alpha) g); avg = sqrt(var) + eps, or
   *   sqrt(var + eps) with epsInsideSqrt; momentum > 0: buf = momentum buf + g / avg,
   *   p -= lr buf; else p -= lr g / avg.
   * - adadelta (5; squareAvg, accDelta): lr, rho, oneMinusRho, eps, weightDecay.
   *   sq = rho sq + (1 - rho) g^2, delta = sqrt(acc + eps) / sqrt(sq + eps) g,
   *   acc = rho acc + (1 - rho) delta^2, p -= lr delta.
   * - adam (12; expAvg, expAvgSq, maxExpAvgSq): lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2,
   *   eps, weightDecay, decoupled, amsgrad, epsInsideSqrt, bc1, bc2. m and v moving averages;
   *   vh = amsgrad ? (vMax = max(vMax, v)) : v; denom = sqrt(vh) / sqrt(bc2) + eps, or
   *   sqrt(vh / bc2 + eps) with epsInsideSqrt; p -= (lr / bc1) m / denom.
   * - adamax (7; expAvg, expInf): lr, beta1, oneMinusBeta1, beta2, eps, weightDecay, bc1.
   *   u = max(beta2 u, |g| + eps), p -= (lr / bc1) m / u.
   * - nadam (11; expAvg, expAvgSq): lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps,
   *   weightDecay, decoupled, bc2, gradCoef, avgCoef. denom = sqrt(v / bc2) + eps,
   *   p -= gradCoef g / denom, then p -= avgCoef m / denom.
   * - radam (12; expAvg, expAvgSq): lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps,
   *   weightDecay, decoupled, bc1, bc2, rectified, rect. p -= (m / bc1) lr, times
   *   sqrt(bc2) / (sqrt(v) + eps) * rect when rectified.
   *
   * Storage is float32. Arithmetic: js in float64 (the reference); native in float32, as PyTorch's
   * CPU kernels (centred RMSprop in float64), so the backends agree to float32 rounding, not bit
   * for bit. hyper must hold at least the layout's length; param, grad, state and hyper must be
   * mutually disjoint. The native backend cuts a large arena into pieces over its
   * threads (setNumThreads); the js backend runs on the calling thread.
   */
  optimizerStep(opt: number, n: number, hyper: Float32Array, param: Float32Array, grad: Float32Array,
    state: Float32Array): void;
  /**
   * optimizerStep over an arena laid out as `nBlocks` blocks of rows: blocks[2b] rows (>= 0) of
   * blocks[2b + 1] values (>= 1) each, in order, covering exactly [0, n) (a dense layer's weight
   * [out, in] is one block of out rows of in values; a bias one row). The update is optimizerStep's,
   * bit for bit. The native backend uses the blocks to cut the step between its threads: a
   * weight's rows go to the thread whose forward product read them, as the GEMM cuts them, so that
   * no thread rewrites memory another core has just read (bench/RESULTS.md). The blocks are read
   * once, before the step.
   */
  optimizerStepBlocks(opt: number, n: number, hyper: Float32Array, param: Float32Array, grad: Float32Array,
    state: Float32Array, nBlocks: number, blocks: Int32Array): void;
  /**
   * x = min(max(x, lo), hi) in place (clipping by value); NaN stays NaN. lo and hi must be finite
   * with lo <= hi (compared as float32).
   */
  clamp(n: number, lo: number, hi: number, x: Float32Array): void;
  /**
   * Max-norm constraint on the rows of w [rows, cols] (each unit's incoming weights in a dense
   * layer's [out, in] weight): a row whose L2 norm exceeds maxNorm is scaled by
   * maxNorm / (norm + 1e-7), as torch.renorm (the norm accumulated in float64); the rest are left
   * alone. maxNorm must be finite and > 0.
   */
  maxNormRows(rows: number, cols: number, maxNorm: number, w: Float32Array): void;

  /**
   * Sets the number of threads the kernels use, the calling thread included (1..1024, capped at
   * 64). The native backend runs OpenBLAS single-threaded and splits GEMMs, optimiser steps and
   * gathers over a pool of its own, so this is the number of cores it keeps busy; its default is
   * the number of physical cores among the CPUs the process may run on, or BLASNET_NUM_THREADS.
   * The js backend runs on one thread and ignores it.
   */
  setNumThreads(n: number): void;
  /** The number of threads kernels use. */
  getNumThreads(): number;
  /**
   * Caps the threads of the kernels called from this JavaScript thread (0..1024; 0 removes the
   * cap) without changing the process's count (setNumThreads) for other threads, such as
   * worker_threads training other models. Returns the previous cap. fit sets it for its training
   * loop (FitOptions.threads) and puts the previous one back when it returns. The js backend runs
   * on one thread: it keeps the value only to return it.
   */
  setThreadLimit(n: number): number;
  /** What runs the kernels. */
  info(): BackendInfo;
}

/** A description of a backend, for logs and benchmark tables. */
export interface BackendInfo {
  backend: 'js' | 'native';
  /** BLAS library and build configuration, or 'none' for the js backend. */
  library: string;
  config: string;
  coreName: string;
  /**
   * Instruction set of blasnet's own non-GEMM kernels (optimiser steps, activations, column sums,
   * elementwise helpers): 'avx512', 'avx2' or 'portable' (native: the CPU's best, lowered by
   * BLASNET_ISA); 'none' for the js backend.
   */
  kernelIsa: string;
  /** The best instruction set the CPU supports for those kernels ('none' for the js backend). */
  kernelIsaSupported: string;
  /**
   * Whether the native optimiser steps ask for their weights' cache lines ahead of writing them
   * (x86 PREFETCHW; another core may have read those lines in the forward pass): on where the
   * CPU has the instruction and the level is above 'portable', unless BLASNET_WRITE_AHEAD=0, and
   * used when more than one kernel thread may run. A hint with no effect on results. false for
   * the js backend; absent from a backend written before it existed.
   */
  writeAhead?: boolean;
  /**
   * Whether the native denseForward runs its product on blasnet's own micro-kernels (the
   * layer's weights packed on every call, the bias and activation applied to each tile as it is
   * written) rather than OpenBLAS's GEMM and a second pass: on by default at the 'avx2' and
   * 'avx512' levels, where it measured faster; BLASNET_PACKED_FORWARD=0 or 1 overrides that.
   * Batches of under packedForwardMinRows rows and layers of over 2M weights run on OpenBLAS
   * either way. The sums come out in other last bits than OpenBLAS's. false for the js backend;
   * absent from a backend written before it existed.
   */
  packedForward?: boolean;
  /**
   * The native backend's smallest batch that denseForward runs on its packed kernels when
   * packedForward is on: 4, or 32 where OpenBLAS's core has kernels for small products that read
   * the weights in place (its AVX-512 cores), which beat packing them on every call below that.
   * Absent for the js backend.
   */
  packedForwardMinRows?: number;
  numThreads: number;
  /** Processors the machine offers. */
  numProcs: number;
}
