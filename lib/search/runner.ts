/**
 * Trial runners: where a search's trials execute. The search hands a runner one trial at a time,
 * up to `concurrency` at once, and awaits each result; a runner on the main thread, one over a
 * pool of worker threads, and (later) one over a job queue all fit the same interface.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { BackendName } from '../backend/select';
import { BlasnetError, ErrorCode } from '../errors';
import { decodeModel } from '../io/model-file';
import type { Sequential } from '../model/sequential';
import { failedRow, runTrial } from './trial';
import type { BuildFunction, SearchMetric, Trial, TrialData, TrialEnv, TrialResult } from './trial';

/** Runs trials; `run` never rejects for a trial's own failure (that is a 'failed' row). */
export interface TrialRunner {
  /** How many trials it runs at once. */
  readonly concurrency: number;
  /** Runs one trial; resolves with its row (a failed or diverged trial is a row, not a rejection). */
  run(trial: Trial): Promise<TrialResult>;
  /** Stops everything it runs (workers are terminated) and frees its resources. */
  close(): Promise<void>;
  /**
   * Retrains a row's configuration on all the data where the trials ran (worker threads, a
   * queue's workers), or resolves null where it cannot (a build's layer of its own, which no
   * model file carries back); without it, or on null, the search retrains on the calling thread.
   */
  refit?(best: TrialResult): Promise<Sequential | null>;
}

/**
 * Runs trials one after another on the calling thread, yielding to the event loop between trials:
 * each trial starts after the one before it has ended and a turn of the loop has passed (timers,
 * I/O, an abort), and once the runner is closed the trials still waiting end as 'failed' rows
 * without training.
 */
export function sequentialRunner(data: TrialData, env: TrialEnv): TrialRunner {
  let previous: Promise<unknown> = Promise.resolve();
  let closed = false;
  return {
    concurrency: 1,
    run(trial) {
      // A stage hands over all its trials at once; each waits for the one before it.
      const mine = previous.then(async () => {
        await new Promise((r) => setImmediate(r));
        return closed ? failedRow(trial, 'the search was stopped before this trial ran') : runTrial(trial, data, env);
      });
      previous = mine.catch(() => undefined);
      return mine;
    },
    async close() {
      closed = true;
    },
  };
}

/** What a search worker is given at start (plain data; x, y and folds on shared memory). */
export interface SearchWorkerInput {
  data: TrialData;
  backend: BackendName;
  threads: number;
  build: { module: string; name: string } | null;
  metric: SearchMetric;
  trialTimeMs?: number;
}

const WORKER = path.join(__dirname, 'worker.js');

/**
 * The kernel threads each of `workers` workers gets so that workers x threads <= cores:
 * floor(cores / workers), at least 1.
 */
export function threadsPerWorker(workers: number, cores = os.availableParallelism?.() ?? os.cpus().length): number {
  return Math.max(1, Math.floor(cores / workers));
}

/** A message to a search worker: a trial to run, or a row's configuration to retrain on all rows. */
export type SearchWorkerMessage = { kind: 'trial'; trial: Trial } | { kind: 'refit'; best: TrialResult };

/** A worker's retrain: the model file and its dropout stream, or the error and its code. */
interface RefitReply {
  bytes?: Uint8Array;
  maskState?: number[];
  error?: string;
  code?: string;
}

/** A retrain as a model file carries it: the file's bytes and the model's dropout stream (which no file holds). */
export interface RefitFile {
  bytes: Uint8Array;
  maskState: number[];
}

/** Trial runner over worker threads that can also retrain a row in a worker (as a model file). */
export interface ThreadRunner extends TrialRunner {
  /**
   * The row's configuration retrained on all the data in a worker thread, as a model file; null
   * when the model holds what a file does not carry (fileCarries), which the searching thread
   * then retrains itself. A failed retrain rejects with its message and code.
   */
  refitFile(best: TrialResult): Promise<RefitFile | null>;
}

/**
 * Runs trials in `workers` worker threads that share `data` (its arrays must be on
 * SharedArrayBuffers: every worker reads the same single copy). Each worker pins its native
 * backend to `threads` kernel threads. A worker that dies mid-trial makes that trial 'failed'
 * and is replaced.
 */
