/**
 * The hook through which fit runs as one replica of data-parallel training. lib/distributed
 * supplies it (fitDistributed); fit calls it at fixed points of the loop and runs unchanged
 * without it. Every call is collective: each replica makes the same calls in the same order.
 */
import type { Matrix } from '../tensor';
import type { Backend } from '../backend/types';
import type { Batch } from '../data/batches';
import type { Optimizer } from '../optim';
import type { Schedule } from '../schedules';

/** The batches a replica trains on, as fit iterates them (BatchIterator's shape). */
export interface ReplicaBatches {
  /** Batches in each epoch (the same on every replica). */
  readonly batchesPerEpoch: number;
  /** Rows of this replica's smallest batch in an epoch, where known (fit then checks it before any step). */
  readonly smallestBatch?: number;
  /** Advances past `count` epochs without producing them (resume). */
  skipEpochs(count: number): void;
  /** The next epoch's batches. */
  epoch(): Iterable<Batch>;
}

/** Rows fit trains or validates on: features, targets and optional per-row weights. */
export interface ReplicaRows {
  x: Matrix;
  y: Int32Array | Float32Array;
  w?: Float32Array | null;
}

/** What fit asks of the distributed layer (see the file comment). */
export interface DataParallel {
  /** This replica's batches of the training rows (a shard of each epoch's seeded order). */
  batches(rows: ReplicaRows, options: { batchSize: number; shuffle: boolean; dropLast: boolean; seed: number; backend: Backend }): ReplicaBatches;
  /** The validation rows this replica evaluates (its shard). */
  validation(rows: ReplicaRows): ReplicaRows;
  /**
   * Before the first step, after a resume: checks that every replica runs the same fit (the
   * `settings` fit gives, its model and data), then makes every replica start from the first one's
   * state. `problem` is a reason this replica's start would be refused were it the first one
   * (a resume on weights that are not the checkpoint's): only the first one's counts, on all.
   */
  start(training: { optimizer: Optimizer; schedule: Schedule | null; resuming: boolean; settings: Record<string, unknown>; problem: Error | null }): void;
  /**
   * After each backward pass, before the non-finite check, clipping and the optimiser step:
   * combines the gradients of every replica; returns the loss of the whole global batch.
   */
  reduceStep(loss: number): number;
  /**
   * The share of the layers' L1/L2 penalties each replica's pass adds to its loss and gradients
   * (lossAndGradient's penaltyShare). Default 1, right when reduceStep averages the gradients;
   * 1 / replicas when it sums them, so that the summed penalty counts once.
   */
  readonly penaltyShare?: number;
  /** After each step's stop checks: whether any replica stops (so that all stop together). */
  anyStop(local: boolean): boolean;
  /** At each epoch end, before validation: combines running statistics (BatchNorm). */
  epochEnd(): void;
  /** Combines an epoch's logs in place (metrics, validation, throughput) across replicas. */
  reduceLogs(logs: Record<string, number>): void;
}
