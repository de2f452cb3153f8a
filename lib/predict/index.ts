/**
 * Class predictions over a model: probabilities and class indices from its outputs, whatever
 * form the outputs take (probabilities after a softmax/sigmoid layer, or logits when the loss
 * fuses that activation, as crossEntropy and binaryCrossEntropy do).
 */
import { activationId } from '../activations';
import type { Backend } from '../backend/types';
import { optionsArg } from '../describe';
import { BlasnetError, ErrorCode, typeError } from '../errors';
import type { Input } from '../data/input';
import { fusedActivation } from '../model/loss';
import type { Sequential } from '../model/sequential';
import { Matrix } from '../tensor';
import type { Dataset } from '../data/dataset';

/** Options of predictProba and predictClasses. */
export interface PredictOptions {
  /** Rows per forward pass. Default 256. */
  batchSize?: number;
}

/**
 * What a model's outputs are as class scores: 'probabilities' (a final softmax or sigmoid), or
 * the logits of the 'softmax' or 'sigmoid' that its loss fuses (crossEntropy, binaryCrossEntropy)
 * when it has no output activation. @internal
 */
export type ScoreKind = 'probabilities' | 'softmax' | 'sigmoid';

/** The model's ScoreKind, or null when its outputs are not class scores. @internal */
export function scoreKind(model: Sequential): ScoreKind | null {
  const act = model.layers[model.layers.length - 1].activationName();
  if (act === 'softmax' || act === 'sigmoid') return 'probabilities';
  const loss = model.lossSpec;
  if ((act === null || act === 'identity') && loss) return fusedActivation(loss);
  return null;
}

/**
 * Probabilities from rows x cols scores of `kind` in src, written to dst (which may be src): the
 * activation the loss fuses, on the backend's own kernels; probabilities are copied as they are.
 * @internal
 */
export function toProbabilities(backend: Backend, kind: ScoreKind, rows: number, cols: number, src: Float32Array, dst: Float32Array): void {
  if (kind === 'sigmoid') backend.activation(activationId('sigmoid'), 0, rows * cols, src, dst);
  else if (kind === 'softmax') backend.softmax(rows, cols, src, dst);
  else if (dst !== src) dst.set(src.subarray(0, rows * cols));
}

function sequentialArg(model: Sequential, where: string): void {
  const m = model as unknown as { layers?: unknown; predict?: unknown } | null;
  if (m === null || typeof m !== 'object' || !Array.isArray(m.layers) || typeof m.predict !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Sequential model`);
  }
}

/** How the model's outputs become probabilities; ERR_BLASNET_STATE when they are not class scores. */
function outputKind(model: Sequential, where: string): ScoreKind {
  sequentialArg(model, where);
  const kind = scoreKind(model);
  if (kind !== null) return kind;
  const act = model.layers[model.layers.length - 1].activationName();
  const loss = model.lossSpec;
  throw new BlasnetError(ErrorCode.STATE,
    `${where}: the outputs are not class scores (last activation ${act ?? 'none'}, loss ${loss ? loss.name : 'none'}); ` +
    'end the model in softmax or sigmoid, or compile it with crossEntropy or binaryCrossEntropy');
}

/**
 * Whether predictProba takes this model: its outputs are probabilities (a final softmax or
 * sigmoid) or logits of crossEntropy or binaryCrossEntropy. @internal
 */
export function hasClassScores(model: Sequential): boolean {
  sequentialArg(model, 'hasClassScores');
  return scoreKind(model) !== null;
}

/**
 * Class probabilities for x, a new Matrix [rows, outputs]. Outputs of a final softmax or sigmoid
 * are returned as they are; logits (no output activation) become softmax(logits) under
 * crossEntropy and sigmoid(logits) under binaryCrossEntropy, the activation those losses fuse
 * (PyTorch: `model(x).softmax(1)` after training with CrossEntropyLoss). Any other model is
 * ERR_BLASNET_STATE: its outputs are not class scores. x is read as predict reads it (records,
 * preprocessing).
 */
export function predictProba(model: Sequential, x: Input | Dataset, options: PredictOptions = {}): Matrix {
  return proba('predictProba', model, x, options);
}

function proba(where: string, model: Sequential, x: Input | Dataset, options: PredictOptions): Matrix {
  const kind = outputKind(model, where);
  const out = model.predict(x, optionsArg(where, options, { batchSize: true }));
  if (kind === 'probabilities') return out;
  // In place: the activation the loss fused while training.
  toProbabilities(model.backend, kind, out.rows, out.cols, out.data, out.data);
  return out;
}

/**
 * The predicted class of every row of x, an Int32Array [rows]: the index of the largest output
 * when there are several (ties go to the first), and for a single sigmoid/binaryCrossEntropy
 * output 1 when its probability is above 0.5, else 0 (Keras's predict_classes). Errors as
 * predictProba (a NaN or infinity in x is ERR_BLASNET_DATA, as in predict); a row whose
 * probabilities hold a NaN all the same (the weights hold one) has no class: ERR_BLASNET_DATA
 * naming the row (1-based), where predictProba returns the NaNs as they are.
 */
export function predictClasses(model: Sequential, x: Input | Dataset, options: PredictOptions = {}): Int32Array {
  return classesOf(proba('predictClasses', model, x, options), 'predictClasses');
}

/**
 * The class of every row of probabilities p, by predictClasses' rule (argmax; one output: 1 above
 * 0.5); a row holding a NaN is ERR_BLASNET_DATA. @internal
 */
export function classesOf(p: Matrix, where: string): Int32Array {
  const { rows, cols, data } = p;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      if (Number.isNaN(data[o + j])) {
        throw new BlasnetError(ErrorCode.DATA, `${where}: row ${r + 1} has no class: its probabilities hold NaN ` +
          '(its input holds a NaN or an infinity, or the model\'s weights do); clean or impute the input first');
      }
    }
    if (cols === 1) {
      out[r] = data[o] > 0.5 ? 1 : 0;
      continue;
    }
    let best = 0;
    for (let j = 1; j < cols; j++) if (data[o + j] > data[o + best]) best = j;
    out[r] = best;
  }
  return out;
}
