/**
 * Training callbacks: hooks at epoch and batch boundaries, and the built-in ones (early
 * stopping, reduce-on-plateau, checkpoints, terminate on NaN, a CSV log, a progress bar).
 */
import * as fs from 'fs';
import { optionsArg, show, typeName } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { checkWritable, decodeFile, kindOf, openRegularFileForAppend, writeFileAtomic } from '../io/format';
import { refuseCustomLayers, saveModel } from '../io/model-file';
import type { ModelExtras } from '../io/model-file';
import type { Sequential } from '../model/sequential';
import type { Optimizer } from '../optim';
import { createSchedule } from '../schedules';
import type { Schedule, ScheduleState } from '../schedules';
import { createMetric, validationName } from './metrics';
import type { MetricSpec } from './metrics';

/** What one epoch produced: loss, metrics, their validation counterparts, lr, timing. */
export interface EpochLogs {
  /** 0-based epoch index (the console, csvLogger and checkpoint names show it 1-based). */
  readonly epoch: number;
  readonly loss: number;
  /** The lr of the epoch's last step (also when the schedule steps per step). */
  readonly lr: number;
  /**
   * Metric values by name (accuracy, ...), and validation ones prefixed (valLoss, valAccuracy).
   * Also `batches`, present only when a stop (a callback's, maxSteps, timeLimitMs, fitAsync's
   * signal) ended the epoch before its last batch: the batches it ran. Such an epoch does not
   * step a per-epoch schedule or minDelta's check, and modelCheckpoint writes no checkpoint of it
   * (a run resumed from one would skip the rest of the epoch; `resume` refuses one written by
   * other means).
   */
  readonly [key: string]: number;
}

/** What one batch produced: an object per batch (in fit as in fitAsync), which a callback may keep. */
export interface BatchLogs {
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** Global step (batches since training began). */
  step: number;
  /** Mean loss of this batch (penalties included). */
  loss: number;
  rows: number;
}

/** The training loop as callbacks see it. */
export interface TrainContext {
  readonly model: Sequential;
  readonly optimizer: Optimizer;
  /** The learning-rate schedule fit runs, if any. */
  readonly schedule: Schedule | null;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  /** Asks the loop to stop after the current batch. */
  stop(reason?: string): void;
  /** Why training stopped early, if it did. */
  readonly stopReason: string | null;
  /**
   * The checkpoint training resumed from (fit's `resume`): the epoch count it starts from and the
   * logs of the checkpoint's last epoch, if it holds them; null when training starts afresh.
   */
  readonly resumed?: {
    readonly epoch: number;
    readonly logs: Readonly<Record<string, number>> | null;
    /** The checkpoint's callback states (callbackStates), or null when it holds none. */
    readonly callbacks?: readonly unknown[] | null;
  } | null;
  /**
   * The states of the callbacks that keep one (checkpointState), in their order: what
   * modelCheckpoint stores, so that a run resumed from the checkpoint continues as an
   * uninterrupted one.
   */
  callbackStates?(): CallbackState[];
  /**
   * Whether every epoch's logs hold validation values (valLoss and the compiled metrics' val
   * names): true with validationData or validationSplit, false without; undefined from a
   * training loop that does not say.
   */
  readonly validation?: boolean;
}

/** A callback's state as a checkpoint keeps it: its kind, then plain data and Float32Arrays. */
export interface CallbackState {
  readonly kind: string;
  readonly [key: string]: unknown;
}

