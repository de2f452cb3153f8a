/**
 * Data-parallel training over MPI, as torch's DistributedDataParallel and Horovod do it: every
 * process (rank) holds a replica of the model, trains on its shard of each batch, and one
 * allreduce of the flat gradient arena per step averages the gradients before an identical
 * optimiser step on every rank. Run a script with `mpirun -np N node train.js`.
 */
import type { Backend } from '../backend/types';
import { Sequential } from '../model/sequential';
import { optionsArg, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import type { Input } from '../data/input';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { Optimizer, OptimizerState } from '../optim';
import type { Schedule, ScheduleState } from '../schedules';
import { FIT_OPTIONS } from '../train/fit';
import type { FitOptions, History, Labels } from '../train/fit';
import type { DataParallel, ReplicaRows } from '../train/parallel';
import { loadMpi } from './mpi';
import type { MpiAddon } from './mpi';
import { BatchIterator } from '../data/batches';
import { Matrix } from '../tensor';
import { Rng, seed32 } from '../rng';
import * as zlib from 'zlib';

export { mpiAvailable, mpiAddonPath } from './mpi';

/** Options of initDistributed. */
export interface DistributedOptions {
  /**
   * How long a collective waits for the other ranks before it throws ERR_BLASNET_DISTRIBUTED, in
   * milliseconds. Default 120000. It bounds how long a rank waits for one that has died, hung or
   * fallen behind (rank 0 writing a checkpoint while the others start the next epoch counts).
   */
  timeoutMs?: number;
}

/**
 * The ranks of an MPI job (MPI_COMM_WORLD) and the collectives training uses. Every method is
 * collective except rank, size and isRoot: all ranks call it in the same order.
 */
export interface Communicator {
  /** This process's rank, 0 to size - 1. */
  readonly rank: number;
  /** Number of ranks in the job. */
  readonly size: number;
  /** Whether this is rank 0, the one that prints and writes. */
  readonly isRoot: boolean;
  /** The MPI thread level granted ('funneled': every call comes from the training thread). */
  readonly threadLevel: string;
  /** Collective timeout in milliseconds. */
  readonly timeoutMs: number;
  /** Replaces `buffer` with its elementwise sum over all ranks. */
  allreduce(buffer: Float32Array | Float64Array): void;
  /** Replaces every rank's `buffer` with rank `root`'s (default 0). */
  broadcast(buffer: Float32Array | Float64Array, root?: number): void;
  /** Returns once every rank has called it. */
  barrier(): void;
  /** Rank 0's value of any JSON-able value (every rank passes one; only rank 0's counts). */
  broadcastJson<T>(value: T): T;
  /** Shuts MPI down; call once, after the last collective (initDistributed arranges it at exit). */
  finalize(): void;
  /** Ends every rank of the job at once with `exitCode` (MPI_Abort). */
  abort(exitCode?: number): never;
}

let comm: Communicator | null = null;

/**
 * Starts MPI (once per process; later calls return the same Communicator) and returns this
 * rank's Communicator. MPI is asked for MPI_THREAD_FUNNELED: only the thread that called this
 * (the training thread) calls MPI. MPI is finalised when the process exits normally; after an
 * error exit it is not (finalising waits for the other ranks), and mpirun ends the job.
 * ERR_BLASNET_DEPENDENCY when the MPI addon is not built.
 */
export function initDistributed(options: DistributedOptions = {}): Communicator {
  const timeoutMs = optionsArg('initDistributed', options, { timeoutMs: true }).timeoutMs ?? 120_000;
  // The binding holds it as a float32: a value outside this range would become infinite or 0 there.
  if (!(typeof timeoutMs === 'number' && timeoutMs >= 1 && timeoutMs <= 2 ** 31 - 1)) {
    throw rangeError(ErrorCode.ARG_RANGE, `initDistributed: Expected a number of ms in [1, 2^31 - 1] for timeoutMs but received ${show(timeoutMs)}`);
  }
  if (comm) return comm;
  const mpi: MpiAddon = loadMpi();
  const { rank, size, threadLevel } = mpi.init();
  let finalized = false;
  const finalize = (): void => {
    if (finalized) return;
    finalized = true;
    mpi.finalize();
  };
  process.once('exit', (code) => {
    if (code === 0) finalize();
  });
  comm = {
    rank, size, isRoot: rank === 0, threadLevel, timeoutMs,
    allreduce: (buffer) => mpi.allreduce(timeoutMs, buffer),
    broadcast: (buffer, root = 0) => mpi.broadcast(root, timeoutMs, buffer),
    barrier: () => mpi.barrier(timeoutMs),
    broadcastJson<T>(value: T): T {
      const bytes = rank === 0 ? Buffer.from(JSON.stringify(value) ?? 'null', 'utf8') : Buffer.alloc(0);
      const len = new Float64Array([bytes.length]);
      mpi.broadcast(0, timeoutMs, len);
      // Bytes travel as float64 words: a broadcast copies them unchanged.
      const words = new Float64Array(Math.ceil(len[0] / 8));
      if (rank === 0) new Uint8Array(words.buffer).set(bytes);
      if (words.length > 0) mpi.broadcast(0, timeoutMs, words);
      return JSON.parse(Buffer.from(words.buffer, 0, len[0]).toString('utf8')) as T;
    },
    finalize,
    abort(exitCode = 1): never {
      mpi.abort(exitCode);
      throw new BlasnetError(ErrorCode.INTERNAL, 'abort: MPI_Abort returned');
    },
  };
  return comm;
}

/**
 * The seed of rank `rank`'s dropout (and noise) masks: rank 0 keeps the model's own stream, so
 * one rank trains exactly as fit does; rank r > 0 reseeds from (seed, r), so ranks draw
 * independent masks, reproducibly.
 */
export function replicaMaskSeed(seed: number, rank: number): number {
  if (!Number.isInteger(seed)) throw rangeError(ErrorCode.ARG_RANGE, `replicaMaskSeed: Expected integer for seed but received ${show(seed)}`);
  if (!(Number.isInteger(rank) && rank >= 0)) throw rangeError(ErrorCode.ARG_RANGE, `replicaMaskSeed: Expected non-negative integer for rank but received ${show(rank)}`);
  return (seed32(seed) ^ Math.imul(rank, 0x9e3779b1)) >>> 0;
}

/** Options of fitDistributed: fit's, plus the communicator (default initDistributed()). */
export interface FitDistributedOptions extends Omit<FitOptions, 'dataParallel'> {
  /** The job's communicator. Default initDistributed() with its defaults. */
  communicator?: Communicator;
}

const { dataParallel: _dp, ...FIT_DISTRIBUTED_FIT } = FIT_OPTIONS;
const FIT_DISTRIBUTED_OPTIONS: OptionKeys<FitDistributedOptions> = { ...FIT_DISTRIBUTED_FIT, communicator: true };

/**
 * A cheap fingerprint of rows: the CRC-32 of up to 64 rows spread over them (the first and the
 * last among them), features, targets and weights. Ranks that loaded different data (each its
 * own part of a set, as Horovod scripts do) differ in it; fitDistributed shards one set itself.
 */
function fingerprint(rows: ReplicaRows): number {
  const n = rows.x.rows, c = rows.x.cols, w = n > 0 ? rows.y.length / n : 0;
  const picks = Math.min(n, 64);
  const bytes = (a: Float32Array | Int32Array, from: number, to: number) => new Uint8Array(a.buffer, a.byteOffset + from * 4, (to - from) * 4);
  let h = 0;
  for (let k = 0; k < picks; k++) {
    const r = picks === 1 ? 0 : Math.round((k * (n - 1)) / (picks - 1));
    h = zlib.crc32(bytes(rows.x.data, r * c, (r + 1) * c), h);
    h = zlib.crc32(bytes(rows.y, r * w, (r + 1) * w), h);
    if (rows.w) h = zlib.crc32(bytes(rows.w, r, r + 1), h);
  }
  return h;
}

/** A settings value as JSON, functions (a custom schedule's or metric's) named rather than dropped. */
function settingText(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'function' ? `function ${(x as { name?: string }).name ?? ''}` : x)) ?? 'undefined';
}