export function workerRunner(data: TrialData, options: {
  workers: number; threads: number; backend: BackendName; build: { module: string; name: string } | null; metric: SearchMetric; trialTimeMs?: number;
}): ThreadRunner {
  for (const a of [data.x, data.y, data.folds]) {
    if (!(a.buffer instanceof SharedArrayBuffer)) throw new BlasnetError(ErrorCode.INTERNAL, 'workerRunner: the trial data must be on shared memory');
  }
  const input: SearchWorkerInput = {
    data, backend: options.backend, threads: options.threads, build: options.build, metric: options.metric,
    ...(options.trialTimeMs !== undefined ? { trialTimeMs: options.trialTimeMs } : {}),
  };
  interface Job { message: SearchWorkerMessage; done: (reply: unknown) => void; lost: (why: string) => void }
  interface Slot { worker: Worker; job: Job | null }
  const slots: Slot[] = [];
  const waiting: Job[] = [];
  let closed = false;

  const dispatch = (slot: Slot) => {
    const next = waiting.shift();
    if (!next) return;
    slot.job = next;
    slot.worker.postMessage(next.message);
  };
  const spawn = (): Slot => {
    const slot: Slot = { worker: new Worker(WORKER, { workerData: input }), job: null };
    slot.worker.on('message', (reply: unknown) => {
      const job = slot.job;
      slot.job = null;
      job?.done(reply);
      dispatch(slot);
    });
    const lost = (why: string) => {
      if (closed) return;
      const job = slot.job;
      slot.job = null;
      const i = slots.indexOf(slot);
      if (i >= 0) slots[i] = spawn();
      job?.lost(why);
      if (i >= 0) dispatch(slots[i]);
    };
    slot.worker.on('error', (e) => lost(`the search worker failed: ${e.message}`));
    slot.worker.on('exit', (code) => lost(`the search worker exited with code ${code}`));
    return slot;
  };
  for (let i = 0; i < options.workers; i++) slots.push(spawn());
  const submit = (job: Job) => {
    waiting.push(job);
    const idle = slots.find((s) => s.job === null);
    if (idle) dispatch(idle);
  };
  const refitReply = (best: TrialResult): Promise<RefitReply> => {
    if (closed) return Promise.reject(new BlasnetError(ErrorCode.STATE, 'workerRunner: closed'));
    return new Promise((resolve, reject) => {
      submit({
        message: { kind: 'refit', best },
        done: (r) => resolve(r as RefitReply),
        lost: (why) => reject(new BlasnetError(ErrorCode.STATE, `search: retraining the best configuration failed: ${why}`)),
      });
    });
  };

  return {
    concurrency: options.workers,
    run(trial) {
      if (closed) return Promise.reject(new BlasnetError(ErrorCode.STATE, 'workerRunner: closed'));
      return new Promise<TrialResult>((resolve) => {
        submit({
          message: { kind: 'trial', trial },
          done: (r) => resolve(r as TrialResult),
          lost: (why) => resolve(failedRow(trial, why)),
        });
      });
    },
    async refitFile(best) {
      const reply = await refitReply(best);
      if (reply.bytes) return { bytes: reply.bytes, maskState: reply.maskState ?? [] };
      if (reply.code === ErrorCode.UNSUPPORTED) return null;
      // The error as the calling thread's retrain reports it (its message and code).
      throw new Error(reply.error ?? 'no model');
    },
    // Off the calling thread, whose event loop a retrain on all the data would hold for as long.
    async refit(best) {
      const file = await this.refitFile(best);
      return file && modelFromFile(file, options.backend);
    },
    async close() {
      closed = true;
      waiting.length = 0;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

/** The model a retrain's file holds, with its dropout stream. */
export function modelFromFile(file: RefitFile, backend: BackendName, source?: string): Sequential {
  const { model } = decodeModel(file.bytes, { backend, ...(source ? { source } : {}) });
  if (file.maskState.length > 0) model.setMaskState(file.maskState);
  return model;
}

/** The trial environment on the main thread. */
export function localEnv(build: BuildFunction, metric: SearchMetric, backend: BackendName, trialTimeMs?: number): TrialEnv {
  return { build, metric, backend, ...(trialTimeMs !== undefined ? { trialTimeMs } : {}) };
}
