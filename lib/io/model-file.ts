/**
 * Saving and loading models: one versioned file (lib/io/format.ts) holding the architecture, the
 * weights and running statistics, and optionally optimiser and schedule state, preprocessing and
 * training metadata. Written atomically; validated completely on load.
 */
import { backendOption } from '../backend/select';
import type { BackendName } from '../backend/select';
import type { Backend } from '../backend/types';
import { checkOptionKeys, optionsArg } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { Activation, BatchNorm, Dense, Dropout, firstCustomLayer, GaussianNoise, layerFromConfig, PReLU } from '../layers';
import type { Layer, LayerConfig } from '../layers';
import { layerIds } from '../layers/check';
import { Sequential } from '../model/sequential';
import type { ModelConfig } from '../model/sequential';
import { decode, decodeFile, encode, tensorLength, writeFileAtomic } from './format';
import { checkPreprocessedWidth } from '../data/input';
import { preprocessorFromJSON } from '../data/preprocess';
import { TabularPreprocessor, tableOutputsMismatch } from '../data/tabular';
import { asLoaded, savedLossSpec } from '../model/loss';
import type { BuiltInLossSpec, LossSpec } from '../model/loss';
import { OPTIMIZER_NAMES } from '../optim';
import type { OptimizerSpec, OptimizerState } from '../optim';
import type { MetricSpec } from '../train/metrics';

/** What a model file holds besides the model itself. Every field is optional, plain data. */
export interface ModelExtras {
  /**
   * Optimiser state, as its state() returns it (an optimiser given itself is saved as its
   * state()). Its arena is stored in the binary payload, not as
   * base64 text, so loadModel gives it back as a Float32Array (which load() takes as well).
   * Default: the compiled optimiser's state once it has taken a step (Keras's include_optimizer),
   * so that a loaded model resumes where it was; null leaves it out.
   */
  optimizer?: unknown;
  /** Schedule state, as its state() returns it (a schedule given itself is saved as its state()). */
  schedule?: unknown;
  /**
   * The preprocessing to store. Default: the model's own numeric scaler (setPreprocessing), which
   * loadModel attaches to the model again. Or a TabularPreprocessor (or its toJSON()), which
   * loadModel returns as `preprocessor`: it turns raw table rows into the model's input. A model
   * with its own scaler cannot also store another preprocessing (ERR_BLASNET_STATE): every input
   * would be transformed twice. A scaler or table preprocessing that returns another width than
   * the model's inputSize is ERR_BLASNET_SHAPE.
   */
  preprocessing?: unknown;
  /** Anything else: training history, dataset, dates. */
  metadata?: Record<string, unknown>;
  /**
   * The compile settings besides the loss (which the architecture holds): the optimiser's name
   * and options and the built-in metrics. Default the model's own; loadModel compiles the loaded
   * model with them (and the saved optimiser state), so it evaluates and trains on without
   * compile(). A custom loss or metric object is not saved.
   */
  compile?: SavedCompile;
  /** The record keys the model reads as input columns (setInputColumns). Default the model's own. */
  columns?: readonly string[];
}

/** Compile settings as a model file holds them. */
export interface SavedCompile {
  optimizer: { name: string } & Record<string, unknown>;
  metrics: MetricSpec[];
}

function compileOf(model: Sequential): SavedCompile | undefined {
  const opt = model.optimizer;
  if (!opt || !model.lossSpec || model.lossSpec.custom) return undefined;
  const metrics = model.metrics.filter((m) => typeof m === 'string' || typeof (m as { update?: unknown }).update !== 'function');
  return { optimizer: { ...opt.options, name: opt.name }, metrics: metrics.map((m) => (typeof m === 'string' ? m : { ...m })) as MetricSpec[] };
}

interface ModelDocument extends ModelExtras {
  format: 'blasnet-model';
  library: string;
  model: ModelConfig;
  params: Float32Array;
  buffers: { name: string; data: Float32Array }[];
}

const LIBRARY_VERSION: string = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/** The `type`s of the preprocessing loadModel attaches to the model itself (setPreprocessing). */
const SCALERS: readonly string[] = ['Standardizer', 'MinMaxScaler', 'PCA'];

/** The most layers a model file may hold (written or read). */
export const MAX_LAYERS = 4096;

/** The bytes of a model file (see saveModel); fails as saveModel does, writing nothing. */
export function encodeModel(model: Sequential, extras: ModelExtras = {}): Buffer {
  return encodeDocument(model, extras, 'encodeModel');
}