/** What start compares across ranks whose difference means another model or other data. */
const SHAPE_KEYS = new Set(['parameters', 'bufferValues', 'trainingRows', 'trainingData', 'validationRows', 'validationData']);

/** The DataParallel hook fit calls (lib/train/parallel.ts) over one communicator. */
class Replica implements DataParallel {
  private valRows = 1;
  private trainRows = 0;
  private trainPrint = 0;
  private valTotal = 0;
  private valPrint = 0;
  /** Validation rows fewer than the ranks: every rank scores all of them, and rank 0's logs count. */
  private valReplicated = false;
  private readonly scalar = new Float64Array(1);
  private readonly sum: boolean;
  readonly penaltyShare: number;

  constructor(private readonly model: Sequential, private readonly comm: Communicator) {
    this.sum = model.lossSpec?.reduction === 'sum';
    // Summed gradients would hold every rank's copy of the (identical) penalty.
    this.penaltyShare = this.sum ? 1 / comm.size : 1;
  }

  batches(rows: ReplicaRows, options: { batchSize: number; shuffle: boolean; dropLast: boolean; seed: number; backend: Backend }): BatchIterator {
    this.trainRows = rows.x.rows;
    this.trainPrint = fingerprint(rows);
    return new BatchIterator(rows.x, rows.y, { ...options, weights: rows.w ?? null, shard: { rank: this.comm.rank, size: this.comm.size } });
  }

