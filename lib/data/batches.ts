/**
 * Mini-batches for training loops: seeded shuffling every epoch and gathering into buffers that
 * are allocated once, so that a training loop allocates nothing per batch.
 */
import { backendOption } from '../backend/select';
import { releaseFloat32Array, takeFloat32Array } from '../backend/memory';
import type { BackendName } from '../backend/select';
import type { Backend } from '../backend/types';
import { Rng } from '../rng';
import { Matrix } from '../tensor';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { typedArrayTag, typedLength } from '../typed';
import { bool, integer, matrix, options as checkOptions, positiveInt, show, targetWidth } from './check';
import type { Targets } from './check';

/** Options of BatchIterator. */
export interface BatchOptions {
  /** Rows per batch (positive integer). */
  batchSize: number;
  /** Visit the rows in a new seeded random order every epoch. Default true; false keeps row order. */
  shuffle?: boolean;
  /** Seed of the shuffles. Default 0. */
  seed?: number;
  /** Leave out the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** The backend whose gatherRows copies the rows. Default defaultBackend(). */
  backend?: Backend | BackendName;
  /** Per-row weights (Float32Array [rows of x]) gathered with each batch into Batch.weight. Default none. */
  weights?: Float32Array | null;
  /**
   * Visit only shard `rank` of `size` of each epoch's order, as torch's DistributedSampler does:
   * the order of all n rows is drawn as without a shard, padded by wrapping to a multiple of
   * size, and this iterator takes every size-th row from position rank, ceil(n / size) rows an
   * epoch. Iterators of the size ranks, built with one seed, together visit every row each epoch
   * (a few twice when size does not divide n). Default none: every row.
   */
  shard?: { rank: number; size: number };
}

/**
 * One mini-batch. Every field is a view into the iterator's reused buffers: valid until the next
 * batch is produced, and to be copied if it must be kept.
 */
export interface Batch<Y extends Targets = Targets> {
  /** [rows, cols] features; data is exactly rows * cols long. */
  x: Matrix;
  /** The targets of the rows, of the kind given (labels [rows], flat targets [rows * w] or a Matrix), or null. */
  y: Y | null;
  /** Rows in this batch: batchSize, or fewer for the last one. */
  rows: number;
  /** Which rows of the source these are. */
  index: Int32Array;
  /** The rows' weights when the iterator has weights, else null. */
  weight: Float32Array | null;
  /**
   * In an epoch asked to check (epoch({ checkFinite: true })), the position in x.data of the
   * first NaN or infinity of this batch, or -1 when every value is finite; -1 in other epochs.
   */
  nonFinite: number;
}

/** Options of BatchIterator.epoch. */
export interface EpochOptions {
  /**
   * Test every gathered feature for NaN and infinity as its row is copied (while in cache) and
   * report the first in Batch.nonFinite. Default false.
   */
  checkFinite?: boolean;
}

/**
 * order[0..n) = the identity shuffled by rng, as rng.shuffle would (same permutation, same stream
 * position after), through the backend's shuffledRange: the native one runs the loop compiled, so
 * that even a process's first epoch does not wait for V8 to compile it. `words` (4) is scratch.
 */
function shuffledOrder(backend: Backend, rng: Rng, words: Int32Array, order: Int32Array, n: number): void {
  const state = rng.getState();
  for (let k = 0; k < 4; k++) words[k] = state[k];
  backend.shuffledRange(n, words, order);
  rng.setState([words[0] >>> 0, words[1] >>> 0, words[2] >>> 0, words[3] >>> 0, state[4]]);
}

// The per-row loops of a batch live in small functions of their own: V8 optimises a hot loop by
// compiling the function around it, and a fresh process's first epoch runs those compilations on
// a third thread while the kernel threads hold both cores of a small machine. Compiling these few
// lines costs far less than compiling fill() with everything it calls.

/** out[0..rows) = src[start .. start + rows). */
function copyRange(src: Int32Array, start: number, rows: number, out: Int32Array): void {
  for (let r = 0; r < rows; r++) out[r] = src[start + r];
}

/** out[r] = src[index[r]] for r < rows. */
function pick<T extends Int32Array | Float32Array>(src: T, index: Int32Array, rows: number, out: T): void {
  for (let r = 0; r < rows; r++) out[r] = src[index[r]];
}

/**
 * Iterates over (x, y) in mini-batches: `for (const b of it.epoch())`, or `for (const b of it)`,
 * visits every row exactly once (the last batch has n mod batchSize rows unless dropLast). With
 * shuffle (default) each epoch visits the rows in a fresh random order drawn from one Rng(seed)
 * stream: epoch e's order depends only on the seed and e, so two iterators with one seed agree.
 * Rows are gathered with the backend's gatherRows into one batch buffer allocated at construction;
 * producing a batch allocates nothing. Only one epoch may be in progress at a time (starting
 * another abandons the first's order), and a batch is overwritten by the next.
 */
