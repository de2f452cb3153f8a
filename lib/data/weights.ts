/**
 * Weights for imbalanced data: per-class factors (a map, or 'balanced' as scikit-learn computes
 * them) and per-row weights, combined into the one factor per row the weighted loss kernels take.
 */
import { isPlainObject, show, typeName } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';
import { typedArrayTag } from '../typed';
import { refuseDetached } from './check';

/**
 * Per-class weights: a map from class index to factor (classes not named get 1), or 'balanced':
 * n_samples / (n_classes * count(class)), n_classes being the classes that occur, as
 * scikit-learn's compute_class_weight('balanced'). Balanced weights sum to n_samples over the rows.
 */
export type ClassWeight = 'balanced' | Readonly<Record<number, number>>;

/**
 * The class of every row: a label of Int32Array labels; for dense targets of one column, the
 * 0/1 target (binary classification); for several columns, the largest target (one-hot or a
 * distribution). `where` names the caller in errors.
 */
export function rowClasses(y: Int32Array | Float32Array, rows: number, where: string): { classes: Int32Array; count: number } {
  const out = new Int32Array(rows);
  if (typedArrayTag(y) === 'Int32Array') {
    let max = 0;
    for (let r = 0; r < rows; r++) {
      out[r] = y[r];
      max = Math.max(max, y[r]);
    }
    return { classes: out, count: max + 1 };
  }
  const cols = y.length / rows;
  if (cols === 1) {
    for (let r = 0; r < rows; r++) {
      if (y[r] !== 0 && y[r] !== 1) {
        throw rangeError(ErrorCode.TARGET, `${where}: classWeight needs class targets; the target of row ${r + 1} is ${y[r]}, not 0 or 1`);
      }
      out[r] = y[r];
    }
    return { classes: out, count: 2 };
  }
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (y[r * cols + j] > y[r * cols + best]) best = j;
    out[r] = best;
  }
  return { classes: out, count: cols };
}

/**
 * The factor of each class (index 0 .. count-1) for a ClassWeight over rows of the given classes.
 * A map's keys must be class indices below `count` and its values finite and non-negative.
 */
export function classWeights(spec: ClassWeight, classes: Int32Array, count: number, where = 'classWeights'): Float64Array {
  // Checked here too: the function is exported, and a label outside the classes would be left
  // out of its class's count but not of the total (silently wrong weights).
  if (!(Number.isSafeInteger(count) && count >= 1 && count <= 2 ** 24)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected a class count in [1, 2^24] but received ${show(count)}`);
  }
  if (typedArrayTag(classes) !== 'Int32Array') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an Int32Array of class labels but received ${typeName(classes)}`);
  refuseDetached(where, 'classes', classes);
  for (let i = 0; i < classes.length; i++) {
    if (!(classes[i] >= 0 && classes[i] < count)) throw rangeError(ErrorCode.LABEL, `${where}: the label of row ${i + 1} is ${classes[i]}, outside [0, ${count})`);
  }
  const w = new Float64Array(count).fill(1);
  if (spec === 'balanced') {
    const freq = new Float64Array(count);
    for (let i = 0; i < classes.length; i++) freq[classes[i]]++;
    let present = 0;
    for (let c = 0; c < count; c++) if (freq[c] > 0) present++;
    for (let c = 0; c < count; c++) if (freq[c] > 0) w[c] = classes.length / (present * freq[c]);
    return w;
  }
  if (!isPlainObject(spec)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected 'balanced' or a { class: weight } object for classWeight but received ${show(spec)}`);
  }
  for (const [key, value] of Object.entries(spec)) {
    const c = Number(key);
    if (!(Number.isInteger(c) && c >= 0 && c < count && String(c) === key)) {
      throw rangeError(ErrorCode.LABEL, `${where}: classWeight names class ${JSON.stringify(key)}; the classes are 0 .. ${count - 1}`);
    }
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected a finite non-negative weight for class ${c} but received ${show(value)}`);
    }
    w[c] = value;
  }
  return w;
}

/**
 * sampleWeight as a Float32Array of `rows` finite non-negative values (a copy), with a coded error
 * naming the 1-based row of a bad one.
 */
export function sampleWeights(v: unknown, rows: number, where: string): Float32Array {
  if (!(typedArrayTag(v) !== undefined || Array.isArray(v))) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Float32Array or an array of numbers for sampleWeight`);
  }
  const a = v as ArrayLike<unknown>;
  if (a.length !== rows) {
    refuseDetached(where, 'sampleWeight', a);
    throw rangeError(ErrorCode.SHAPE, `${where}: sampleWeight has ${a.length} values but x has ${rows} rows; give one weight per row`);
  }
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const x = a[r];
    if (!(typeof x === 'number' && Number.isFinite(x) && x >= 0 && Math.fround(x) <= 3.4028234663852886e38)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: the sampleWeight of row ${r + 1} is ${show(x)}; expected a finite non-negative number`);
    }
    out[r] = x;
  }
  return out;
}