  validation(rows: ReplicaRows): ReplicaRows {
    const n = rows.x.rows, size = this.comm.size;
    this.valTotal = n;
    this.valPrint = fingerprint(rows);
    // Too few rows to give every rank some: every rank evaluates all of them, and rank 0's scores
    // are the logs (a sum over the ranks would count each row once per rank).
    if (n < size) {
      this.valReplicated = true;
      return rows;
    }
    const from = Math.floor((this.comm.rank * n) / size), to = Math.floor(((this.comm.rank + 1) * n) / size);
    const c = rows.x.cols, w = rows.y.length / n;
    this.valRows = to - from;
    // Views, as fit's own validation split: validation only reads its rows.
    return {
      x: new Matrix(rows.x.data.subarray(from * c, to * c), to - from, c),
      y: rows.y.subarray(from * w, to * w),
      w: rows.w ? rows.w.subarray(from, to) : null,
    };
  }

  start(training: { optimizer: Optimizer; schedule: Schedule | null; resuming: boolean; settings: Record<string, unknown>; problem: Error | null }): void {
    const { model, comm } = this;
    // Every rank must run the same fit: the same model over the same rows with the same options,
    // or its steps and collectives would not line up (a hang until the timeout, or weights that
    // silently differ). Every rank learns whether any differs, so that all of them stop here.
    const mine: Record<string, string> = {};
    const described: Record<string, unknown> = {
      parameters: model.params.length, bufferValues: model.buffers().reduce((s, b) => s + b.data.length, 0),
      trainingRows: this.trainRows, trainingData: this.trainPrint, validationRows: this.valTotal, validationData: this.valPrint,
      ...training.settings,
    };
    for (const [k, v] of Object.entries(described)) mine[k] = settingText(v);
    const root = comm.broadcastJson(mine);
    const differ = Object.keys({ ...mine, ...root }).filter((k) => mine[k] !== root[k]);
    this.scalar[0] = differ.length > 0 ? 1 : 0;
    comm.allreduce(this.scalar);
    const others = this.scalar[0] - (differ.length > 0 ? 1 : 0);
    const advice = 'every rank must build the same model, load the same data and call fitDistributed with the same options';
    if (differ.length > 0) {
      const what = differ.map((k) => `${k} ${mine[k] ?? 'undefined'} (rank 0: ${root[k] ?? 'undefined'})`).join(', ');
      throw new BlasnetError(differ.some((k) => SHAPE_KEYS.has(k)) ? ErrorCode.SHAPE : ErrorCode.ARG_RANGE,
        `fitDistributed: rank ${comm.rank} differs from rank 0 in ${what}; ${advice}`);
    }
    if (others > 0) {
      throw new BlasnetError(ErrorCode.DISTRIBUTED, `fitDistributed: ${others} rank${others === 1 ? '' : 's'} differ${others === 1 ? 's' : ''} ` +
        `from rank 0 in their model, data or options (their own errors say how); ${advice}`);
    }
    // Rank 0's weights are the ones every rank resumes from: its refusal counts on all.
    const problem = comm.broadcastJson(training.problem ? training.problem.message : null);
    if (problem !== null) {
      throw new BlasnetError(ErrorCode.STATE, comm.rank === 0 ? problem : `fitDistributed: rank 0 refused to resume: ${problem}`);
    }
    comm.broadcast(model.params);
    for (const b of model.buffers()) comm.broadcast(b.data);
    if (training.resuming) {
      training.optimizer.load(comm.broadcastJson(training.optimizer.state()) as OptimizerState);
      const s = training.schedule;
      if (s) s.load(comm.broadcastJson(s.state()) as ScheduleState);
    }
    if (comm.rank > 0) model.reseed(replicaMaskSeed(model.seed, comm.rank));
  }

  reduceStep(loss: number): number {
    const { model, comm } = this;
    const g = model.grads;
    if (g.length > 0) comm.allreduce(g);
    this.scalar[0] = loss;
    comm.allreduce(this.scalar);
    if (this.sum) return this.scalar[0];
    if (g.length > 0) model.backend.scale(g.length, 1 / comm.size, g);
    return this.scalar[0] / comm.size;
  }

  anyStop(local: boolean): boolean {
    this.scalar[0] = local ? 1 : 0;
    this.comm.allreduce(this.scalar);
    return this.scalar[0] > 0;
  }

  epochEnd(): void {
    const { model, comm } = this;
    for (const b of model.buffers()) {
      comm.allreduce(b.data);
      model.backend.scale(b.data.length, 1 / comm.size, b.data);
    }
  }

