/**
 * Inference functions: a model's forward pass as a plain function for serving in hot paths, with
 * no training machinery and no allocation per call once a batch size has been seen.
 */
import { activationId } from '../activations';
import { alignedFloat32Array, newFloat32Array } from '../backend/memory';
import { packedDenseLength } from '../backend/packed';
import { optionsArg, typeName } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { Dense } from '../layers/dense';
import type { PassContext } from '../layers/layer';
import type { Sequential } from '../model/sequential';
import { Rng } from '../rng';
import { Matrix } from '../tensor';
import { typedArrayTag, typedLength } from '../typed';
import { MinMaxScaler, PCA, Standardizer } from '../data/preprocess';
import { checkPreprocessedWidth } from '../data/input';
import { refuseDetached } from '../data/check';

/**
 * x: rows of raw features, one after another (the row count is x.length / inputSize). Returns
 * the outputs [rows, outputs] row-major: `out` when given (its leading rows * outputs values are
 * written), else a buffer owned by the function, valid until its next call.
 */
export type InferenceFunction = (x: Float32Array, out?: Float32Array) => Float32Array;

/** Options of compileInference. */
export interface InferenceOptions {
  /**
   * Freeze the weights as they are now, as torch.jit.freeze does: every dense layer's weight and
   * bias are copied, once, into the packed layout of blasnet's inference kernels, and the function
   * computes with those copies (native backend: its own AVX-512/AVX2 micro-kernels over the packed
   * weights, the input rows read in place, bias and activation applied to each output tile before
   * it leaves the registers; faster than the live path at every batch size). Changes to the model's
   * weights after compiling (training, setWeights, writes into model.params) are not seen until
   * the function's refresh() packs them again. The layers other than dense must hold no
   * parameters or state (activation, dropout, gaussianNoise); a model with batchNorm or prelu is
   * ERR_BLASNET_UNSUPPORTED with freeze. Default false: the weights are read live on every call.
   */
  freeze?: boolean;
}

/** What compileInference's function knows beyond the call itself. */
export interface CompiledInference extends InferenceFunction {
  /** Features per raw input row (the preprocessing's input width when the model has one; see compileInference for a later setPreprocessing). */
  readonly inputSize: number;
  /** Outputs per row. */
  readonly outputSize: number;
  /** Whether the function computes with weights frozen at compile time (options.freeze). */
  readonly frozen: boolean;
  /**
   * Packs the model's current weights again, and takes its current preprocessing, so that a
   * frozen function computes with them from its next call (after training, say). Does nothing
   * for a live function, which always reads them.
   */
  refresh(): void;
}

/** Per batch size: the function's own output buffer and the preprocessing's staging matrices. */
interface Slot {
  readonly out: Float32Array;
  readonly raw: Matrix | null;
  readonly pre: Matrix | null;
  /** Frozen functions: the output of each dense layer (null for the other layers). */
  readonly dense: (Float32Array | null)[];
}

/** A dense layer of a frozen function: its parameter views and their packed copy. */
interface PackedDense {
  readonly units: number;
  readonly inSize: number;
  /** The activation fused into the kernel (identity before a softmax). */
  readonly act: number;
  readonly param: number;
  readonly softmax: boolean;
  readonly weight: Float32Array;
  readonly bias: Float32Array | null;
  readonly packed: Float32Array;
}

const IDENTITY = activationId('identity');

/**
 * The packed dense layers of a frozen function, one entry per layer (null for the layers that run
 * their own forward pass), or ERR_BLASNET_UNSUPPORTED for a layer that holds parameters or state
 * the packing would not freeze.
 */