/** Hooks the training loop calls; all optional. */
export interface Callback {
  /**
   * Its state at an epoch end, for a checkpoint (modelCheckpoint stores it): earlyStopping keeps
   * its best value, wait and restoreBestWeights's best weights, reduceLrOnPlateau its plateau
   * state. A callback with state across epochs and without this hook restarts on resume.
   */
  checkpointState?(): CallbackState;
  /**
   * Takes back a checkpointState() when training resumes from that checkpoint, before
   * onTrainBegin, which then keeps it. Returns false for a state of another kind (the callbacks
   * differ from the checkpoint's); the callback then starts afresh.
   */
  restoreState?(state: CallbackState): boolean;
  /** Before the first epoch. */
  onTrainBegin?(ctx: TrainContext): void;
  /** Before each epoch (0-based). */
  onEpochBegin?(epoch: number, ctx: TrainContext): void;
  /** After each optimiser step, with the batch's loss and row count (logs of its own each call). */
  onBatchEnd?(logs: BatchLogs, ctx: TrainContext): void;
  /** After each epoch, with its logs (loss, metrics, validation, lr, timing). */
  onEpochEnd?(logs: EpochLogs, ctx: TrainContext): void;
  /** After the last epoch, or after a stop. */
  onTrainEnd?(ctx: TrainContext): void;
  /**
   * In distributed training (fitDistributed), only rank 0 runs it: it writes files or the
   * terminal and decides nothing (the built-in checkpoint, CSV log and progress bar set it).
   */
  readonly rootOnly?: boolean;
  /**
   * It puts weights of its own back when training ends (earlyStopping with restoreBestWeights):
   * fit and fitAsync refuse it together with ema or swa, whose averaged weights it would replace.
   */
  readonly restoresWeights?: boolean;
  /**
   * It writes checkpoints (modelCheckpoint): fit and fitAsync run it after the other callbacks,
   * so that a checkpoint holds the state they leave at that epoch's end (an lr reduceLrOnPlateau
   * lowered, earlyStopping's count), as the next epoch starts from it.
   */
  readonly savesCheckpoints?: boolean;
}

type Mode = 'min' | 'max' | 'auto';

function better(mode: 'min' | 'max', v: number, best: number, minDelta: number): boolean {
  return mode === 'min' ? v < best - minDelta : v > best + minDelta;
}

/** The callbacks in their order, those that write checkpoints moved after the others. @internal */
export function checkpointsLast(callbacks: Callback[]): Callback[] {
  if (!callbacks.some((cb) => cb.savesCheckpoints)) return callbacks;
  return [...callbacks.filter((cb) => !cb.savesCheckpoints), ...callbacks.filter((cb) => cb.savesCheckpoints)];
}

/** The states of the callbacks that keep one, in order (TrainContext.callbackStates). @internal */
export function callbackStates(callbacks: readonly Callback[]): CallbackState[] {
  const out: CallbackState[] = [];
  for (const cb of callbacks) if (typeof cb.checkpointState === 'function') out.push(cb.checkpointState());
  return out;
}

/**
 * Gives each callback that keeps a state the one the checkpoint training resumes from holds for
 * it: the i-th such callback takes the i-th saved state, when it is of its kind. A callback left
 * without one starts afresh, and says so in a process warning (code BLASNET_CALLBACK_STATE): the
 * run may then differ from an uninterrupted one. @internal
 */
export function restoreCallbackStates(where: string, callbacks: readonly Callback[], saved: readonly unknown[] | null | undefined): void {
  let i = 0;
  const afresh: string[] = [];
  for (const cb of callbacks) {
    if (typeof cb.checkpointState !== 'function') continue;
    const s = saved?.[i++];
    const ok = typeof cb.restoreState === 'function' && s !== null && typeof s === 'object' && typeof (s as CallbackState).kind === 'string' &&
      cb.restoreState(s as CallbackState);
    if (!ok) afresh.push(cb.checkpointState().kind);
  }
  if (afresh.length > 0) {
    process.emitWarning(`${where}: the checkpoint holds no state for ${afresh.join(', ')}; ${afresh.length === 1 ? 'it starts' : 'they start'} ` +
      'afresh, so the run may differ from an uninterrupted one', { code: 'BLASNET_CALLBACK_STATE' });
  }
}

/** A number a state holds (NaN and the infinities included), or `fallback`. */
function stateNumber(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}

/**
 * The monitor and mode options shared by the callbacks, checked: a name and 'auto', 'min' or 'max'
 * ('auto' is resolved against the model when training begins: see resolveMode).
 */
function monitorOptions(who: string, options: { monitor?: unknown; mode?: unknown }): { monitor: string; mode: Mode } {
  const monitor = options.monitor ?? 'valLoss';
  if (typeof monitor !== 'string' || monitor === '') {
    throw typeError(ErrorCode.ARG_TYPE, `${who}: Expected a log name for monitor but received ${show(monitor)}`);
  }
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'min' && mode !== 'max') {
    throw rangeError(ErrorCode.ARG_RANGE, `${who}: Expected 'auto', 'min' or 'max' for mode but received ${show(mode)}`);
  }
  return { monitor, mode };
}