function encodeDocument(model: Sequential, extras: ModelExtras, where: string): Buffer {
  return encode(modelDocument(model, extras, where), where);
}

const EXTRAS_KEYS: OptionKeys<ModelExtras> = { optimizer: true, schedule: true, preprocessing: true, metadata: true, compile: true, columns: true };

/**
 * ERR_BLASNET_UNSUPPORTED for a model with a layer of one's own (a Layer subclass): a model file
 * rebuilds its layers from their configs, which only blasnet's own kinds have a rule for, so the
 * file could be written but never read back (checkpoints that cannot resume).
 * @internal
 */
export function refuseCustomLayers(model: Sequential, where: string): void {
  const i = firstCustomLayer(model.layers);
  if (i >= 0) {
    const l = model.layers[i];
    throw new BlasnetError(ErrorCode.UNSUPPORTED,
      `${where}: layer ${i} (${JSON.stringify(l.name ?? l.kind)}, kind ${JSON.stringify(l.kind)}) is a layer of your own, which loadModel could not rebuild; ` +
      'model files hold the built-in layers (dense, activation, batchNorm, prelu, dropout, gaussianNoise). Keep its weights with ' +
      'getWeights() or saveSafetensors and rebuild the model in code');
  }
}

function modelDocument(model: Sequential, extras: ModelExtras, where: string): ModelDocument {
  if (!(model instanceof Sequential)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Sequential model but received ${describe(model)}`);
  if (extras === null || typeof extras !== 'object' || Array.isArray(extras)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an extras object but received ${describe(extras)}`);
  // A key outside ModelExtras would be lost on load, or replace a part of the document (format, params).
  checkOptionKeys(where, extras, EXTRAS_KEYS);
  if (model.layers.length > MAX_LAYERS) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected at most ${MAX_LAYERS} layers but the model has ${model.layers.length}`);
  }
  refuseCustomLayers(model, where);
  // While fitAsync trains, the weights are consistent only when its worker waits for callbacks.
  model.notBusy(where, true);
  // Names are fixed when the model is built (Layer.name), but a layer of one's own may keep its
  // name in a property of its own: a clash would make a file that does not load.
  layerIds(where, model.layers);
  const optimizer = extras.optimizer === null ? undefined
    : stateOf(extras.optimizer) ?? (model.optimizer && model.optimizer.stepCount > 0 ? model.optimizer.state() : undefined);
  const compile = extras.compile ?? compileOf(model);
  refuseForeignState(where, model, optimizer, compile);
  const doc: ModelDocument = {
    format: 'blasnet-model',
    library: LIBRARY_VERSION,
    model: model.config(),
    params: model.params.slice(),
    buffers: model.buffers().map((b) => ({ name: b.name, data: b.data.slice() })),
    ...extras,
    optimizer: arenaAsTensor(optimizer),
    schedule: stateOf(extras.schedule),
    preprocessing: preprocessingJSON(model, extras.preprocessing, where),
    compile,
    columns: extras.columns ?? model.inputColumns ?? undefined,
  };
  return doc;
}

/**
 * Whether a model file carries `model` whole: built-in layers, a built-in loss and metrics given by
 * name or spec, a built-in optimiser (a custom loss, metric object or optimiser of one's own is
 * not saved, and a layer of one's own is refused).
 * @internal
 */
export function fileCarries(model: Sequential): boolean {
  if (firstCustomLayer(model.layers) >= 0 || model.lossSpec?.custom) return false;
  if (model.metrics.some((m) => typeof m !== 'string' && typeof (m as { update?: unknown }).update === 'function')) return false;
  const opt = model.optimizer;
  return !opt || (OPTIMIZER_NAMES as readonly string[]).includes(opt.name);
}

/**
 * An optimiser state that belongs to another model (another parameter count) or to another
 * optimiser than the compile settings saved with it: ERR_BLASNET_ARG_RANGE at save, rather than a
 * file loadModel would refuse.
 */
function refuseForeignState(where: string, model: Sequential, state: unknown, compile: SavedCompile | undefined): void {
  if (!state || typeof state !== 'object') return;
  const s = state as { name?: unknown; size?: unknown };
  // A built-in optimiser's state; other data (extras are any JSON-able data) is stored as it is.
  if (typeof s.name !== 'string' || !(OPTIMIZER_NAMES as readonly string[]).includes(s.name)) return;
  if (typeof s.size === 'number' && s.size !== model.params.length) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: the optimiser state is of ${s.size} parameters and the model has ${model.params.length}; save a model with its own optimiser's state`);
  }
  const named = (compile as { optimizer?: { name?: unknown } } | undefined)?.optimizer?.name;
  if (typeof named === 'string' && s.name !== named) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: the optimiser state is ${JSON.stringify(s.name)}'s and the compile settings saved with it name ${JSON.stringify(named)}`);
  }
}

