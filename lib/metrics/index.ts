/**
 * Evaluation metrics over predictions already made: the confusion matrix, per-class precision,
 * recall and F1 with macro and weighted averages, ROC AUC for binary problems, and R2, MAE and
 * RMSE for regression; with fixed-decimal text reports. Definitions follow scikit-learn's
 * (sklearn.metrics): a precision or recall whose denominator is 0 is 0, R2 of a constant target
 * is 1 for a perfect prediction and 0 otherwise, and several regression outputs are averaged
 * uniformly. Sums run in float64.
 */
import { optionsArg, show } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { largest } from '../math';
import { held, Matrix } from '../tensor';
import { refuseDetached } from '../data/check';
import { typedArrayTag } from '../typed';

/** Class numbers: an Int32Array or an array of integers. */
export type ClassLabels = Int32Array | ArrayLike<number>;

function labels(fn: string, name: string, v: unknown, classes: number): ArrayLike<number> {
  if (!(typedArrayTag(v) !== undefined || Array.isArray(v))) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Int32Array or array of class numbers for ${name}`);
  }
  refuseDetached(fn, name, v);
  const a = v as ArrayLike<number>;
  for (let i = 0; i < a.length; i++) {
    if (!(Number.isInteger(a[i]) && a[i] >= 0 && a[i] < classes)) {
      throw rangeError(ErrorCode.LABEL, `${fn}: ${name}[${i}] = ${show(a[i])} is not a class in [0, ${classes})`);
    }
  }
  return a;
}

/**
 * The most classes a confusion matrix is made for: 8192, a matrix of 2^26 cells (about 0.5 GB of
 * numbers). A label past it is most likely an id, a year or a code rather than a class number,
 * and the k x k matrix of its count would fill the heap (100001 classes: 10^10 cells).
 */
export const MAX_CONFUSION_CLASSES = 8192;

function classCount(fn: string, yTrue: unknown, yPred: unknown, classes: number | undefined): number {
  if (classes !== undefined) {
    if (!(Number.isInteger(classes) && classes >= 1)) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected positive integer for classes but received ${show(classes)}`);
    if (classes > MAX_CONFUSION_CLASSES) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: ${classes} classes would make a confusion matrix of ${classes * classes} cells; at most ${MAX_CONFUSION_CLASSES} classes are counted`);
    }
    return classes;
  }
  let top = 0;
  for (const [name, v] of [['yTrue', yTrue], ['yPred', yPred]] as [string, ArrayLike<number>][]) {
    if (!(v && typeof v === 'object' && typeof v.length === 'number')) continue;
    for (let i = 0; i < v.length; i++) {
      if (!(Number.isInteger(v[i]) && v[i] + 1 > top)) continue;
      if (v[i] >= MAX_CONFUSION_CLASSES) {
        throw rangeError(ErrorCode.LABEL, `${fn}: ${name}[${i}] = ${v[i]}: labels are class numbers 0..k-1 and at most ${MAX_CONFUSION_CLASSES} classes are counted ` +
          '(map ids, years or codes to class numbers first)');
      }
      top = v[i] + 1;
    }
  }
  return Math.max(top, 1);
}

/**
 * v's entries as numbers, each checked: a non-number (a string, null, ...) is ERR_BLASNET_ARG_TYPE
 * rather than coerced, and NaN or an infinity is ERR_BLASNET_DATA, since no score or error can
 * be computed from it. `at(i)` names entry i in the message.
 */
function finiteNumbers(fn: string, v: ArrayLike<unknown>, at: (i: number) => string): void {
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${fn}: ${at(i)} is ${show(x)}, not a number`);
    if (!Number.isFinite(x)) throw new BlasnetError(ErrorCode.DATA, `${fn}: ${at(i)} is ${x}; every value must be a finite number`);
  }
}

/**
 * The confusion matrix: out[t][p] counts the rows of true class t predicted as p, for classes
 * 0..classes-1 (default: one more than the largest label in either array). yTrue and yPred must
 * have the same length (ERR_BLASNET_SHAPE); a label outside the classes is ERR_BLASNET_LABEL.
 */
export function confusionMatrix(yTrue: ClassLabels, yPred: ClassLabels, classes?: number): number[][] {
  const fn = 'confusionMatrix';
  const k = classCount(fn, yTrue, yPred, classes);
  const t = labels(fn, 'yTrue', yTrue, k);
  const p = labels(fn, 'yPred', yPred, k);
  if (t.length !== p.length) throw rangeError(ErrorCode.SHAPE, `${fn}: yTrue has ${t.length} labels but yPred has ${p.length}`);
  const out = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < t.length; i++) out[t[i]][p[i]]++;
  return out;
}