/** A boolean option, false when absent. */
function flag(who: string, name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${who}: Expected boolean for ${name} but received ${typeName(v)}`);
  return v;
}

/** A file path argument: a non-empty string. */
function pathArg(who: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') throw typeError(ErrorCode.ARG_TYPE, `${who}: Expected a file path for path but received ${show(path)}`);
  return path;
}

/** The compiled metrics that have a log name (a custom one may not), with their direction as given. */
function namedMetrics(specs: readonly MetricSpec[]): { name: string; higherIsBetter: unknown }[] {
  const out: { name: string; higherIsBetter: unknown }[] = [];
  for (const spec of specs) {
    const m = createMetric(spec);
    if (typeof m.name === 'string' && m.name !== '') out.push({ name: m.name, higherIsBetter: m.higherIsBetter });
  }
  return out;
}

/**
 * 'auto' made 'min' or 'max': when `monitor` is the log name of one of the model's compiled metrics
 * (its name, or the validation one, 'f1' -> 'valF1'), that metric's higherIsBetter decides;
 * otherwise a name with 'acc' in it is 'max' and any other 'min' (loss, valLoss, mse, ...).
 */
function resolveMode(mode: Mode, monitor: string, metrics: readonly MetricSpec[] = []): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  for (const m of namedMetrics(metrics)) {
    if (typeof m.higherIsBetter !== 'boolean') continue;
    // fit's and fitAsync's log names for a metric and its validation value.
    if (monitor === m.name || monitor === validationName(m.name)) return m.higherIsBetter ? 'max' : 'min';
  }
  return /acc/i.test(monitor) ? 'max' : 'min';
}

/**
 * At train begin: a monitor that is a validation log (valLoss, or a compiled metric's val name)
 * in a run without validation data would fail at the first epoch's end, after that epoch had
 * trained; it fails now instead. Any other name may be a log a callback adds, so it is left to
 * the epoch's end.
 */
function expectMonitor(who: string, monitor: string, ctx: TrainContext): void {
  if (ctx.validation !== false) return;
  const names = ['loss', ...namedMetrics(ctx.model.metrics).map((m) => m.name)];
  if (names.some((n) => validationName(n) === monitor)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${who}: monitor ${JSON.stringify(monitor)} is a validation log, and this run has no ` +
      'validation data: pass validationData or validationSplit, or monitor a training log such as "loss"');
  }
}

function monitored(logs: EpochLogs, monitor: string, who: string): number {
  const v = logs[monitor];
  if (typeof v !== 'number') {
    throw rangeError(ErrorCode.ARG_RANGE, `${who}: the logs have no ${JSON.stringify(monitor)}; available: ${Object.keys(logs).join(', ')}`);
  }
  return v;
}

/**
 * Stops training when `monitor` has not improved by more than minDelta for `patience` epochs in
 * a row: at the patience-th epoch without an improvement (the first one when patience is 0 or 1),
 * as Keras' EarlyStopping and Lightning's do, but never at the first epoch a fit runs (Keras
 * stops only when epoch > 0): a NaN there, which is no improvement, leaves the next epoch to decide.
 * With restoreBestWeights, the weights (and running statistics) of the best epoch are put back
 * when training ends for any reason: an early stop, the last epoch, or another callback's stop;
 * so the model fit returns is always the best one seen. When no epoch improved (a NaN monitor
 * throughout), those of the first epoch are put back, as Keras >= 2.11 does. (tf.keras 2.x
 * restored only on an early stop, leaving the last epoch's weights when patience never ran out.)
 * fit and fitAsync refuse restoreBestWeights together with ema or swa (ERR_BLASNET_ARG_RANGE,
 * before any step): the best epoch's raw weights would replace the averaged ones. Defaults:
 * monitor 'valLoss', patience 0, minDelta 0, mode 'auto' (for a compiled metric's log name, 'f1'
 * or 'valF1', max when that metric's higherIsBetter, else min; for other names max when the name
 * has 'acc' in it, else min). As Keras' EarlyStopping.
 */