export class BatchIterator<Y extends Targets = Targets> implements Iterable<Batch<Y>> {
  /** The source features. */
  readonly x: Matrix;
  /** The source targets, or null. */
  readonly y: Y | null;
  /** Rows per batch. */
  readonly batchSize: number;
  /** Whether epochs are shuffled. */
  readonly shuffle: boolean;
  /** Whether a short last batch is left out. */
  readonly dropLast: boolean;
  /** The seed the shuffle stream started from. */
  readonly seed: number;
  private readonly backend: Backend;
  private readonly rng: Rng;
  /** The generator's words for the backend's shuffledRange (scratch). */
  private readonly words: Int32Array;
  private readonly width: number;
  private readonly order: Int32Array;
  /** The rows an epoch visits, in order: the order itself, or this shard of it. */
  private readonly visit: Int32Array;
  private readonly shardRank: number;
  private readonly shardSize: number;
  private readonly full: Batch<Y> | null;
  private readonly last: Batch<Y> | null;
  private readonly weights: Float32Array | null;
  /** The batch buffer, until release gives it back. */
  private xBuf: Float32Array | null;

  constructor(x: Matrix, y: Y | null, options: BatchOptions) {
    const fn = 'BatchIterator';
    this.x = matrix(fn, 'x', x);
    const n = x.rows;
    this.width = targetWidth(fn, 'y', y, n);
    this.y = y ?? null;
    const opts = checkOptions(fn, options, { batchSize: true, shuffle: true, seed: true, dropLast: true, backend: true, weights: true, shard: true });
    this.batchSize = positiveInt(fn, 'options.batchSize', opts.batchSize);
    this.shuffle = bool(fn, 'options.shuffle', opts.shuffle ?? true);
    this.dropLast = bool(fn, 'options.dropLast', opts.dropLast ?? false);
    this.seed = integer(fn, 'options.seed', opts.seed ?? 0);
    this.backend = backendOption(fn, opts.backend);
    const w = opts.weights ?? null;
    if (w !== null && (typedArrayTag(w) !== 'Float32Array' || typedLength(w) !== n)) {
      throw rangeError(ErrorCode.SHAPE, `${fn}: Expected a Float32Array of ${n} values (one per row of x) for options.weights`);
    }
    this.weights = w;
    const shard = opts.shard;
    if (shard !== undefined && (shard === null || typeof shard !== 'object')) {
      throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected { rank, size } for options.shard but received ${show(shard)}`);
    }
    this.shardSize = shard ? positiveInt(fn, 'options.shard.size', shard.size) : 1;
    this.shardRank = shard ? integer(fn, 'options.shard.rank', shard.rank) : 0;
    if (this.shardRank < 0 || this.shardRank >= this.shardSize) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected options.shard.rank in [0, ${this.shardSize}) but received ${this.shardRank}`);
    }
    this.rng = new Rng(this.seed);
    this.words = new Int32Array(4);
    this.order = new Int32Array(n);
    const visited = Math.ceil(n / this.shardSize);
    this.visit = this.shardSize === 1 ? this.order : new Int32Array(visited);
    // A shuffled epoch starts from the identity itself; only a fixed order is set up here (a loop
    // over every row costs about 1 ms in a fresh process before V8 compiles it).
    if (!this.shuffle) {
      for (let i = 0; i < n; i++) this.order[i] = i;
      this.takeShard();
    }