/**
 * The area under the ROC curve of a binary problem: the probability that a random positive row
 * scores above a random negative one, ties counting one half (the Mann-Whitney U statistic over
 * average ranks). yTrue holds 0 (negative) and 1 (positive); scores any finite numbers (the
 * positive class's probability). NaN when one class is absent; ERR_BLASNET_LABEL for a label other
 * than 0 or 1, ERR_BLASNET_SHAPE for different lengths or no rows, ERR_BLASNET_DATA for a NaN or infinite
 * score and ERR_BLASNET_ARG_TYPE for one that is not a number.
 */
export function rocAuc(yTrue: ClassLabels, scores: ArrayLike<number>): number {
  const fn = 'rocAuc';
  const t = labels(fn, 'yTrue', yTrue, 2);
  if (!(typedArrayTag(scores) !== undefined || Array.isArray(scores))) throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected an array of scores`);
  refuseDetached(fn, 'scores', scores);
  if (scores.length !== t.length) throw rangeError(ErrorCode.SHAPE, `${fn}: yTrue has ${t.length} labels but scores has ${scores.length}`);
  if (t.length === 0) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected at least one row`);
  finiteNumbers(fn, scores, (i) => `scores[${i}]`);
  const n = t.length;
  // A typed array: a JS array of indices outgrows V8's array limit at about 1.3e8 rows.
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a] - scores[b]);
  let positives = 0, rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const rank = (i + j) / 2 + 1; // average 1-based rank of the tie group
    for (let q = i; q <= j; q++) {
      if (t[order[q]] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
}

/** Precision, recall, F1 and support of one class or one average. */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true class this is (for an average: all rows). */
  support: number;
}

/** What classificationReport returns. */
export interface ClassificationReport {
  /** Fraction of rows predicted right. */
  accuracy: number;
  /** Per class, in class-number order, with its name. */
  classes: (ClassScores & { name: string })[];
  /**
   * Unweighted mean over classes: every class of classNames when given, else the classes that
   * occur in yTrue or yPred (scikit-learn's default labels; a label no row has or predicts is
   * listed in `classes` with zeros but does not pull the mean down).
   */
  macro: ClassScores;
  /** Mean over classes weighted by support. */
  weighted: ClassScores;
  /** confusion[t][p], as confusionMatrix. */
  confusion: number[][];
  /** ROC AUC of class 1 against class 0, for two classes when scores are given. */
  rocAuc?: number;
}

/**
 * The classification report users know: per-class precision = TP / (TP + FP), recall =
 * TP / (TP + FN), F1 = their harmonic mean (0 when both are 0), support; accuracy; macro and
 * support-weighted averages; the confusion matrix; and, for two classes with `scores` (the
 * probability of class 1 per row), ROC AUC. Classes are 0..classNames.length-1 (default: one more
 * than the largest label); names default to the class numbers. No rows is ERR_BLASNET_SHAPE.
 */