export function earlyStopping(options: { monitor?: string; patience?: number; minDelta?: number; mode?: Mode; restoreBestWeights?: boolean } = {}): Callback {
  options = optionsArg('earlyStopping', options, { monitor: true, patience: true, minDelta: true, mode: true, restoreBestWeights: true });
  const restoreBestWeights = flag('earlyStopping', 'restoreBestWeights', options.restoreBestWeights);
  const { monitor, mode: given } = monitorOptions('earlyStopping', options);
  let mode = resolveMode(given, monitor);
  const patience = options.patience ?? 0;
  if (!Number.isInteger(patience) || patience < 0) throw rangeError(ErrorCode.ARG_RANGE, `earlyStopping: Expected non-negative integer for patience but received ${show(patience)}`);
  const minDelta = options.minDelta ?? 0;
  if (typeof minDelta !== 'number' || Number.isNaN(minDelta)) {
    throw rangeError(ErrorCode.ARG_RANGE, `earlyStopping: Expected number for minDelta but received ${show(minDelta)}`);
  }
  let best = mode === 'min' ? Infinity : -Infinity;
  let wait = 0;
  let bestWeights: Float32Array | null = null;
  let bestBuffers: Float32Array[] = [];
  // Epochs seen since training began (or, resumed with a checkpoint's state, since the run it
  // continues began): the first one never stops it.
  let seen = 0;
  // Set by restoreState for the onTrainBegin of a resumed run, which keeps the state.
  let restored = false;
  return {
    restoresWeights: restoreBestWeights,
    checkpointState() {
      return {
        kind: 'earlyStopping', monitor, best, wait, seen,
        ...(restoreBestWeights && bestWeights ? { bestWeights, bestBuffers } : {}),
      };
    },
    restoreState(state) {
      if (state.kind !== 'earlyStopping' || state.monitor !== monitor) return false;
      const weights = state.bestWeights;
      const buffers = state.bestBuffers;
      if (restoreBestWeights && !(weights instanceof Float32Array && Array.isArray(buffers) && buffers.every((b) => b instanceof Float32Array))) {
        return false;
      }
      best = stateNumber(state.best, best);
      wait = stateNumber(state.wait, 0);
      seen = stateNumber(state.seen, 0);
      bestWeights = restoreBestWeights ? (weights as Float32Array).slice() : null;
      bestBuffers = restoreBestWeights ? (buffers as Float32Array[]).map((b) => b.slice()) : [];
      restored = true;
      return true;
    },
    onTrainBegin(ctx) {
      expectMonitor('earlyStopping', monitor, ctx);
      mode = resolveMode(given, monitor, ctx.model.metrics);
      if (restored) {
        restored = false;
        const buffers = ctx.model.buffers();
        if (bestWeights && (bestWeights.length !== ctx.model.params.length || bestBuffers.length !== buffers.length ||
          bestBuffers.some((b, i) => b.length !== buffers[i].data.length))) {
          throw new BlasnetError(ErrorCode.STATE, "earlyStopping: the checkpoint's best weights are not this model's");
        }
        return;
      }
      best = mode === 'min' ? Infinity : -Infinity;
      wait = 0;
      seen = 0;
      bestWeights = null;
    },
    onEpochEnd(logs, ctx) {
      const v = monitored(logs, monitor, 'earlyStopping');
      const first = seen++ === 0;
      const improved = better(mode, v, best, Math.abs(minDelta));
      // The first epoch's weights stand until an epoch improves on them.
      if (restoreBestWeights && (improved || bestWeights === null)) {
        bestWeights = ctx.model.params.slice();
        bestBuffers = ctx.model.buffers().map((b) => b.data.slice());
      }
      if (improved) {
        best = v;
        wait = 0;
      } else if (++wait >= patience && !first) {
        ctx.stop(`earlyStopping: ${monitor} did not improve for ${wait} epochs (best ${best})`);
      }
    },
    onTrainEnd(ctx) {
      if (restoreBestWeights && bestWeights) {
        ctx.model.params.set(bestWeights);
        ctx.model.buffers().forEach((b, i) => b.data.set(bestBuffers[i]));
      }
    },
  };
}

