/**
 * safetensors files with PyTorch's state_dict names, so that a blasnet model and the equivalent
 * torch.nn.Sequential exchange weights in both directions.
 *
 * The format: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON mapping
 * each tensor name to { dtype, shape, data_offsets: [begin, end] } (byte offsets into the data
 * that follows; optional "__metadata__": string to string), then the tensors' raw little-endian
 * bytes, which the offsets must cover exactly, without holes or overlaps.
 */
import * as fs from 'fs';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { isPlainObject, optionsArg, show } from '../describe';
import type { OptionKeys } from '../describe';
import { fileBuffer, nestsDeeperThan, openRegularFile, readExactly, writeFileAtomic } from '../io/format';
import { Activation, BatchNorm, Dense, Dropout, PReLU } from '../layers';
import { layerIds } from '../layers/check';
import type { Sequential } from '../model/sequential';

/** Largest header read (as the reference implementation): a bigger claim is a malformed file. */
const MAX_HEADER = 100 * 1000 * 1000;

/** The deepest a header nests: the object of tensors, a tensor's object, its shape or offsets. */
const MAX_DEPTH = 3;

/** Bytes per element of every dtype the format defines. */
const DTYPE_SIZE: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** A tensor read from a safetensors file: floating-point data as float32, I64 as BigInt64Array. */
export interface SafetensorsTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function formatError(source: string, message: string): BlasnetError {
  return new BlasnetError(ErrorCode.FORMAT, `${source}: ${message}`);
}