export function classificationReport(yTrue: ClassLabels, yPred: ClassLabels,
  options: { classNames?: readonly string[]; scores?: ArrayLike<number> } = {}): ClassificationReport {
  const fn = 'classificationReport';
  options = optionsArg(fn, options, { classNames: true, scores: true });
  refuseDetached(fn, 'yTrue', yTrue);
  refuseDetached(fn, 'yPred', yPred);
  const names = options.classNames;
  if (names !== undefined && !(Array.isArray(names) && names.length > 0 && names.every((s) => typeof s === 'string'))) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a non-empty array of strings for options.classNames`);
  }
  const confusion = confusionMatrix(yTrue, yPred, names?.length ?? classCount(fn, yTrue, yPred, undefined));
  const k = confusion.length;
  const n = yTrue.length;
  // No rows: no accuracy, and no classes to report without names (scikit-learn refuses too).
  if (n === 0) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected at least one row`);
  let correct = 0;
  const classes = confusion.map((row, c) => {
    const tp = row[c];
    correct += tp;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let t = 0; t < k; t++) predicted += confusion[t][c];
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    return { name: names ? names[c] : String(c), precision, recall, f1, support };
  });
  // Without names, the labels scikit-learn reports: those in yTrue or yPred.
  const counted = names ? classes : classes.filter((s, c) => s.support > 0 || confusion.some((row) => row[c] > 0));
  const average = (weight: (s: ClassScores) => number): ClassScores => {
    const total = counted.reduce((a, s) => a + weight(s), 0);
    const mean = (key: 'precision' | 'recall' | 'f1') => (total ? counted.reduce((a, s) => a + weight(s) * s[key], 0) / total : 0);
    return { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support: n };
  };
  const report: ClassificationReport = {
    accuracy: n ? correct / n : NaN,
    classes,
    macro: average(() => 1),
    weighted: average((s) => s.support),
    confusion,
  };
  if (options.scores !== undefined) {
    if (k !== 2) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: options.scores (ROC AUC) needs two classes but there are ${k}`);
    report.rocAuc = rocAuc(yTrue, options.scores);
  }
  return report;
}

/** Regression scores, averaged over outputs, with the per-output values. */
export interface RegressionReport {
  /** Coefficient of determination 1 - SS_res / SS_tot, averaged uniformly over outputs. */
  r2: number;
  /** Mean absolute error, averaged uniformly over outputs (the mean over every value). */
  mae: number;
  /**
   * Root mean squared error, averaged uniformly over outputs: the mean of the outputs' RMSEs, as
   * sklearn's root_mean_squared_error (multioutput 'uniform_average'), not the root of the MSE
   * over every value.
   */
  rmse: number;
  /** The same per output column, with its name. */
  outputs: { name: string; r2: number; mae: number; rmse: number }[];
}

/**
 * A Matrix, an array of one output's values, or an array of rows (each an array of the outputs'
 * values, of one length) as rows and columns, every value checked (see finiteNumbers). Arrays are
 * read as they are (float64), not rounded to float32 in a Matrix.
 */
function values(fn: string, name: string, v: Matrix | ArrayLike<number> | readonly ArrayLike<number>[]): { data: ArrayLike<number>; rows: number; cols: number } {
  if (v instanceof Matrix) {
    held(fn, name, v);
    const data = v.data.subarray(0, v.rows * v.cols);
    finiteNumbers(fn, data, (i) => `${name} row ${Math.floor(i / v.cols) + 1}, column ${(i % v.cols) + 1}`);
    return { data, rows: v.rows, cols: v.cols };
  }
  if (!(typedArrayTag(v) !== undefined || Array.isArray(v))) throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a Matrix or array of numbers for ${name}`);
  refuseDetached(fn, name, v);
  const isRow = (r: unknown): r is ArrayLike<unknown> => Array.isArray(r) || typedArrayTag(r) !== undefined;
  if (Array.isArray(v) && v.length > 0 && isRow(v[0])) {
    const rows = v as unknown[];
    const cols = (rows[0] as ArrayLike<unknown>).length;
    const data = new Float64Array(rows.length * cols);
    rows.forEach((r, i) => {
      if (!isRow(r) || r.length !== cols) {
        throw rangeError(ErrorCode.SHAPE, `${fn}: ${name} row 1 holds ${cols} values but row ${i + 1} ${isRow(r) ? `holds ${r.length}` : `is ${show(r)}`}`);
      }
      finiteNumbers(fn, r, (j) => `${name} row ${i + 1}, column ${j + 1}`);
      data.set(r as ArrayLike<number>, i * cols);
    });
    return { data, rows: rows.length, cols };
  }
  const a = v as ArrayLike<number>;
  finiteNumbers(fn, a, (i) => `${name}[${i}]`);
  return { data: a, rows: a.length, cols: 1 };
}

/**
 * R2, MAE and RMSE of predictions against true values, overall and per output column (names
 * default to the column numbers); overall each is the uniform average of the outputs' figures,
 * as scikit-learn's multioutput='uniform_average'. The values are Matrices [rows, outputs], arrays of one output's
 * values, or arrays of rows (one array of the outputs' values per row); arrays are read in
 * float64, so labels whose mean is large next to their spread (timestamps) keep their digits:
 * TabularPreprocessor's labelValues and inverseTargetsFloat64, one output as they are, several
 * split into rows. R2 per output is 1 - sum (y - p)^2 / sum (y - mean y)^2; for a constant y it
 * is 1 when predicted exactly, else 0 (as scikit-learn's r2_score; constant means every value
 * the same, however its float64 mean rounds). Shapes must match (ERR_BLASNET_SHAPE); a NaN or infinite
 * value is ERR_BLASNET_DATA and an entry that is not a number ERR_BLASNET_ARG_TYPE, both naming
 * where it is.
 */
