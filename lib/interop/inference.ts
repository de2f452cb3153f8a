/**
 * Inference functions: a model's forward pass as a plain function for serving in hot paths, with
 * no training machinery and no allocation per call once a batch size has been seen.
 */
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { PassContext } from '../layers/layer';
import type { Sequential } from '../model/sequential';
import { Rng } from '../rng';
import { Matrix } from '../tensor';
import { typedArrayTag, typedLength } from '../typed';
import { MinMaxScaler, PCA, Standardizer } from '../data/preprocess';

/**
 * x: rows of raw features, one after another (the row count is x.length / inputSize). Returns
 * the outputs [rows, outputs] row-major: `out` when given (its leading rows * outputs values are
 * written), else a buffer owned by the function, valid until its next call.
 */
export type InferenceFunction = (x: Float32Array, out?: Float32Array) => Float32Array;

/** What compileInference's function knows beyond the call itself. */
export interface CompiledInference extends InferenceFunction {
  /** Features per raw input row (the preprocessing's input width when the model has one). */
  readonly inputSize: number;
  /** Outputs per row. */
  readonly outputSize: number;
}

/** Per batch size: the function's own output buffer and the preprocessing's staging matrices. */
interface Slot {
  readonly out: Float32Array;
  readonly raw: Matrix | null;
  readonly pre: Matrix | null;
}

/**
 * The model's inference pass (what predict computes) as a plain function from a Float32Array
 * batch to a Float32Array of outputs, for serving: no argument conversion beyond a length check,
 * no Matrix results, and after the first call with a given batch size, no allocation at all (the
 * layers' workspaces, the output buffer and the preprocessing's staging buffers are kept and
 * reused; one set per batch size seen).
 *
 * Semantics: inference mode (no dropout, BatchNorm's running statistics), the whole batch in one
 * pass (predict goes 256 rows at a time; the results agree to float rounding). The model's
 * preprocessing at the time of this call (a Standardizer, MinMaxScaler or PCA set by
 * setPreprocessing; other kinds are ERR_BLASNET_UNSUPPORTED) is applied first, so the function
 * takes raw rows of `inputSize` features; the weights are read live, so training the model
 * afterwards changes what the function computes.
 *
 * The returned array is a view of the function's own buffer, overwritten by its next call with
 * the same batch size: copy it to keep it, or pass `out` (a Float32Array of at least rows *
 * outputSize values) to have the results written there. The function shares the layers'
 * workspaces with the model, so a Matrix returned by model.forward is overwritten by a call, and
 * vice versa.
 */
export function compileInference(model: Sequential): CompiledInference {
  const where = 'compileInference';
  if (!model || typeof model !== 'object' || !Array.isArray((model as Sequential).layers)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Sequential model`);
  }
  const layers = model.layers;
  const pre = model.preprocessing;
  if (pre && !(pre instanceof Standardizer || pre instanceof MinMaxScaler || pre instanceof PCA)) {
    const name = (pre as { constructor?: { name?: string } }).constructor?.name ?? typeof pre;
    throw new BlasnetError(ErrorCode.UNSUPPORTED, `${where}: the model's preprocessing ${name} does not take rows of numbers; compile a model without it and transform the rows first`);
  }
  const inputSize = pre ? pre.toJSON().cols : model.inputSize;
  const outputSize = model.outputSize;
  const ctx: PassContext = { backend: model.backend, rng: new Rng(0), training: false };
  const slots = new Map<number, Slot>();

  const slotFor = (rows: number): Slot => {
    let s = slots.get(rows);
    if (!s) {
      for (const l of layers) l.reserve(rows);
      s = {
        out: new Float32Array(rows * outputSize),
        raw: pre ? Matrix.zeros(rows, inputSize) : null,
        pre: pre ? Matrix.zeros(rows, model.inputSize) : null,
      };
      slots.set(rows, s);
    }
    return s;
  };

  const run = (x: Float32Array, out?: Float32Array): Float32Array => {
    const fn = 'inference';
    if (typedArrayTag(x) !== 'Float32Array') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Float32Array for x`);
    const n = typedLength(x);
    if (n === 0 || n % inputSize !== 0) {
      throw rangeError(ErrorCode.SHAPE, `${fn}: Expected a positive whole number of rows of ${inputSize} features but received ${n} values`);
    }
    const rows = n / inputSize;
    if (out !== undefined && (typedArrayTag(out) !== 'Float32Array' || typedLength(out) < rows * outputSize)) {
      throw rangeError(ErrorCode.SHAPE, `${fn}: Expected a Float32Array of at least ${rows * outputSize} values (rows*outputSize) for out`);
    }
    const s = slotFor(rows);
    let h = x;
    if (pre && s.raw && s.pre) {
      s.raw.data.set(x);
      pre.transform(s.raw, s.pre);
      h = s.pre.data;
    }
    for (const l of layers) h = l.forward(ctx, rows, h);
    const dst = out ?? s.out;
    if (h.length === rows * outputSize) dst.set(h);
    else for (let i = 0; i < rows * outputSize; i++) dst[i] = h[i];
    return dst;
  };
  return Object.assign(run, { inputSize, outputSize });
}