/** Validates a parsed header against a data section of dataLength bytes; returns the entries in offset order. */
function parseHeader(source: string, headerBytes: Uint8Array, dataLength: number): { entries: Entry[]; metadata: Record<string, string> } {
  if (nestsDeeperThan(headerBytes, MAX_DEPTH)) throw formatError(source, `the safetensors header nests deeper than ${MAX_DEPTH} levels`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8'));
  } catch (e) {
    throw formatError(source, `the safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw formatError(source, 'the safetensors header is not a JSON object');
  const entries: Entry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((s) => typeof s !== 'string')) {
        throw formatError(source, '__metadata__ must map strings to strings');
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (t === null || typeof t !== 'object') throw formatError(source, `tensor ${JSON.stringify(name)} is not an object`);
    const size = typeof t.dtype === 'string' ? DTYPE_SIZE[t.dtype] : undefined;
    if (size === undefined) throw formatError(source, `tensor ${JSON.stringify(name)} has unknown dtype ${show(t.dtype)}`);
    const shape = t.shape;
    if (!Array.isArray(shape) || shape.some((d) => !(Number.isSafeInteger(d) && d >= 0))) {
      throw formatError(source, `tensor ${JSON.stringify(name)} has a malformed shape ${show(shape)}`);
    }
    const offsets = t.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !(Number.isSafeInteger(o) && o >= 0))) {
      throw formatError(source, `tensor ${JSON.stringify(name)} has malformed data_offsets ${show(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > dataLength) {
      throw formatError(source, `tensor ${JSON.stringify(name)} has data_offsets [${begin}, ${end}] outside the ${dataLength} data bytes`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * size !== end - begin) {
      throw formatError(source, `tensor ${JSON.stringify(name)} of shape ${show(shape)} and dtype ${t.dtype} needs ${count * size} bytes but its data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype: t.dtype as string, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin !== at) throw formatError(source, `tensor ${JSON.stringify(e.name)} ${e.begin < at ? 'overlaps another' : 'leaves a hole before it'} (data_offsets [${e.begin}, ${e.end}])`);
    at = e.end;
  }
  if (at !== dataLength) throw formatError(source, `the tensors cover ${at} of the ${dataLength} data bytes`);
  return { entries, metadata };
}

/** The header length of a file of `total` bytes from its first 8 bytes, checked before anything is allocated. */
function headerLength(source: string, prefix: Uint8Array, total: number): number {
  if (total < 8) throw formatError(source, `a safetensors file has at least 8 bytes; this one has ${total}`);
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (n < 2n || n > BigInt(MAX_HEADER) || Number(n) > total - 8) {
    throw formatError(source, `bad safetensors header length ${n} (file of ${total} bytes, headers up to ${MAX_HEADER} bytes)`);
  }
  return Number(n);
}

/** Half-precision bits to a number. */
function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** A tensor's values from its little-endian bytes; dtypes other than F64, F32, F16, BF16 and I64 are ERR_BLASNET_FORMAT. */
function tensorData(source: string, e: Entry, bytes: Uint8Array): Float32Array | BigInt64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = e.shape.reduce((a, b) => a * b, 1);
  switch (e.dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F64': return Float32Array.from({ length: n }, (_, i) => view.getFloat64(8 * i, true));
    case 'F16': return Float32Array.from({ length: n }, (_, i) => halfToNumber(view.getUint16(2 * i, true)));
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I64': return BigInt64Array.from({ length: n }, (_, i) => view.getBigInt64(8 * i, true));
    default:
      throw formatError(source, `tensor ${JSON.stringify(e.name)} has dtype ${e.dtype}, which blasnet does not read (F32, F64, F16, BF16, I64)`);
  }
}

/**
 * Every tensor of a safetensors file's bytes, by name (floating-point dtypes as Float32Array,
 * I64 as BigInt64Array), with its metadata. A malformed file (bad header length, bad JSON,
 * offsets out of range, overlapping or leaving holes, unknown or unsupported dtype) is
 * ERR_BLASNET_FORMAT; `source` names it in messages.
 */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  if (!(bytes instanceof Uint8Array)) throw typeError(ErrorCode.ARG_TYPE, 'parseSafetensors: Expected a Uint8Array (or Buffer) of file bytes');
  const n = headerLength(source, bytes, bytes.length);
  const data = bytes.subarray(8 + n);
  const { entries, metadata } = parseHeader(source, bytes.subarray(8, 8 + n), data.length);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: tensorData(source, e, data.subarray(e.begin, e.end)) });
  return { tensors, metadata };
}

/**
 * A regular file's bytes, the header length checked against the file size before the rest is
 * read; anything but a regular file, and any read error, is ERR_BLASNET_IO (as for model files).
 */
function readFileChecked(file: string): Uint8Array {
  const { fd, size } = openRegularFile(file);
  try {
    headerLength(file, readExactly(fd, 0, Math.min(8, size), file), size);
    return readExactly(fd, 0, size, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** A safetensors file's bytes from named tensors (F32 or I64), in order, with the data 8-byte aligned. */
function encodeTensors(tensors: { name: string; shape: readonly number[]; data: Float32Array | BigInt64Array }[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const t of tensors) {
    const dtype = t.data instanceof BigInt64Array ? 'I64' : 'F32';
    header[t.name] = { dtype, shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Spaces after the JSON keep the data 8-byte aligned, as the format recommends.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = fileBuffer('safetensors', 8 + head.length + at);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let o = 8 + head.length;
  for (const t of tensors) {
    const view = new DataView(out.buffer, out.byteOffset + o, t.data.byteLength);
    if (t.data instanceof BigInt64Array) t.data.forEach((v, i) => view.setBigInt64(8 * i, v, true));
    else t.data.forEach((v, i) => view.setFloat32(4 * i, v, true));
    o += t.data.byteLength;
  }
  return out;
}

/** One tensor of a model's PyTorch state_dict and where blasnet keeps it. */
export interface StateDictEntry {
  /** The state_dict key: `<module>.<tensor>`, the module being the layer's name or its index in the equivalent nn.Sequential. */
  readonly key: string;
  /** blasnet's name of the tensor (parameters() or buffers()), or null for num_batches_tracked, which blasnet does not keep. */
  readonly name: string | null;
  readonly shape: readonly number[];
  /** 'F32', or 'I64' for num_batches_tracked. */
  readonly dtype: 'F32' | 'I64';
  /** The model's memory for it (written by loadSafetensors), or null for num_batches_tracked. */
  readonly data: Float32Array | null;
}

/** Options of saveSafetensors and loadSafetensors. */
export interface SafetensorsOptions {
  /**
   * Keys to use instead of the default state_dict keys, by default key: { '0.weight':
   * 'encoder.0.weight', ... }, for a PyTorch model that is not the plain equivalent
   * nn.Sequential. Keys not listed keep their default.
   */
  keys?: Record<string, string>;
}

/**
 * The model's tensors under PyTorch's state_dict keys, for the equivalent nn.Sequential: each
 * blasnet layer becomes the torch module(s) doing the same, in order, and a module's key is its
 * index in that Sequential (or the layer's name, if it has one):
 *
 *   dense(n)                       -> Linear                      `k.weight` [n, in], `k.bias` [n]
 *   dense(n, { activation: f })    -> Linear, then f's module     (f's module takes index k + 1)
 *   activation(f), dropout(p)      -> f's module, Dropout         (no tensors; classic dropout
 *                                                                 scales by 1 - p at inference, which
 *                                                                 nn.Dropout in eval() does not: a
 *                                                                 multiplication by 1 - p there)
 *   batchNorm()                    -> BatchNorm1d                 `k.weight` (gamma), `k.bias` (beta),
 *                                                                 `k.running_mean`, `k.running_var`, `k.num_batches_tracked` (I64 [])
 *   prelu()                        -> PReLU(1) or PReLU(n)        `k.weight` (the slopes)
 *
 * so [dense(16, { activation: 'relu' }), batchNorm(), dense(3)] matches
 * nn.Sequential(nn.Linear(in, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Linear(16, 3)), whose keys are
 * 0.weight, 0.bias, 2.weight, 2.bias, 2.running_mean, 2.running_var, 2.num_batches_tracked,
 * 3.weight, 3.bias. A layer of another kind counts as one module keeping its own tensor names.
 */
export function stateDictEntries(model: Sequential, options: SafetensorsOptions = {}): StateDictEntry[] {
  return entriesOf(model, optionsArg('stateDictEntries', options, SAFETENSORS_OPTIONS));
}

const SAFETENSORS_OPTIONS: OptionKeys<SafetensorsOptions> = { keys: true };

/** stateDictEntries after its caller has checked the options object. */
function entriesOf(model: Sequential, options: SafetensorsOptions): StateDictEntry[] {
  if (!model || typeof model !== 'object' || !Array.isArray(model.layers) || typeof model.parameters !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, 'safetensors: Expected a Sequential model');
  }
  const ids = layerIds('safetensors', model.layers);
  const params = new Map(model.parameters().map((v) => [v.name, v]));
  const buffers = new Map(model.buffers().map((b) => [b.name, b.data]));
  const entries: StateDictEntry[] = [];
  let k = 0;
  model.layers.forEach((layer, i) => {
    const id = ids[i];
    const mod = layer.name ?? String(k);
    const param = (own: string, torch: string) => {
      const v = params.get(`${id}.${own}`);
      if (v) entries.push({ key: `${mod}.${torch}`, name: v.name, shape: v.shape, dtype: 'F32', data: v.data });
    };
    if (layer instanceof Dense) {
      param('weight', 'weight');
      param('bias', 'bias');
      k += layer.activation === 'identity' ? 1 : 2;
      return;
    }
    k += 1;
    if (layer instanceof BatchNorm) {
      param('gamma', 'weight');
      param('beta', 'bias');
      const n = layer.inSize;
      entries.push({ key: `${mod}.running_mean`, name: `${id}.runningMean`, shape: [n], dtype: 'F32', data: buffers.get(`${id}.runningMean`) as Float32Array });
      entries.push({ key: `${mod}.running_var`, name: `${id}.runningVar`, shape: [n], dtype: 'F32', data: buffers.get(`${id}.runningVar`) as Float32Array });
      entries.push({ key: `${mod}.num_batches_tracked`, name: null, shape: [], dtype: 'I64', data: null });
    } else if (layer instanceof PReLU) {
      param('slope', 'weight');
    } else if (!(layer instanceof Activation || layer instanceof Dropout)) {
      for (const v of model.parameters().filter((p) => p.layer === i)) {
        entries.push({ key: `${mod}.${v.name.slice(id.length + 1)}`, name: v.name, shape: v.shape, dtype: 'F32', data: v.data });
      }
      for (const b of layer.buffers()) {
        entries.push({ key: `${mod}.${b.name}`, name: `${id}.${b.name}`, shape: [b.data.length], dtype: 'F32', data: b.data });
      }
    }
  });
  // A layer's name can be another layer's index in the torch Sequential ("3" beside module 3).
  const clash = firstRepeated(entries.map((e) => e.key));
  if (clash !== null) {
    const [a, b] = entries.filter((e) => e.key === clash).map((e) => e.name ?? e.key);
    throw rangeError(ErrorCode.ARG_RANGE, `safetensors: the state_dict key ${clash} would name two tensors (${a} and ${b}); `
      + 'a layer\'s name must not be the index of another module in the equivalent nn.Sequential');
  }
  const keys = options.keys;
  if (keys === undefined) return entries;
  if (!isPlainObject(keys)) throw typeError(ErrorCode.ARG_TYPE, `safetensors: Expected a { stateDictKey: fileKey } object for options.keys but received ${show(keys)}`);
  const unknown = Object.keys(keys).filter((key) => !entries.some((e) => e.key === key));
  if (unknown.length > 0) {
    throw rangeError(ErrorCode.ARG_RANGE, `safetensors: options.keys names ${unknown.join(', ')}, which the model does not have (its keys: ${entries.map((e) => e.key).join(', ')})`);
  }
  const bad = Object.entries(keys).filter(([, v]) => typeof v !== 'string' || v === '' || v === '__metadata__');
  if (bad.length > 0) throw typeError(ErrorCode.ARG_TYPE, `safetensors: options.keys must map to non-empty strings other than __metadata__ (${bad.map(([k]) => k).join(', ')})`);
  const mapped = entries.map((e) => (Object.prototype.hasOwnProperty.call(keys, e.key) ? { ...e, key: keys[e.key] } : e));
  const twice = firstRepeated(mapped.map((e) => e.key));
  if (twice !== null) throw rangeError(ErrorCode.ARG_RANGE, `safetensors: options.keys gives two tensors the key ${twice}`);
  return mapped;
}

/** The first value that occurs a second time, or null. */
function firstRepeated(values: readonly string[]): string | null {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) return v;
    seen.add(v);
  }
  return null;
}

/**
 * The bytes of a safetensors file holding the model's weights and BatchNorm statistics under
 * PyTorch's state_dict keys (see stateDictEntries); num_batches_tracked, which blasnet does not
 * count, is written as 0 (PyTorch reads it only with momentum=None).
 */
export function encodeSafetensors(model: Sequential, options: SafetensorsOptions = {}): Uint8Array {
  return encodeEntries(model, optionsArg('encodeSafetensors', options, SAFETENSORS_OPTIONS), 'encodeSafetensors');
}

function encodeEntries(model: Sequential, options: SafetensorsOptions, where: string): Uint8Array {
  // A fitAsync worker's weights are consistent only while it waits (in its callbacks).
  if (typeof (model as { notBusy?: unknown })?.notBusy === 'function') model.notBusy(where, true);
  const tensors = entriesOf(model, options).map((e) => ({ name: e.key, shape: e.shape, data: e.data ?? new BigInt64Array(1) }));
  return encodeTensors(tensors, { format: 'pt' });
}

/**
 * Saves the model's weights as a safetensors file (atomically) that
 * `model.load_state_dict(safetensors.torch.load_file(file))` loads into the equivalent
 * nn.Sequential (see stateDictEntries for the keys).
 */
export function saveSafetensors(model: Sequential, file: string, options: SafetensorsOptions = {}): void {
  if (typeof file !== 'string' || file === '') throw typeError(ErrorCode.ARG_TYPE, `saveSafetensors: Expected a file path but received ${show(file)}`);
  writeFileAtomic(file, encodeEntries(model, optionsArg('saveSafetensors', options, SAFETENSORS_OPTIONS), 'saveSafetensors'));
}

/**
 * Loads weights from a safetensors file's bytes into the model (see loadSafetensors); `source`
 * names the bytes in messages.
 */
export function decodeSafetensors(model: Sequential, bytes: Uint8Array, options: SafetensorsOptions & { source?: string } = {}): void {
  decodeEntries(model, bytes, optionsArg('decodeSafetensors', options, { keys: true, source: true }));
}

function decodeEntries(model: Sequential, bytes: Uint8Array, options: SafetensorsOptions & { source?: string }): void {
  const source = options.source ?? 'safetensors';
  if (typeof source !== 'string') throw typeError(ErrorCode.ARG_TYPE, `decodeSafetensors: Expected a string for options.source but received ${show(source)}`);
  if (model?.isTraining) throw new BlasnetError(ErrorCode.BUSY, 'loadSafetensors: the model is training in the background (fitAsync); wait for it or abort it first');
  const expected = entriesOf(model, options);
  const { tensors } = parseSafetensors(bytes, source);
  const missing: string[] = [], wrong: string[] = [];
  for (const e of expected) {
    const t = tensors.get(e.key);
    if (!t) {
      missing.push(e.key);
      continue;
    }
    const isInt = t.data instanceof BigInt64Array;
    const sameShape = t.shape.length === e.shape.length && t.shape.every((d, j) => d === e.shape[j]);
    if (!sameShape || isInt !== (e.dtype === 'I64')) {
      wrong.push(`${e.key} ${t.dtype} [${t.shape.join(', ')}] (expected ${e.dtype === 'I64' ? 'I64' : 'a float dtype'} [${e.shape.join(', ')}])`);
    }
  }
  const keys = new Set(expected.map((e) => e.key));
  const extra = [...tensors.keys()].filter((k) => !keys.has(k));
  if (missing.length + wrong.length + extra.length > 0) {
    const parts = [
      missing.length ? `missing ${missing.join(', ')}` : '',
      extra.length ? `unexpected ${extra.join(', ')}` : '',
      wrong.length ? `wrong shape or dtype: ${wrong.join('; ')}` : '',
    ].filter(Boolean);
    throw new BlasnetError(ErrorCode.SHAPE, `loadSafetensors: ${source} does not match the model (nothing was loaded): ${parts.join('; ')}`);
  }
  for (const e of expected) if (e.data) e.data.set((tensors.get(e.key) as SafetensorsTensor).data as Float32Array);
}

/**
 * Loads the weights and BatchNorm statistics of a safetensors file written by PyTorch
 * (safetensors.torch.save_file(model.state_dict(), file)) or by saveSafetensors into the model,
 * by state_dict key (see stateDictEntries). The file must hold exactly the model's tensors:
 * missing, unexpected or wrongly shaped tensors are ERR_BLASNET_SHAPE, listing them all, and
 * nothing is loaded; a malformed file is ERR_BLASNET_FORMAT, and a path that cannot be read or is
 * not a regular file (a directory, FIFO or device) ERR_BLASNET_IO. F32, F64, F16 and BF16 tensors
 * are read (as float32); num_batches_tracked (I64) is checked and ignored.
 */
export function loadSafetensors(model: Sequential, file: string, options: SafetensorsOptions = {}): void {
  if (typeof file !== 'string' || file === '') throw typeError(ErrorCode.ARG_TYPE, `loadSafetensors: Expected a file path but received ${show(file)}`);
  options = optionsArg('loadSafetensors', options, SAFETENSORS_OPTIONS);
  decodeEntries(model, readFileChecked(file), { ...options, source: file });
}