/** An optimiser or schedule given itself instead of its state(): its state(), which is what a file holds. */
function stateOf(v: unknown): unknown {
  return v !== null && typeof v === 'object' && typeof (v as { state?: unknown }).state === 'function' ? (v as { state(): unknown }).state() : v;
}

/**
 * An optimiser state (see OptimizerState) with its base64 arena turned into the Float32Array it
 * encodes, a quarter the size in a file; anything else unchanged.
 */
function arenaAsTensor(state: unknown): unknown {
  if (!state || typeof state !== 'object') return state;
  const s = state as { name?: unknown; slots?: unknown; size?: unknown; arena?: unknown };
  if (typeof s.name !== 'string' || !Number.isInteger(s.slots) || !Number.isInteger(s.size) || typeof s.arena !== 'string') return state;
  const bytes = Buffer.from(s.arena, 'base64');
  // Only an exact encoding of the declared size, so that nothing else can change on the way.
  if (bytes.length !== 4 * (s.slots as number) * (s.size as number) || bytes.toString('base64') !== s.arena) return state;
  const arena = new Float32Array(bytes.length / 4);
  new Uint8Array(arena.buffer).set(bytes);
  return { ...s, arena };
}

function preprocessingJSON(model: Sequential, given: unknown, where: string): unknown {
  const own = model.preprocessing ? model.preprocessing.toJSON() : undefined;
  if (given === undefined) {
    checkPreprocessedWidth(where, model.preprocessing, model.inputSize);
    return own;
  }
  const json = given instanceof TabularPreprocessor ? given.toJSON() : given;
  if (own !== undefined && JSON.stringify(own) !== JSON.stringify(json)) {
    throw new BlasnetError(ErrorCode.STATE,
      `${where}: the model applies its own preprocessing (setPreprocessing); storing another one as well would transform its inputs twice`);
  }
  const table = revived(where, given);
  checkPreprocessedWidth(where, table, model.inputSize);
  const mismatch = table instanceof TabularPreprocessor ? tableOutputsMismatch(table, model.outputSize) : null;
  if (mismatch) throw rangeError(ErrorCode.SHAPE, `${where}: ${mismatch}`);
  return json;
}


/**
 * A preprocessing given as the JSON of a kind loadModel rebuilds (a loaded file's
 * `preprocessing`), rebuilt as loadModel would; anything else as it is. @internal
 */
export function revived(where: string, p: unknown): unknown {
  const type = p !== null && typeof p === 'object' ? (p as { type?: unknown }).type : undefined;
  if (type !== 'TabularPreprocessor' && !SCALERS.includes(type as string)) return p;
  try {
    return type === 'TabularPreprocessor' ? TabularPreprocessor.fromJSON(p) : preprocessorFromJSON(p);
  } catch (e) {
    throw new BlasnetError(ErrorCode.FORMAT, `${where}: invalid preprocessing: ${(e as Error).message}`);
  }
}

/**
 * Saves a model (and, optionally, optimiser and schedule state, preprocessing and metadata) to
 * `file`, atomically: the file is written in full to a temporary beside it (writeFileAtomic's
 * `.<name>.blasnet-tmp-<pid>-<namespace>-<tag>`), flushed, then renamed over it, so a crash
 * mid-save leaves the previous file intact; temporaries of killed saves are removed by the next
 * save of the same file.
 *
 * - A full disk, a file size limit or any other write error fails with ERR_BLASNET_IO and leaves
 *   the previous file untouched.
 * - Only regular files are replaced: a symbolic link is followed and its target replaced (the link
 *   stays); a directory, FIFO, socket or device (`/dev/null` included) fails with ERR_BLASNET_IO.
 * - Extras must be JSON-able data (Float32Arrays, NaN and infinities are kept exactly; any key,
 *   `$tensor` and `__proto__` included, round-trips). A cycle, a BigInt, a toJSON that throws or
 *   nesting deeper than 256 levels fails with ERR_BLASNET_ARG_TYPE, and nothing is written; so
 *   does a model of more than MAX_LAYERS (4096) layers, with ERR_BLASNET_ARG_RANGE.
 */
