/**
 * Monte Carlo dropout (Gal and Ghahramani): predictions with dropout (and DropConnect, Gaussian
 * noise) active and BatchNorm in inference mode, repeated; their mean and spread estimate the
 * model's uncertainty.
 */
import { checkOptionKeys, show } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';
import type { Input, Sequential } from '../model/sequential';
import { scoreKind, toProbabilities } from '../predict';
import { Rng } from '../rng';
import { Matrix } from '../tensor';
import type { Dataset } from '../data/dataset';

/**
 * What mcPredict returns: per row and output, the mean over the samples and its standard
 * deviation (of probabilities when the outputs are class scores).
 */
export interface McPrediction {
  readonly mean: Matrix;
  /** The standard deviation over the samples (population form, dividing by the sample count). */
  readonly std: Matrix;
}

/**
 * Runs `samples` stochastic forward passes over x (`batchSize` rows at a time, default 256) with
 * dropout-family layers drawing from a generator seeded by `seed` (default the model's seed) and
 * BatchNorm on its running statistics; returns the mean and standard deviation over the passes.
 * For class scores these are of each pass's probabilities, as predictProba gives them: a final
 * softmax's or sigmoid's outputs, or the softmax (crossEntropy) or sigmoid (binaryCrossEntropy)
 * of a logits model's outputs, so the mean is the MC-dropout predictive distribution of Gal and
 * Ghahramani and agrees with Ensemble.predict (averaging the logits first would give
 * softmax(mean logits), another, sharper distribution). Other models' outputs (regression) are
 * averaged as they are. The model, its mask stream and its statistics are unchanged. The stored
 * preprocessing applies, as in predict.
 */
export function mcPredict(model: Sequential, x: Input | Dataset, options: { samples: number; batchSize?: number; seed?: number }): McPrediction {
  const where = 'mcPredict';
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { samples, batchSize?, seed? }`);
  checkOptionKeys(where, options, { samples: true, batchSize: true, seed: true });
  const { samples, batchSize = 256, seed = model.seed } = options;
  if (!(Number.isInteger(samples) && samples >= 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for samples but received ${show(samples)}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for batchSize but received ${show(batchSize)}`);
  if (!Number.isInteger(seed)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected integer for seed but received ${show(seed)}`);
  // predict's input path: the same conversion and checks (a shrunk or detached x, NaN or infinities are coded errors).
  const input = model.inputMatrix(x, where, true);
  const rows = input.rows, cols = input.cols, out = model.outputSize;
  const sum = new Float64Array(rows * out), sq = new Float64Array(rows * out);
  // Logits become each pass's probabilities before averaging; probabilities and values are averaged as they are.
  const kind = scoreKind(model);
  const logits = kind === 'softmax' || kind === 'sigmoid' ? kind : null;
  const probs = logits ? new Float32Array(Math.min(batchSize, rows) * out) : null;
  const rng = new Rng(seed);
  for (let s = 0; s < samples; s++) {
    for (let r = 0; r < rows; r += batchSize) {
      const n = Math.min(batchSize, rows - r);
      // n rows given as such, as predict runs each batch: the pass never takes its rows from the data's length.
      const y = model.forward(new Matrix(input.data.subarray(r * cols, (r + n) * cols), n, cols), { training: false, stochasticRng: rng });
      let v32 = y.data;
      if (logits && probs) {
        toProbabilities(model.backend, logits, n, out, y.data, probs);
        v32 = probs;
      }
      const o = r * out;
      for (let i = 0; i < n * out; i++) {
        const v = v32[i];
        sum[o + i] += v;
        sq[o + i] += v * v;
      }
    }
  }
  const mean = new Float32Array(rows * out), std = new Float32Array(rows * out);
  for (let i = 0; i < rows * out; i++) {
    const m = sum[i] / samples;
    mean[i] = m;
    std[i] = Math.sqrt(Math.max(0, sq[i] / samples - m * m));
  }
  return { mean: new Matrix(mean, rows, out), std: new Matrix(std, rows, out) };
}
