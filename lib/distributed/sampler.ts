/**
 * Sharded batches for data-parallel training, as torch.utils.data.DistributedSampler shards:
 * every rank draws the same seeded order of all n rows each epoch (the order BatchIterator would
 * use, from the same seed), pads it by wrapping to a multiple of the rank count, and takes every
 * size-th row starting at its rank. Each rank then has ceil(n / size) rows per epoch, and the k-th
 * batches of all ranks together are the rows of the k-th batch a single process with batchSize x
 * size would train on (exactly so when n is a multiple of size).
 */
import type { Backend } from '../backend/types';
import { BatchIterator } from '../data/batches';
import type { Batch } from '../data/batches';
import { shuffle } from '../data/split';
import { Rng } from '../rng';
import { Matrix } from '../tensor';
import { typedArrayTag } from '../typed';
import type { ReplicaBatches, ReplicaRows } from '../train/parallel';

/** The row indices of rank `rank` of `size` in one epoch's order over n rows (padded by wrapping). */
export function shardIndices(order: Int32Array, n: number, rank: number, size: number, out: Int32Array): void {
  const per = Math.ceil(n / size);
  for (let i = 0; i < per; i++) out[i] = order[(i * size + rank) % n];
}

/** A rank's batches: each epoch its shard is gathered into buffers made once, then batched in order. */
export class ShardedBatches implements ReplicaBatches {
  /** Rows of this rank per epoch: ceil(n / size). */
  readonly rows: number;
  private readonly rng: Rng;
  private readonly order: Int32Array;
  private readonly index: Int32Array;
  private readonly xs: Matrix;
  private readonly ys: Int32Array | Float32Array;
  private readonly ws: Float32Array | null;
  private readonly inner: BatchIterator;
  private readonly width: number;

  constructor(private readonly src: ReplicaRows, private readonly rank: number, private readonly size: number,
    private readonly options: { batchSize: number; shuffle: boolean; seed: number; backend: Backend }) {
    const n = src.x.rows;
    this.rows = Math.ceil(n / size);
    this.rng = new Rng(options.seed);
    this.order = new Int32Array(n);
    this.index = new Int32Array(this.rows);
    this.xs = new Matrix(new Float32Array(this.rows * src.x.cols), this.rows, src.x.cols);
    const labels = typedArrayTag(src.y) === 'Int32Array';
    this.width = labels ? 1 : src.y.length / Math.max(n, 1);
    this.ys = labels ? new Int32Array(this.rows) : new Float32Array(this.rows * this.width);
    this.ws = src.w ? new Float32Array(this.rows) : null;
    this.inner = new BatchIterator(this.xs, this.ys, { batchSize: options.batchSize, shuffle: false, backend: options.backend, weights: this.ws });
  }

  /** Batches per epoch: ceil(rows / batchSize), the same on every rank. */
  get batchesPerEpoch(): number {
    return this.inner.batchesPerEpoch;
  }

  /** Advances the shared order stream past `count` epochs (a resumed run sees the same orders). */
  skipEpochs(count: number): void {
    if (!this.options.shuffle) return;
    for (let e = 0; e < count; e++) this.nextOrder();
  }

  /** The next epoch: this rank's shard of the shared order, gathered, then batched in order. */
  *epoch(): Generator<Batch, void, undefined> {
    this.nextOrder();
    const { x, y, w } = this.src;
    const n = x.rows, per = this.rows, idx = this.index, b = this.options.backend;
    shardIndices(this.order, n, this.rank, this.size, idx);
    if (x.cols > 0) b.gatherRows(per, x.cols, n, idx, x.data, this.xs.data);
    if (typedArrayTag(y) === 'Int32Array') {
      for (let i = 0; i < per; i++) this.ys[i] = y[idx[i]];
    } else if (this.width > 0) {
      b.gatherRows(per, this.width, n, idx, y as Float32Array, this.ys as Float32Array);
    }
    if (w && this.ws) for (let i = 0; i < per; i++) this.ws[i] = w[idx[i]];
    yield* this.inner.epoch();
  }

  /** The next epoch's order of all rows: from the identity each time, as BatchIterator draws it. */
  private nextOrder(): void {
    const n = this.src.x.rows, order = this.order;
    for (let i = 0; i < n; i++) order[i] = i;
    if (this.options.shuffle) shuffle(order, n, this.rng);
  }
}