export function regressionReport(yTrue: Matrix | ArrayLike<number> | readonly ArrayLike<number>[],
  yPred: Matrix | ArrayLike<number> | readonly ArrayLike<number>[], options: { names?: readonly string[] } = {}): RegressionReport {
  const fn = 'regressionReport';
  options = optionsArg(fn, options, { names: true });
  if (options.names !== undefined && !(Array.isArray(options.names) && options.names.every((s) => typeof s === 'string'))) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected an array of strings for options.names but received ${show(options.names)}`);
  }
  const t = values(fn, 'yTrue', yTrue);
  const p = values(fn, 'yPred', yPred);
  if (t.rows !== p.rows || t.cols !== p.cols) {
    throw rangeError(ErrorCode.SHAPE, `${fn}: yTrue is [${t.rows}, ${t.cols}] but yPred is [${p.rows}, ${p.cols}]`);
  }
  if (t.rows === 0) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected at least one row`);
  if (t.cols === 0) throw rangeError(ErrorCode.SHAPE, `${fn}: Expected at least one output per row`);
  const k = t.cols, n = t.rows;
  const outputs = [];
  let absAll = 0;
  for (let j = 0; j < k; j++) {
    // The mean of the deviations from the first value, so that large values with a small spread
    // (1e15 + 0 or 1) keep it: a plain float64 sum of 1000 of them rounds to steps of 128.
    // A constant y (every value the same) whose float64 mean is a few ulps off has a spread of
    // rounding noise (1e-34 for ten 0.7s), not 0: 1 - sq / tot would be about -1e30.
    const y0 = t.data[j];
    let shift = 0, constant = true;
    for (let i = 0; i < n; i++) {
      const e = t.data[i * k + j] - y0;
      shift += e;
      if (e !== 0) constant = false;
    }
    shift /= n;
    let abs = 0, sq = 0, tot = 0;
    for (let i = 0; i < n; i++) {
      const y = t.data[i * k + j], d = y - p.data[i * k + j], e = y - y0 - shift;
      abs += Math.abs(d);
      sq += d * d;
      tot += e * e;
    }
    absAll += abs;
    const r2 = !constant ? 1 - sq / tot : sq === 0 ? 1 : 0;
    outputs.push({ name: options.names?.[j] ?? String(j), r2, mae: abs / n, rmse: Math.sqrt(sq / n) });
  }
  return { r2: outputs.reduce((a, o) => a + o.r2, 0) / k, mae: absAll / (n * k), rmse: outputs.reduce((a, o) => a + o.rmse, 0) / k, outputs };
}

/** A report as the matching *Report function returns it (its arrays present), and digits for toFixed. */
function checkReport(fn: string, r: unknown, arrays: readonly string[], digits: unknown): void {
  if (typeof r !== 'object' || r === null || !arrays.every((k) => Array.isArray((r as Record<string, unknown>)[k]))) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a report (as ${fn.replace(/^format/, '').replace(/^./, (c) => c.toLowerCase())} returns it) but received ${show(r)}`);
  }
  if (!(Number.isInteger(digits) && (digits as number) >= 0 && (digits as number) <= 100)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected integer in [0, 100] for digits but received ${show(digits)}`);
  }
}

/** A classification report as a text table with `digits` decimals (default 4), as scikit-learn prints it. */
export function formatClassificationReport(r: ClassificationReport, digits = 4): string {
  checkReport('formatClassificationReport', r, ['classes', 'confusion'], digits);
  const f = (x: number) => x.toFixed(digits);
  const width = largest(r.classes.map((c) => c.name.length), 12);
  const num = digits + 6;
  const line = (name: string, cells: string[]) => name.padStart(width) + cells.map((c) => c.padStart(num)).join('');
  const out = [line('', ['precision', 'recall', 'f1-score', 'support'])];
  for (const c of r.classes) out.push(line(c.name, [f(c.precision), f(c.recall), f(c.f1), String(c.support)]));
  out.push('');
  out.push(line('accuracy', ['', '', f(r.accuracy), String(r.macro.support)]));
  out.push(line('macro avg', [f(r.macro.precision), f(r.macro.recall), f(r.macro.f1), String(r.macro.support)]));
  out.push(line('weighted avg', [f(r.weighted.precision), f(r.weighted.recall), f(r.weighted.f1), String(r.weighted.support)]));
  if (r.rocAuc !== undefined) out.push(line('ROC AUC', ['', '', f(r.rocAuc), '']));
  out.push('', 'confusion matrix (rows: true class, columns: predicted)');
  const cw = Math.max(largest(r.confusion.map((row) => largest(row.map((v) => String(v).length)))), largest(r.classes.map((c) => c.name.length))) + 2;
  out.push(''.padStart(width) + r.classes.map((c) => c.name.padStart(cw)).join(''));
  r.confusion.forEach((row, t) => out.push(r.classes[t].name.padStart(width) + row.map((v) => String(v).padStart(cw)).join('')));
  return out.join('\n');
}

/** A regression report as text with `digits` decimals (default 4); one line per output when there are several. */
export function formatRegressionReport(r: RegressionReport, digits = 4): string {
  checkReport('formatRegressionReport', r, ['outputs'], digits);
  const f = (x: number) => x.toFixed(digits);
  const out = [`R2 ${f(r.r2)}  MAE ${f(r.mae)}  RMSE ${f(r.rmse)}`];
  if (r.outputs.length > 1) for (const o of r.outputs) out.push(`  ${o.name}: R2 ${f(o.r2)}  MAE ${f(o.mae)}  RMSE ${f(o.rmse)}`);
  return out.join('\n');
}