/**
 * Multiplies the learning rate by `factor` when `monitor` stops improving, with the semantics
 * of torch.optim.lr_scheduler.ReduceLROnPlateau (patience 10, factor 0.1, threshold 1e-4 'rel',
 * cooldown 0, minLr 0, eps 1e-8). Applied at epoch ends, to the optimiser's current lr. mode
 * 'auto' (the default, as Keras' ReduceLROnPlateau) is earlyStopping's: a compiled metric's
 * higherIsBetter, else max for a name with 'acc' in it and min for any other.
 */
export function reduceLrOnPlateau(options: { monitor?: string; mode?: Mode; factor?: number; patience?: number; threshold?: number;
  thresholdMode?: 'rel' | 'abs'; cooldown?: number; minLr?: number; eps?: number } = {}): Callback {
  options = optionsArg('reduceLrOnPlateau', options, {
    monitor: true, mode: true, factor: true, patience: true, threshold: true, thresholdMode: true, cooldown: true, minLr: true, eps: true,
  });
  const { monitor, mode: given } = monitorOptions('reduceLrOnPlateau', { monitor: options.monitor, mode: options.mode });
  const { monitor: _m, mode: _mode, ...plateau } = options;
  void _m, void _mode;
  // The schedule's own checks, now rather than when training begins.
  createSchedule({ name: 'reduceOnPlateau', mode: resolveMode(given, monitor), ...plateau }, 1);
  let schedule: Schedule | null = null;
  // The lr the plateau rule started from, and a checkpoint's state of it for a resumed run.
  let startLr = 0;
  let pending: { lr: number; state: ScheduleState } | null = null;
  return {
    checkpointState() {
      return { kind: 'reduceLrOnPlateau', monitor, startLr, schedule: schedule ? schedule.state() : null };
    },
    restoreState(state) {
      if (state.kind !== 'reduceLrOnPlateau' || state.monitor !== monitor || typeof state.startLr !== 'number') return false;
      if (state.schedule === null || typeof state.schedule !== 'object') return false;
      pending = { lr: state.startLr, state: state.schedule as ScheduleState };
      return true;
    },
    onTrainBegin(ctx) {
      expectMonitor('reduceLrOnPlateau', monitor, ctx);
      const spec = { name: 'reduceOnPlateau' as const, mode: resolveMode(given, monitor, ctx.model.metrics), ...plateau };
      if (pending) {
        const { lr, state } = pending;
        pending = null;
        startLr = lr;
        schedule = createSchedule(spec, lr);
        schedule.load(state);
        return;
      }
      startLr = ctx.optimizer.lr;
      schedule = createSchedule(spec, startLr);
    },
    onEpochEnd(logs, ctx) {
      const s = schedule as Schedule;
      // The plateau rule scales the lr it started from; follow any change made elsewhere.
      const before = s.lr;
      const after = s.step(monitored(logs, monitor, 'reduceLrOnPlateau'));
      if (after !== before) ctx.optimizer.lr = (ctx.optimizer.lr * after) / before;
    },
  };
}

/**
 * Saves the model (with optimiser state and the epoch's logs) to `path` at epoch ends: every
 * `every` epochs, or only when `monitor` improves (saveBestOnly); not at the end of an epoch a
 * stop cut short (EpochLogs.batches), whose checkpoint no run could resume from as the
 * uninterrupted one would go on. Every `{epoch}` in the path is
 * replaced by the epoch number. Writes are atomic. When training resumes from a checkpoint, a
 * saveBestOnly callback starts from the best value already saved: the checkpoint's own, or that
 * of the file it writes (a path without `{epoch}`) if better, so a worse resumed epoch does not
 * replace the best model of the run before the interruption (Keras's initial_value_threshold).
 */