  reduceLogs(logs: Record<string, number>): void {
    const keys = Object.keys(logs).filter((k) => k !== 'epoch' && k !== 'lr' && k !== 'seconds' && k !== 'loss');
    const v = new Float64Array(keys.length + 1);
    // Replicated validation rows count once: rank 0's, weight 1; the others' weight 0.
    const ownRows = this.valReplicated ? (this.comm.rank === 0 ? 1 : 0) : this.valRows;
    const share = this.valReplicated ? ownRows : 1;
    keys.forEach((k, i) => {
      const val = logs[k];
      v[i] = k === 'samplesPerSecond' ? val : k.startsWith('val') && !(k === 'valLoss' && this.sum) ? val * ownRows : k === 'valLoss' ? val * share : val / this.comm.size;
    });
    v[keys.length] = ownRows;
    this.comm.allreduce(v);
    const valRows = v[keys.length];
    keys.forEach((k, i) => {
      logs[k] = k.startsWith('val') && !(k === 'valLoss' && this.sum) ? v[i] / valRows : v[i];
    });
  }
}

/**
 * Trains `model` (compiled) as one rank of data-parallel training; call it on every rank with
 * the same model (same architecture and seed), the same data and the same options, under
 * `mpirun -np N node script.js`. Semantics, against torch's DistributedDataParallel:
 * - rank 0's initial weights and BatchNorm statistics (and, when resuming, optimiser and
 *   schedule state) are broadcast before the first step;
 * - `batchSize` is per rank (the global batch is batchSize x N); each epoch's seeded order of all
 *   rows is sharded as DistributedSampler shards it (padded by wrapping, rows rank, rank + N, ...);
 * - after each backward pass one allreduce averages the flat gradient arena over the ranks (sums
 *   it when the loss reduces by 'sum'); layer penalties are the same on every rank and count once
 *   (with 'sum' each rank adds 1/N of them); clipping and the optimiser step follow the average;
 * - BatchNorm normalises with each rank's own batch statistics, and its running statistics are
 *   averaged over the ranks at each epoch end (DDP keeps rank 0's; SyncBatchNorm would reduce the
 *   batch statistics in every forward pass, one more collective per BatchNorm layer per step);
 * - dropout masks come from a stream per rank (replicaMaskSeed; after a resume ranks > 0 start
 *   their streams afresh, so a resumed run with dropout is not bit for bit an uninterrupted one),
 *   and so does `augment`'s generator;
 * - the loss, metrics (row-weighted means) and validation (each rank scores a contiguous share)
 *   are reduced, so schedules, early stopping and every stop decide identically on every rank;
 * - callbacks marked rootOnly (modelCheckpoint, csvLogger, progressBar), verbose and checks run
 *   on rank 0 only.
 * A rank that fails makes the others throw ERR_BLASNET_DISTRIBUTED (launcher SIGTERM or the
 * collective timeout) rather than hang; let the error end the process so that mpirun ends the job.
 */
export function fitDistributed(model: Sequential, x: Input, y: Labels, options: FitDistributedOptions = {}): History {
  if (!(model instanceof Sequential)) throw typeError(ErrorCode.ARG_TYPE, `fitDistributed: Expected Sequential for model but received ${typeName(model)}`);
  if (!model.optimizer) throw new BlasnetError(ErrorCode.STATE, 'fitDistributed: call compile({ loss, optimizer }) first');
  const { communicator, ...fitOptions } = optionsArg('fitDistributed', options, FIT_DISTRIBUTED_OPTIONS);
  if (communicator !== undefined && !(communicator && typeof communicator === 'object' && typeof communicator.allreduce === 'function')) {
    throw typeError(ErrorCode.ARG_TYPE, `fitDistributed: Expected a Communicator (initDistributed()) for options.communicator but received ${typeName(communicator)}`);
  }
  const c = communicator ?? initDistributed();
  const given = fitOptions.callbacks;
  const callbacks = Array.isArray(given) ? given.filter((cb) => c.isRoot || !(cb && cb.rootOnly)) : given;
  // augment's generator is reseeded alike on every rank; ranks > 0 draw from a stream of their own.
  const augment = fitOptions.augment;
  const own = new Rng(0);
  const rankAugment: FitOptions['augment'] = typeof augment === 'function' && c.rank > 0
    ? (bx, by, rng) => {
      own.reset(replicaMaskSeed(rng.int(0x7fffffff), c.rank));
      augment(bx, by, own);
    }
    : augment;
  return model.fit(x, y, {
    ...fitOptions,
    callbacks,
    augment: rankAugment,
    verbose: c.isRoot ? fitOptions.verbose : false,
    checks: c.isRoot ? fitOptions.checks : false,
    dataParallel: new Replica(model, c),
  });
}