export function saveModel(file: string, model: Sequential, extras: ModelExtras = {}): void {
  checkPath('saveModel', file);
  writeFileAtomic(file, encodeDocument(model, extras, 'saveModel'));
}

/** A loaded model with whatever else its file held. */
export interface LoadedModel extends ModelExtras {
  model: Sequential;
  /**
   * The table preprocessing stored with the model, if any: apply its transform to raw rows
   * before predict or evaluate (the model itself does not), targets to their labels.
   */
  preprocessor?: TabularPreprocessor;
  /** The library version that wrote the file. */
  library: string;
}

/**
 * The parameter count and buffer sizes the layers declare for `inputSize` inputs, worked out from
 * their options alone (building a layer may allocate), stopping as soon as the parameters exceed
 * `available`: what a file declares is checked against what it holds before anything is built.
 */
function declaredSizes(layers: Layer[], inputSize: number, available: number): { params: number; buffers: number[] } {
  let n = inputSize;
  let params = 0;
  const buffers: number[] = [];
  for (const l of layers) {
    if (l instanceof Dense) {
      params += l.units * n + (l.useBias ? l.units : 0);
      n = l.units;
    } else if (l instanceof BatchNorm) {
      params += 2 * n;
      buffers.push(n, n);
    } else if (l instanceof PReLU) {
      params += l.perUnit ? n : 1;
    } else if (!(l instanceof Activation || l instanceof Dropout || l instanceof GaussianNoise)) {
      throw new BlasnetError(ErrorCode.INTERNAL, `model files: no size rule for layer kind ${l.kind}`);
    }
    if (params > available) break;
  }
  return { params, buffers };
}

/**
 * Checks a decoded model document before anything is built: the architecture's shape, and the
 * parameter and buffer sizes it declares against the tensors the file holds. Returns the layers.
 */
function checkDocument(doc: Partial<ModelDocument>, fail: (msg: string) => never): Layer[] {
  if (!doc || typeof doc !== 'object' || doc.format !== 'blasnet-model') {
    fail((doc as { format?: unknown } | null)?.format === 'blasnet-models'
      ? 'a blasnet file of several models (saveModels), not of one; read it with loadModels or Ensemble.load'
      : 'not a blasnet model file');
  }
  const cfg = doc.model as ModelConfig | undefined;
  if (!cfg || typeof cfg !== 'object' || !Number.isInteger(cfg.inputSize) || cfg.inputSize < 1 || !Array.isArray(cfg.layers)) {
    fail('missing or malformed architecture');
  }
  const { inputSize, layers: configs } = cfg as ModelConfig;
  if (configs.length > MAX_LAYERS) fail(`${configs.length} layers, more than the ${MAX_LAYERS} a model file may hold`);
  let layers: Layer[] = [];
  try {
    layers = configs.map((l) => {
      if (!l || typeof l !== 'object') throw new BlasnetError(ErrorCode.FORMAT, 'a layer is not an object');
      return layerFromConfig(l as LayerConfig);
    });
    layerIds('Sequential', layers);
  } catch (e) {
    fail(`invalid architecture: ${(e as Error).message}`);
  }
  const found = tensorLength(doc.params);
  const declared = declaredSizes(layers, inputSize, found ?? 0);
  if (found !== declared.params) {
    fail(`expected ${declared.params > (found ?? 0) ? 'at least ' : ''}${declared.params} parameters for this architecture, found ${found ?? 'none'}`);
  }
  const saved = Array.isArray(doc.buffers) ? doc.buffers : [];
  if (saved.length !== declared.buffers.length) fail(`expected ${declared.buffers.length} state buffers, found ${saved.length}`);
  declared.buffers.forEach((n, i) => {
    const s = saved[i] as { name?: unknown; data?: unknown } | null;
    if (!s || typeof s !== 'object' || tensorLength(s.data) !== n) fail(`state buffer ${i} is missing or has the wrong size`);
  });
  return layers;
}