function packLayers(model: Sequential, where: string): (PackedDense | null)[] {
  const views = model.parameters();
  return model.layers.map((l, i) => {
    const mine = views.filter((v) => v.layer === i);
    if (!(l instanceof Dense)) {
      if (mine.length > 0 || l.buffers().length > 0) {
        throw new BlasnetError(ErrorCode.UNSUPPORTED, `${where}: freeze packs dense layers only, and layer ${i} (${l.kind}) has parameters or state of its own; compile without freeze`);
      }
      return null;
    }
    const softmax = l.activation === 'softmax';
    return {
      units: l.units,
      inSize: l.inSize,
      act: softmax ? IDENTITY : activationId(l.activation as Exclude<typeof l.activation, 'softmax'>),
      param: l.activationParam,
      softmax,
      weight: mine[0].data,
      bias: l.useBias ? mine[1].data : null,
      packed: alignedFloat32Array(packedDenseLength(l.units, l.inSize)),
    };
  });
}

/** Batch sizes whose buffers a compiled inference function keeps (the most recently used ones). */
export const INFERENCE_BATCH_SIZES = 8;

/**
 * The model's inference pass (what predict computes) as a plain function from a Float32Array
 * batch to a Float32Array of outputs, for serving: no argument conversion beyond a length check
 * (no scan for NaN and infinities either: such a value gives its row NaN or infinite outputs,
 * where predict refuses it with ERR_BLASNET_DATA; scan untrusted rows with the backend's
 * firstNonFinite first), no Matrix results, and after the first call with a given batch size, no allocation at all (the
 * layers' workspaces, the output buffer and the preprocessing's staging buffers are kept and
 * reused; one set per batch size, for the INFERENCE_BATCH_SIZES most recently used sizes, so that
 * a service fed batches of every size keeps a bounded set rather than one per size ever seen).
 *
 * Semantics: inference mode (no dropout, BatchNorm's running statistics), the whole batch in one
 * pass (predict goes 256 rows at a time; the results agree to float rounding). The model's
 * preprocessing (a Standardizer, MinMaxScaler or PCA set by setPreprocessing; other kinds are
 * ERR_BLASNET_UNSUPPORTED) is applied first, so the function takes raw rows of `inputSize`
 * features; one set by setPreprocessing after compiling is applied from the next call (a frozen
 * function's from its refresh()), and `inputSize` follows it. The weights are read live, so
 * training the model afterwards changes what the function computes.
 *
 * The returned array is a view of the function's own buffer, overwritten by its next call with
 * the same batch size: copy it to keep it, or pass `out` (a Float32Array of at least rows *
 * outputSize values) to have the results written there. The function shares the layers'
 * workspaces with the model, so a Matrix returned by model.forward is overwritten by a call, and
 * vice versa.
 */