    // Everything a batch needs is made here: one buffer per field sized for a full batch, and a
    // second set of views for a short last batch, so that epoch() never allocates.
    const cap = Math.min(this.batchSize, visited);
    // Every epoch gathers into it before a batch shows it: a buffer an earlier fit gave back where
    // one fits, else fresh memory mapped in one call rather than page by page in the first batch.
    const xBuf = takeFloat32Array(cap * x.cols);
    this.xBuf = xBuf;
    const index = new Int32Array(cap);
    const yBuf = this.makeTargets(cap);
    const wBuf = w === null ? null : new Float32Array(cap);
    const make = (rows: number): Batch<Y> => ({
      x: new Matrix(rows === cap ? xBuf : xBuf.subarray(0, rows * x.cols), rows, x.cols),
      y: yBuf === null ? null : this.viewTargets(yBuf, rows, cap),
      rows,
      index: rows === cap ? index : index.subarray(0, rows),
      weight: wBuf === null ? null : rows === cap ? wBuf : wBuf.subarray(0, rows),
      nonFinite: -1,
    });
    const tail = visited % this.batchSize;
    this.full = visited >= this.batchSize ? make(this.batchSize) : null;
    this.last = tail > 0 && !this.dropLast ? make(tail) : null;
  }

  /** Rows of the smallest batch an epoch produces (the short last one, unless dropLast), or 0 for none. */
  get smallestBatch(): number {
    return this.last ? this.last.rows : this.full ? this.batchSize : 0;
  }

  /** Batches per epoch: ceil(n / batchSize), or floor with dropLast. */
  get batchesPerEpoch(): number {
    const n = this.visit.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Restarts the shuffle stream (from `seed`, default the constructor's): the next epoch is epoch 0 again. */
  reset(seed: number = this.seed): void {
    this.rng.reset(integer('BatchIterator.reset', 'seed', seed));
  }

  /**
   * Advances the shuffle stream past `count` epochs without producing them, so that training
   * resumed at epoch `count` sees the orders an uninterrupted run would.
   */
  skipEpochs(count: number): void {
    const k = integer('BatchIterator.skipEpochs', 'count', count);
    if (!this.shuffle) return;
    const n = this.x.rows;
    for (let e = 0; e < k; e++) shuffledOrder(this.backend, this.rng, this.words, this.order, n);
  }

  /**
   * Gives the batch buffer back for reuse (see takeFloat32Array); the iterator makes no more
   * epochs. For fit, once its last epoch is done. @internal
   */
  release(): void {
    if (this.xBuf !== null) releaseFloat32Array(this.xBuf);
    this.xBuf = null;
  }

  /** One epoch: every row once (but a dropped short tail), in this epoch's order. */
  *epoch(options: EpochOptions = {}): Generator<Batch<Y>, void, undefined> {
    if (this.xBuf === null) throw new BlasnetError(ErrorCode.STATE, 'BatchIterator.epoch: this iterator has given its buffers back');
    const check = bool('BatchIterator.epoch', 'options.checkFinite', checkOptions('BatchIterator.epoch', options, { checkFinite: true }).checkFinite ?? false);
    const n = this.x.rows;
    const order = this.order;
    if (this.shuffle) {
      // From the identity every time, so the order depends on the stream position alone.
      shuffledOrder(this.backend, this.rng, this.words, order, n);
      this.takeShard();
    }
    const bs = this.batchSize;
    const full = Math.floor(this.visit.length / bs);
    for (let k = 0; k < full; k++) yield this.fill(this.full as Batch<Y>, k * bs, check);
    if (this.last) yield this.fill(this.last, full * bs, check);
  }

  /** Same as epoch(). */
  [Symbol.iterator](): Iterator<Batch<Y>> {
    return this.epoch();
  }

  /** This shard's rows of the current order, into visit (nothing to do without a shard). */
  private takeShard(): void {
    const size = this.shardSize;
    if (size === 1) return;
    const n = this.x.rows, order = this.order, visit = this.visit, rank = this.shardRank;
    for (let i = 0; i < visit.length; i++) visit[i] = order[(i * size + rank) % n];
  }

  /** Gathers rows visit[start .. start + batch.rows) into the batch's buffers (checking x's values when `check`). */
  private fill(batch: Batch<Y>, start: number, check: boolean): Batch<Y> {
    const rows = batch.rows;
    const index = batch.index;
    copyRange(this.visit, start, rows, index);
    const x = this.x;
    const b = this.backend;
    if (x.cols === 0) batch.nonFinite = -1;
    else if (check) batch.nonFinite = b.gatherRowsChecked(rows, x.cols, x.rows, index, x.data, batch.x.data);
    else {
      b.gatherRows(rows, x.cols, x.rows, index, x.data, batch.x.data);
      batch.nonFinite = -1;
    }
    const w = this.weights;
    if (w !== null) pick(w, index, rows, batch.weight as Float32Array);
    const y = this.y;
    if (y !== null) {
      if (y instanceof Matrix) {
        if (y.cols > 0) b.gatherRows(rows, y.cols, y.rows, index, y.data, (batch.y as Matrix).data);
      } else if (typedArrayTag(y) === 'Int32Array') {
        pick(y as Int32Array, index, rows, batch.y as Int32Array);
      } else {
        b.gatherRows(rows, this.width, x.rows, index, y as Float32Array, batch.y as Float32Array);
      }
    }
    return batch;
  }

  private makeTargets(cap: number): Int32Array | Float32Array | null {
    const y = this.y;
    if (y === null) return null;
    if (y instanceof Matrix) return new Float32Array(cap * y.cols);
    if (typedArrayTag(y) === 'Int32Array') return new Int32Array(cap);
    return new Float32Array(cap * this.width);
  }

  private viewTargets(buf: Int32Array | Float32Array, rows: number, cap: number): Y {
    const y = this.y;
    if (y instanceof Matrix) {
      return new Matrix(rows === cap ? (buf as Float32Array) : (buf as Float32Array).subarray(0, rows * y.cols), rows, y.cols) as Y;
    }
    const w = typedArrayTag(y) === 'Int32Array' ? 1 : this.width;
    return (rows === cap ? buf : buf.subarray(0, rows * w)) as Y;
  }
}