/** Builds the model of a checked document. */
function buildModel(doc: Partial<ModelDocument>, layers: Layer[], backend: Backend | BackendName | undefined, fail: (msg: string) => never,
  source: string): LoadedModel {
  const cfg = doc.model as ModelConfig;
  const loss = (cfg.loss === null || cfg.loss === undefined ? undefined : savedLossSpec(cfg.loss, source)) as LossSpec | undefined;
  let model: Sequential;
  try {
    model = new Sequential({ inputSize: cfg.inputSize, seed: cfg.seed, backend, layers, loss });
  } catch (e) {
    return fail(`invalid architecture: ${(e as Error).message}`);
  }
  if (!(doc.params instanceof Float32Array) || doc.params.length !== model.params.length) {
    fail(`expected ${model.params.length} parameters for this architecture, found ${doc.params instanceof Float32Array ? doc.params.length : 'none'}`);
  }
  const buffers = model.buffers();
  const saved = Array.isArray(doc.buffers) ? doc.buffers : [];
  if (saved.length !== buffers.length) fail(`expected ${buffers.length} state buffers, found ${saved.length}`);
  buffers.forEach((b, i) => {
    const s = saved[i];
    if (!s || s.name !== b.name || !(s.data instanceof Float32Array) || s.data.length !== b.data.length) {
      fail(`state buffer ${b.name} is missing or has the wrong size`);
    }
  });
  model.params.set(doc.params as Float32Array);
  buffers.forEach((b, i) => b.data.set(saved[i].data));
  const pre = doc.preprocessing as { type?: unknown } | undefined;
  if (pre && typeof pre === 'object' && SCALERS.includes(pre.type as string)) {
    try {
      model.setPreprocessing(preprocessorFromJSON(pre, model.backend));
    } catch (e) {
      fail(`invalid preprocessing: ${(e as Error).message}`);
    }
  }
  let preprocessor: TabularPreprocessor | undefined;
  if (pre && typeof pre === 'object' && pre.type === 'TabularPreprocessor') {
    try {
      preprocessor = TabularPreprocessor.fromJSON(pre);
    } catch (e) {
      fail(`invalid preprocessing: ${(e as Error).message}`);
    }
    if ((preprocessor as TabularPreprocessor).inputSize !== model.inputSize) {
      fail(`the table preprocessing makes ${(preprocessor as TabularPreprocessor).inputSize} inputs but the model takes ${model.inputSize}`);
    }
    const mismatch = tableOutputsMismatch(preprocessor as TabularPreprocessor, model.outputSize);
    if (mismatch) fail(mismatch);
  }
  if (doc.columns !== undefined) {
    try {
      model.setInputColumns(doc.columns as string[]);
    } catch (e) {
      fail(`invalid input columns: ${(e as Error).message}`);
    }
  }
  if (doc.compile !== undefined && (doc.compile === null || typeof doc.compile !== 'object' || Array.isArray(doc.compile))) {
    fail(`invalid compile settings: expected an object, found ${doc.compile === null ? 'null' : Array.isArray(doc.compile) ? 'an array' : typeof doc.compile}`);
  }
  if (doc.compile !== undefined && model.lossSpec) {
    const c = doc.compile as Partial<SavedCompile>;
    try {
      // A saved compile exists only for a built-in loss, which has a spec.
      const spec = model.lossSpec.spec as BuiltInLossSpec;
      asLoaded(() => model.compile({ loss: spec, optimizer: c.optimizer as unknown as OptimizerSpec, metrics: c.metrics ?? [] }));
      if (doc.optimizer !== undefined) model.optimizer?.load(doc.optimizer as OptimizerState);
    } catch (e) {
      fail(`invalid compile settings: ${(e as Error).message}`);
    }
  }
  return {
    ...(preprocessor ? { preprocessor } : {}),
    model,
    library: String(doc.library ?? 'unknown'),
    optimizer: doc.optimizer,
    schedule: doc.schedule,
    preprocessing: doc.preprocessing,
    metadata: doc.metadata,
    compile: doc.compile,
    columns: doc.columns,
  };
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'no prototype'})` : `${String(v)} of type ${typeof v}`;
}

function checkPath(where: string, file: unknown): void {
  if (typeof file !== 'string' || file === '') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a file path but received ${describe(file)}`);
}

/**
 * Rejects a raw (not yet rebuilt) model header whose architecture lists more than MAX_LAYERS
 * layers, before the decoder rebuilds its every object.
 */
function layerCount(fail: (msg: string) => never): (json: unknown) => void {
  return (json) => {
    const layers = (json as { model?: { layers?: unknown } } | null)?.model?.layers;
    if (Array.isArray(layers) && layers.length > MAX_LAYERS) fail(`${layers.length} layers, more than the ${MAX_LAYERS} a model file may hold`);
  };
}