export function modelCheckpoint(path: string, options: { monitor?: string; mode?: Mode; saveBestOnly?: boolean; every?: number } = {}): Callback {
  pathArg('modelCheckpoint', path);
  options = optionsArg('modelCheckpoint', options, { monitor: true, mode: true, saveBestOnly: true, every: true });
  const saveBestOnly = flag('modelCheckpoint', 'saveBestOnly', options.saveBestOnly);
  const every = options.every ?? 1;
  if (!Number.isInteger(every) || every < 1) throw rangeError(ErrorCode.ARG_RANGE, `modelCheckpoint: Expected positive integer for every but received ${show(every)}`);
  const { monitor, mode: given } = monitorOptions('modelCheckpoint', options);
  let mode = resolveMode(given, monitor);
  let best = mode === 'min' ? Infinity : -Infinity;
  return {
    rootOnly: true,
    savesCheckpoints: true,
    onTrainBegin(ctx) {
      if (saveBestOnly) expectMonitor('modelCheckpoint', monitor, ctx);
      // A model no file can hold, or a path that cannot be written, fails now, not after the first epoch has trained.
      refuseCustomLayers(ctx.model, 'modelCheckpoint');
      checkWritable(path.split('{epoch}').join(String((ctx.resumed?.epoch ?? 0) + 1)));
      // The best value carries over to a later fit, unless the direction has changed.
      const now = resolveMode(given, monitor, ctx.model.metrics);
      if (now !== mode) best = now === 'min' ? Infinity : -Infinity;
      mode = now;
      const resumed = ctx.resumed;
      if (saveBestOnly && resumed) {
        const saved = path.includes('{epoch}') ? undefined : savedLog(path, monitor);
        for (const v of [resumed.logs?.[monitor], saved]) {
          if (typeof v === 'number' && better(mode, v, best, 0)) best = v;
        }
      }
    },
    onEpochEnd(logs, ctx) {
      // An epoch a stop cut short is no point a run can resume from (EpochLogs.batches).
      if (logs.batches !== undefined) return;
      if (saveBestOnly) {
        const v = monitored(logs, monitor, 'modelCheckpoint');
        if (!better(mode, v, best, 0)) return;
        best = v;
      } else if ((logs.epoch + 1) % every !== 0) {
        return;
      }
      saveModel(path.split('{epoch}').join(String(logs.epoch + 1)), ctx.model, checkpointOf(ctx, logs));
    },
  };
}

/**
 * The `monitor` log of the checkpoint at `file`, if there is one there that holds it; undefined
 * for a missing file, another kind of file or one that does not load (it is written over as before).
 */
function savedLog(file: string, monitor: string): number | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    // The checksummed document alone: its metadata, without building the model it holds.
    const logs = (decodeFile(file) as { metadata?: { logs?: Record<string, unknown> } } | null)?.metadata?.logs;
    const v = logs?.[monitor];
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The lowest training loss of the whole epochs so far, which fit's minDelta compares each epoch's
 * with, by the training context of a run that has minDelta: a checkpoint keeps it (metadata
 * `minDeltaBest`), so that a resumed run stops where the uninterrupted one would.
 * @internal
 */
export const minDeltaBests = new WeakMap<TrainContext, { best: number }>();

/**
 * What a checkpoint holds besides the model: optimiser and schedule state, the dropout stream,
 * and the epoch count, which is what fit's `resume` option needs to continue identically.
 */
export function checkpointOf(ctx: TrainContext, logs: EpochLogs): ModelExtras {
  const states = ctx.callbackStates?.() ?? [];
  const best = minDeltaBests.get(ctx)?.best;
  return {
    optimizer: ctx.optimizer.state(),
    schedule: ctx.schedule ? ctx.schedule.state() : null,
    metadata: {
      epoch: logs.epoch + 1, maskState: ctx.model.maskState(), logs: { ...logs },
      ...(states.length > 0 ? { callbacks: states } : {}),
      ...(best !== undefined && Number.isFinite(best) ? { minDeltaBest: best } : {}),
    },
  };
}

/** Stops training as soon as a batch loss is NaN or infinite. */
export function terminateOnNaN(): Callback {
  return {
    onBatchEnd(logs, ctx) {
      if (!Number.isFinite(logs.loss)) ctx.stop(`terminateOnNaN: loss ${logs.loss} at epoch ${logs.epoch + 1}, batch ${logs.batch + 1}`);
    },
  };
}

/**
 * Appends one CSV row per epoch (epoch, loss, metrics, validation, lr, time) to `path`. The epoch
 * column is 1-based, as progressBar prints it and modelCheckpoint names files ("epoch 3/10" is
 * row epoch=3); the logs callbacks receive keep PyTorch's and Keras's 0-based index. The file is
 * emptied when training begins (kept, with `append`); when training resumes from a checkpoint, it
 * keeps the rows of the epochs up to the checkpoint's and the run's rows follow them, as an
 * uninterrupted run would have written the file. Only a regular file (or a symbolic link to
 * one) is written: a directory, FIFO, socket or device is ERR_BLASNET_IO naming it, here and at
 * every write, as is any write that fails.
 */