export function compileInference(model: Sequential, options: InferenceOptions = {}): CompiledInference {
  const where = 'compileInference';
  if (!model || typeof model !== 'object' || !Array.isArray((model as Sequential).layers)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Sequential model`);
  }
  options = optionsArg(where, options, { freeze: true });
  const freeze = options.freeze ?? false;
  if (typeof freeze !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for freeze but received ${typeof freeze}`);
  const layers = model.layers;
  // The preprocessing the function applies: the model's at compile time, and after a
  // setPreprocessing the new one (a live function at its next call, a frozen one at refresh()).
  let pre: Standardizer | MinMaxScaler | PCA | null = null;
  let inputSize = 0;
  const adopt = (at: string): void => {
    const p = model.preprocessing;
    if (p && !(p instanceof Standardizer || p instanceof MinMaxScaler || p instanceof PCA)) {
      const name = (p as { constructor?: { name?: string } }).constructor?.name ?? typeof p;
      throw new BlasnetError(ErrorCode.UNSUPPORTED, `${at}: the model's preprocessing ${name} does not take rows of numbers; compile a model without it and transform the rows first`);
    }
    if (p) checkPreprocessedWidth(at, p, model.inputSize);
    pre = p ?? null;
    inputSize = p ? p.toJSON().cols : model.inputSize;
    // The staging buffers are per preprocessing: every batch size's set is made again.
    slots.clear();
  };
  const outputSize = model.outputSize;
  const backend = model.backend;
  const ctx: PassContext = { backend, rng: new Rng(0), training: false, inference: true };
  const slots = new Map<number, Slot>();
  let lastRows = 0;
  adopt(where);
  const packs = freeze ? packLayers(model, where) : null;
  const refresh = (): void => {
    if (!packs) return;
    // A frozen copy of a fitAsync worker's weights is consistent only while it waits.
    if (typeof model.notBusy === 'function') model.notBusy(`${where} (freeze)`, true);
    if (model.preprocessing !== pre) adopt('refresh');
    for (const p of packs) if (p) backend.packDense(p.units, p.inSize, p.weight, p.bias, p.packed);
  };
  refresh();

  const slotFor = (rows: number): Slot => {
    let s = slots.get(rows);
    if (s) {
      // Most recently used last (a Map keeps insertion order), so the first key is the one to
      // drop; a run of calls of one size (the usual case) moves nothing.
      if (rows !== lastRows) {
        slots.delete(rows);
        slots.set(rows, s);
      }
    } else {
      if (slots.size >= INFERENCE_BATCH_SIZES) slots.delete(slots.keys().next().value as number);
      layers.forEach((l, i) => {
        if (!packs?.[i]) l.reserve(rows);
      });
      s = {
        out: newFloat32Array(rows * outputSize, { where: 'inference', what: 'the outputs' }),
        raw: pre ? Matrix.zeros(rows, inputSize) : null,
        pre: pre ? Matrix.zeros(rows, model.inputSize) : null,
        dense: layers.map((l, i) => (packs?.[i] ? newFloat32Array(rows * l.outSize, { where: 'inference', what: `layer ${i}'s outputs` }) : null)),
      };
      slots.set(rows, s);
    }
    lastRows = rows;
    return s;
  };

  const run = (x: Float32Array, out?: Float32Array): Float32Array => {
    const fn = 'inference';
    if (typedArrayTag(x) !== 'Float32Array') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Float32Array for x`);
    if (!freeze && model.preprocessing !== pre) adopt(fn);
    const n = typedLength(x);
    if (n === 0 || n % inputSize !== 0) {
      refuseDetached(fn, 'x', x);
      throw rangeError(ErrorCode.SHAPE, `${fn}: Expected a positive whole number of rows of ${inputSize} features but received ${n} values`);
    }
    const rows = n / inputSize;
    if (out !== undefined) {
      if (typedArrayTag(out) !== 'Float32Array') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Float32Array for out but received ${typeName(out)}`);
      if (typedLength(out) < rows * outputSize) {
        refuseDetached(fn, 'out', out);
        throw rangeError(ErrorCode.SHAPE, `${fn}: Expected a Float32Array of at least ${rows * outputSize} values (rows*outputSize) for out`);
      }
    }
    const s = slotFor(rows);
    let h = x;
    if (pre && s.raw && s.pre) {
      s.raw.data.set(x);
      pre.transform(s.raw, s.pre);
      h = s.pre.data;
    }
    for (let i = 0; i < layers.length; i++) {
      const p = packs?.[i];
      const y = s.dense[i];
      if (!p || !y) {
        h = layers[i].forward(ctx, rows, h);
        continue;
      }
      backend.packedDenseForward(p.act, p.param, rows, p.inSize, p.units, h, p.packed, y);
      if (p.softmax) backend.softmax(rows, p.units, y, y);
      h = y;
    }
    const dst = out ?? s.out;
    if (h.length === rows * outputSize) dst.set(h);
    else for (let i = 0; i < rows * outputSize; i++) dst[i] = h[i];
    return dst;
  };
  const fn = Object.assign(run, { outputSize, frozen: freeze, refresh }) as CompiledInference;
  Object.defineProperty(fn, 'inputSize', {
    get: () => {
      if (!freeze && model.preprocessing !== pre) adopt('inputSize');
      return inputSize;
    },
    enumerable: true,
  });
  return fn;
}