function failer(source: string): (msg: string) => never {
  return (msg: string): never => {
    throw new BlasnetError(ErrorCode.FORMAT, `${source}: ${msg}`);
  };
}

/** Rebuilds a model from the bytes of a model file; `source` names it in errors. Checks as loadModel does. */
export function decodeModel(bytes: Buffer | Uint8Array, options: { backend?: Backend | BackendName; source?: string } = {}): LoadedModel {
  if (!(bytes instanceof Uint8Array)) throw typeError(ErrorCode.ARG_TYPE, `decodeModel: Expected a Buffer or Uint8Array but received ${describe(bytes)}`);
  options = optionsArg('decodeModel', options, { backend: true, source: true });
  if (options.source !== undefined && typeof options.source !== 'string') {
    throw typeError(ErrorCode.ARG_TYPE, `decodeModel: Expected a string for options.source but received ${describe(options.source)}`);
  }
  const backend = backendOption('decodeModel', options.backend);
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = failer(options.source ?? 'model');
  let layers: Layer[] = [];
  const doc = decode(buffer, options.source ?? 'model', (d) => {
    layers = checkDocument(d as Partial<ModelDocument>, fail);
  }, layerCount(fail)) as Partial<ModelDocument>;
  return buildModel(doc, layers, backend, fail, options.source ?? 'model');
}

/**
 * Loads a model file written by saveModel. Fails with ERR_BLASNET_IO if `file` cannot be read or
 * is not a regular file (a directory, FIFO or device), and with ERR_BLASNET_FORMAT on a file that
 * is truncated, corrupted, incompatible or inconsistent. The file is read in order and checked at
 * each step, so a hostile file costs no more time or memory than its own size: its 32-byte prefix
 * against the file's size, its header (at most 256 MiB, nested at most 256 deep, at most 4096
 * layers) and the parameter count its architecture declares against the payload, all before the
 * payload is read or the model is built.
 */
export function loadModel(file: string, options: { backend?: Backend | BackendName } = {}): LoadedModel {
  checkPath('loadModel', file);
  const backend = backendOption('loadModel', optionsArg('loadModel', options, { backend: true }).backend);
  const fail = failer(file);
  let layers: Layer[] = [];
  const doc = decodeFile(file, (d) => {
    layers = checkDocument(d as Partial<ModelDocument>, fail);
  }, layerCount(fail)) as Partial<ModelDocument>;
  return buildModel(doc, layers, backend, fail, file);
}

/**
 * Saves several models as one file (an ensemble's members, in order), with the same guarantees as
 * saveModel: atomic, checksummed, every member checked on load. Each member keeps its
 * architecture, weights, statistics and preprocessing.
 */
export function saveModels(file: string, models: readonly Sequential[], metadata?: Record<string, unknown>): void {
  checkPath('saveModels', file);
  if (!Array.isArray(models) || models.length === 0) throw typeError(ErrorCode.ARG_TYPE, 'saveModels: Expected a non-empty array of models');
  const doc = {
    format: 'blasnet-models', library: LIBRARY_VERSION, members: models.map((m) => modelDocument(m, {}, 'saveModels')),
    ...(metadata !== undefined ? { metadata } : {}),
  };
  writeFileAtomic(file, encode(doc, 'saveModels'));
}

/** Loads a file written by saveModels: the models in order, and its metadata. */
export function loadModels(file: string, options: { backend?: Backend | BackendName } = {}): { models: Sequential[]; metadata?: Record<string, unknown> } {
  checkPath('loadModels', file);
  const backend = backendOption('loadModels', optionsArg('loadModels', options, { backend: true }).backend);
  const fail = failer(file);
  let layers: Layer[][] = [];
  const doc = decodeFile(file, (d) => {
    const o = d as { format?: unknown; members?: unknown };
    if (!o || typeof o !== 'object' || o.format !== 'blasnet-models' || !Array.isArray(o.members) || o.members.length === 0) {
      fail('not a blasnet file of several models (saveModels)');
    }
    const members = o.members as Partial<ModelDocument>[];
    if (members.length > MAX_LAYERS) fail(`${members.length} models, more than ${MAX_LAYERS}`);
    layers = members.map((m) => checkDocument(m, fail));
  }) as { members: Partial<ModelDocument>[]; metadata?: Record<string, unknown> };
  return { models: doc.members.map((m, i) => buildModel(m, layers[i], backend, fail, `${file} (model ${i + 1})`).model), metadata: doc.metadata };
}