export function csvLogger(path: string, options: { append?: boolean } = {}): Callback {
  pathArg('csvLogger', path);
  options = optionsArg('csvLogger', options, { append: true });
  const append = flag('csvLogger', 'append', options.append);
  const fail = (e: unknown): never => {
    const message = (e as Error).message;
    throw new BlasnetError(ErrorCode.IO, `csvLogger: ${message.includes(path) ? message : `${path}: ${message}`}`);
  };
  // Appends `text` (a header first when the file is empty, or always without `append`).
  const write = (text: string, header: string | null, truncate = false) => {
    let opened: { fd: number; size: number } | undefined;
    try {
      opened = openRegularFileForAppend(path, truncate);
      const out = Buffer.from(`${header !== null && (!append || opened.size === 0) ? header : ''}${text}`, 'utf8');
      try {
        // A write may take part of the row (a disk filling up): the rest follows, or it fails.
        for (let off = 0; off < out.length;) {
          const n = fs.writeSync(opened.fd, out, off, out.length - off);
          if (n <= 0) throw new Error(`${path}: cannot write: short write, ${off} of ${out.length} bytes written (is the disk full?)`);
          off += n;
        }
      } catch (e) {
        // No half row stays behind: the file goes back to the rows it had.
        try {
          fs.ftruncateSync(opened.fd, opened.size);
        } catch {
          // The write's error is the one to report.
        }
        throw e;
      }
    } catch (e) {
      fail(e);
    } finally {
      if (opened) fs.closeSync(opened.fd);
    }
  };
  let found: fs.Stats | null = null;
  try {
    found = fs.statSync(path);
  } catch {
    // Not there yet; any other failure is the first write's to report.
  }
  if (found && !found.isFile()) fail(new Error(`${path}: cannot write: it is a ${kindOf(found)}, not a regular file`));
  let keys: string[] | null = null;
  // The epoch count of the checkpoint a resumed run started from, until its first row is written.
  let resumedAt: number | null = null;
  return {
    rootOnly: true,
    onTrainBegin(ctx) {
      keys = null;
      resumedAt = !append && ctx.resumed ? ctx.resumed.epoch : null;
      // A resumed run keeps the rows of the epochs before its checkpoint (see onEpochEnd).
      write('', null, !append && resumedAt === null);
    },
    onEpochEnd(logs) {
      let header: string | null = null;
      if (!keys) {
        keys = Object.keys(logs);
        header = `${keys.join(',')}\n`;
      }
      const row = keys.map((k) => (k === 'epoch' ? String(logs.epoch + 1) : logs[k] === undefined ? '' : String(logs[k]))).join(',');
      if (resumedAt !== null && header !== null) {
        // The log as an uninterrupted run would have it: the rows of the epochs up to the
        // checkpoint's, then this run's. Rows of epochs trained after the checkpoint by the run
        // that was interrupted go; a file of other columns is started afresh, as without resume.
        const kept = keptRows(path, header, resumedAt);
        resumedAt = null;
        try {
          writeFileAtomic(path, Buffer.from(`${header}${kept}${row}\n`, 'utf8'));
        } catch (e) {
          fail(e);
        }
        return;
      }
      write(`${row}\n`, header);
    },
  };
}

/**
 * The data rows of the CSV log at `file` whose epoch (its first column) is at most `upTo`, if its
 * header is `header`; else ''. A log whose first row is epoch 0 was written by a release that
 * numbered epochs from 0: its rows are renumbered from 1, as this run numbers the rows it adds.
 */
function keptRows(file: string, header: string, upTo: number): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  if (!text.startsWith(header)) return '';
  const rows = text.slice(header.length).split('\n').filter((line) => line !== '').map((line) => {
    const cut = line.indexOf(',');
    return { line, cell: cut < 0 ? line : line.slice(0, cut), rest: cut < 0 ? '' : line.slice(cut) };
  });
  if (rows.length > 0 && rows[0].cell === '0') {
    return rows.filter((r) => Number(r.cell) + 1 <= upTo).map((r) => `${Number(r.cell) + 1}${r.rest}\n`).join('');
  }
  return rows.filter((r) => Number(r.cell) <= upTo).map((r) => `${r.line}\n`).join('');
}

