/**
 * Saving and loading models: one versioned file (lib/io/format.ts) holding the architecture, the
 * weights and running statistics, and optionally optimiser and schedule state, preprocessing and
 * training metadata. Written atomically; validated completely on load.
 */
import * as fs from 'fs';
import type { BackendName } from '../backend/select';
import type { Backend } from '../backend/types';
import { BlasnetError, ErrorCode } from '../errors';
import { layerFromConfig } from '../layers';
import type { LayerConfig } from '../layers';
import { Sequential } from '../model/sequential';
import type { ModelConfig } from '../model/sequential';
import { decode, encode, writeFileAtomic } from './format';
import { preprocessorFromJSON } from '../data/preprocess';

/** What a model file holds besides the model itself. Every field is optional, plain data. */
export interface ModelExtras {
  /** Optimiser state, as its state() returns it. */
  optimizer?: unknown;
  /** Schedule state, as its state() returns it. */
  schedule?: unknown;
  /** Preprocessing (toJSON() of a scaler); default the model's own (setPreprocessing), which loadModel restores. */
  preprocessing?: unknown;
  /** Anything else: training history, dataset, dates. */
  metadata?: Record<string, unknown>;
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

/** The bytes of a model file (see saveModel). */
export function encodeModel(model: Sequential, extras: ModelExtras = {}): Buffer {
  // While fitAsync trains, the weights are consistent only when its worker waits for callbacks.
  model.notBusy('saveModel', true);
  const doc: ModelDocument = {
    format: 'blasnet-model',
    library: LIBRARY_VERSION,
    model: model.config(),
    params: model.params.slice(),
    buffers: model.buffers().map((b) => ({ name: b.name, data: b.data.slice() })),
    ...extras,
    preprocessing: extras.preprocessing ?? (model.preprocessing ? model.preprocessing.toJSON() : undefined),
  };
  return encode(doc);
}

/**
 * Saves a model (and, optionally, optimiser and schedule state, preprocessing and metadata) to
 * `file`, atomically: a crash mid-save leaves the previous file intact.
 */
export function saveModel(file: string, model: Sequential, extras: ModelExtras = {}): void {
  writeFileAtomic(file, encodeModel(model, extras));
}

/** A loaded model with whatever else its file held. */
export interface LoadedModel extends ModelExtras {
  model: Sequential;
  /** The library version that wrote the file. */
  library: string;
}

/** Rebuilds a model from the bytes of a model file; `source` names it in errors. */
export function decodeModel(bytes: Buffer, options: { backend?: Backend | BackendName; source?: string } = {}): LoadedModel {
  const source = options.source ?? 'model';
  const fail = (msg: string): never => {
    throw new BlasnetError(ErrorCode.FORMAT, `${source}: ${msg}`);
  };
  const doc = decode(bytes, source) as Partial<ModelDocument>;
  if (!doc || typeof doc !== 'object' || doc.format !== 'blasnet-model') fail('not a blasnet model file');
  const cfg = doc.model as ModelConfig | undefined;
  if (!cfg || !Number.isInteger(cfg.inputSize) || !Array.isArray(cfg.layers)) fail('missing or malformed architecture');
  let model: Sequential;
  try {
    model = new Sequential({
      inputSize: (cfg as ModelConfig).inputSize,
      seed: (cfg as ModelConfig).seed,
      backend: options.backend,
      layers: (cfg as ModelConfig).layers.map((l) => layerFromConfig(l as LayerConfig)),
      loss: (cfg as ModelConfig).loss ?? undefined,
    });
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
  if (pre && typeof pre === 'object' && ['Standardizer', 'MinMaxScaler', 'PCA'].includes(pre.type as string)) {
    try {
      model.setPreprocessing(preprocessorFromJSON(pre, model.backend));
    } catch (e) {
      fail(`invalid preprocessing: ${(e as Error).message}`);
    }
  }
  return {
    model,
    library: String(doc.library ?? 'unknown'),
    optimizer: doc.optimizer,
    schedule: doc.schedule,
    preprocessing: doc.preprocessing,
    metadata: doc.metadata,
  };
}

/** Loads a model file written by saveModel; fails clearly on a missing, truncated or corrupted file. */
export function loadModel(file: string, options: { backend?: Backend | BackendName } = {}): LoadedModel {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new BlasnetError(ErrorCode.IO, `cannot read ${file}: ${(e as Error).message}`);
  }
  return decodeModel(bytes, { ...options, source: file });
}