/**
 * A method built-in callbacks may have under this key, which fit and fitAsync call when training
 * throws: what onTrainEnd would release and nothing else will (progressBar's redraw timer, which
 * would otherwise keep the process alive after the error, so that mpirun never ends the job).
 * @internal
 */
export const ON_FAILURE: unique symbol = Symbol('blasnet.onFailure');

/** Calls ON_FAILURE on the callbacks that have it; what they throw is dropped (the training error is the one to report). @internal */
export function releaseOnFailure(callbacks: unknown): void {
  if (!Array.isArray(callbacks)) return;
  for (const cb of callbacks) {
    try {
      (cb as { [ON_FAILURE]?: () => void } | null)?.[ON_FAILURE]?.();
    } catch {
      // Nothing to add to the error that ended training.
    }
  }
}

/**
 * Progress while training. On a terminal, a bar per epoch (cli-progress) with the running loss,
 * samples per second and ETA; elsewhere (a pipe, a log, CI) one line per epoch. `stream`
 * defaults to stdout.
 */
export function progressBar(options: { stream?: NodeJS.WritableStream; quiet?: boolean } = {}): Callback {
  options = optionsArg('progressBar', options, { stream: true, quiet: true });
  const quiet = flag('progressBar', 'quiet', options.quiet);
  const stream = options.stream ?? process.stdout;
  if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `progressBar: Expected a writable stream for stream but received ${typeName(stream)}`);
  }
  // Loaded on use so that library users who never show progress never load it.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  let bar: import('cli-progress').SingleBar | null = null;
  let epochStart = 0n;
  let rows = 0;
  let lossSum = 0;
  // Four decimals for every metric, so that the columns of successive lines line up.
  const fmt = (v: number) => (Math.abs(v) >= 1e4 ? v.toFixed(1) : v.toFixed(4));
  return {
    rootOnly: true,
    onEpochBegin(epoch, ctx) {
      if (quiet) return;
      epochStart = process.hrtime.bigint();
      rows = 0;
      lossSum = 0;
      if ((stream as NodeJS.WriteStream).isTTY) {
        bar = new cliProgress.SingleBar({
          stream,
          format: `epoch ${String(epoch + 1).padStart(String(ctx.epochs).length)}/${ctx.epochs} [{bar}] {value}/{total} | loss {loss} | {rate} samples/s | ETA {eta_formatted}`,
          barsize: 24,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
        }, cliProgress.Presets.shades_classic);
        bar.start(ctx.stepsPerEpoch, 0, { loss: '-', rate: '-' });
      }
    },
    onBatchEnd(logs) {
      if (quiet) return;
      rows += logs.rows;
      lossSum += logs.loss * logs.rows;
      if (bar && (logs.batch % 10 === 0)) {
        const s = Number(process.hrtime.bigint() - epochStart) / 1e9;
        bar.update(logs.batch + 1, { loss: fmt(lossSum / rows), rate: Math.round(rows / Math.max(s, 1e-9)) });
      }
    },
    onEpochEnd(logs, ctx) {
      if (quiet) return;
      if (bar) {
        bar.update(ctx.stepsPerEpoch);
        bar.stop();
        bar = null;
      }
      const parts = Object.entries(logs)
        .filter(([k]) => !['epoch', 'seconds', 'samplesPerSecond', 'lr'].includes(k))
        .map(([k, v]) => `${k} ${fmt(v)}`);
      stream.write(`epoch ${String(logs.epoch + 1).padStart(String(ctx.epochs).length)}/${ctx.epochs}  ${parts.join('  ')}  ` +
        `lr ${logs.lr.toExponential(2)}  ${logs.seconds.toFixed(1)}s  ${Math.round(logs.samplesPerSecond)} samples/s\n`);
    },
    onTrainEnd() {
      if (bar) bar.stop();
    },
    [ON_FAILURE]() {
      if (bar) bar.stop();
      bar = null;
    },
  } as Callback;
}
