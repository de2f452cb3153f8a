/**
 * Seeded train / validation / test splits, optionally stratified by class.
 */
import { largeFloat32Array } from '../backend/memory';
import { defaultBackend } from '../backend/select';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { Rng } from '../rng';
import { Matrix } from '../tensor';
import { typedArrayTag } from '../typed';
import { bool, integer, matrix, options as checkOptions, show, targetWidth } from './check';
import type { Targets } from './check';

export type { Targets } from './check';

/** One part of a split: copies of the chosen rows, and their indices in the original data. */
export interface SplitPart<Y extends Targets = Targets> {
  /** The part's rows of x, in `index` order. */
  x: Matrix;
  /** The part's targets (same kind as the y given), or null when y was null. */
  y: Y | null;
  /** Which rows of the original x these are, in the part's (shuffled) order. */
  index: Int32Array;
}

/** Options of trainTestSplit. */
export interface TrainTestSplitOptions {
  /** The share of rows for the test part, in [0, 1]; test gets round(testFraction * n). Default 0.25. */
  testFraction?: number;
  /** The number of test rows, in [0, n]; instead of testFraction. */
  testSize?: number;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /** Keep each class's share in every part (y must be Int32Array labels). Default false. */
  stratify?: boolean;
}

/** Options of split. */
export interface SplitOptions {
  /** Shares of [train, validation, test]: non-negative, summing to 1. */
  fractions: [number, number, number];
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /** Keep each class's share in every part (y must be Int32Array labels). Default false. */
  stratify?: boolean;
}

/**
 * Splits rows into a training and a test part after a seeded shuffle. The test part has testSize
 * rows, or round(testFraction * n) (default testFraction 0.25); the parts are disjoint, cover
 * every row and come back shuffled, as copies. With stratify, every class c with n_c rows puts
 * floor or ceil of n_c * test / n of them in the test part (within one sample of its proportion),
 * while the part sizes stay exactly as without stratify.
 */
export function trainTestSplit<Y extends Targets>(x: Matrix, y: Y | null, options?: TrainTestSplitOptions):
  { train: SplitPart<Y>; test: SplitPart<Y> } {
  const fn = 'trainTestSplit';
  const m = matrix(fn, 'x', x);
  const n = m.rows;
  const opts = checkOptions(fn, options, { testFraction: true, testSize: true, seed: true, stratify: true });
  let test: number;
  if (opts.testSize !== undefined) {
    if (opts.testFraction !== undefined) throw rangeError(ErrorCode.ARG_RANGE, `${fn}: give options.testFraction or options.testSize, not both`);
    const t = opts.testSize;
    if (!(typeof t === 'number' && Number.isInteger(t) && t >= 0 && t <= n)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected integer in [0, ${n}] for options.testSize but received ${show(t)}`);
    }
    test = t;
  } else {
    const f = opts.testFraction ?? 0.25;
    if (!(typeof f === 'number' && f >= 0 && f <= 1)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected number in [0, 1] for options.testFraction but received ${show(f)}`);
    }
    test = Math.round(f * n);
  }
  const [train, testPart] = splitRows(fn, m, y, [n - test, test], opts.seed, opts.stratify);
  return { train, test: testPart };
}

/**
 * The command line's stratified split of class labels: as trainTestSplit with stratify, except
 * that the rows of classes with a single row stay in the training part. A stratified split has
 * no share of one row to give the test part, and there its class would be one the model never
 * saw in training (scikit-learn refuses such a class instead). The other rows are split as
 * trainTestSplit splits them, round(testFraction * (n - singletons)) to the test part, so
 * without singletons the parts are trainTestSplit's exactly; `singletons` counts the rows kept.
 * @internal
 */
export function stratifiedSplitKeepingSingletons(x: Matrix, y: Int32Array, options: { testFraction: number; seed: number }):
  { train: SplitPart<Int32Array>; test: SplitPart<Int32Array>; singletons: number } {
  const count = new Map<number, number>();
  for (const c of y) count.set(c, (count.get(c) ?? 0) + 1);
  const single = (i: number) => count.get(y[i]) === 1;
  const kept = Int32Array.from({ length: y.length }, (_, i) => i).filter(single);
  const split = { testFraction: options.testFraction, seed: options.seed, stratify: true };
  if (kept.length === 0) return { ...trainTestSplit(x, y, split), singletons: 0 };
  const rest = Int32Array.from({ length: y.length }, (_, i) => i).filter((i) => !single(i));
  const parts = rest.length > 0
    ? trainTestSplit(gatherMatrix(x, rest), gatherTargets(y, 1, rest), split)
    : { train: { index: new Int32Array(0) }, test: { index: new Int32Array(0) } };
  const part = (index: Int32Array): SplitPart<Int32Array> => ({ x: gatherMatrix(x, index), y: gatherTargets(y, 1, index), index });
  const train = new Int32Array(parts.train.index.length + kept.length);
  train.set(parts.train.index.map((i) => rest[i]));
  train.set(kept, parts.train.index.length);
  return { train: part(train), test: part(parts.test.index.map((i) => rest[i])), singletons: kept.length };
}

/**
 * A three-way split into train, validation and test parts with the given fractions (sizes by the
 * largest-remainder method, so they sum to n and each is within one row of fraction * n), after a
 * seeded shuffle; copies, disjoint, covering every row. With stratify, each class's count in each
 * part is the floor or ceil of its proportional share, and the part sizes stay as without stratify.
 */
export function split<Y extends Targets>(x: Matrix, y: Y | null, options: SplitOptions):
  { train: SplitPart<Y>; val: SplitPart<Y>; test: SplitPart<Y> } {
  const fn = 'split';
  const m = matrix(fn, 'x', x);
  const opts = checkOptions(fn, options, { fractions: true, seed: true, stratify: true });
  const f = opts.fractions;
  if (!Array.isArray(f) || f.length !== 3 || !f.every((v) => typeof v === 'number' && v >= 0 && Number.isFinite(v))
    || Math.abs(f[0] + f[1] + f[2] - 1) > 1e-9) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected options.fractions to be three non-negative numbers summing to 1 but received ${show(f)}`);
  }
  const [train, val, test] = splitRows(fn, m, y, apportion(m.rows, f), opts.seed, opts.stratify);
  return { train, val, test };
}

/** Sizes summing to n, proportional to `fractions` (largest remainder; ties to the earlier part). */
function apportion(n: number, fractions: number[]): number[] {
  const exact = fractions.map((f) => f * n);
  const sizes = exact.map(Math.floor);
  let left = n - sizes.reduce((a, b) => a + b, 0);
  const order = exact.map((e, p) => p).sort((p, q) => (exact[q] - sizes[q]) - (exact[p] - sizes[p]) || p - q);
  for (let i = 0; left > 0; i = (i + 1) % order.length, left--) sizes[order[i]]++;
  return sizes;
}

function splitRows<Y extends Targets>(fn: string, x: Matrix, y: Y | null, sizes: number[], seedOption: number | undefined,
  stratifyOption: boolean | undefined): SplitPart<Y>[] {
  const n = x.rows;
  const width = targetWidth(fn, 'y', y, n);
  const seed = integer(fn, 'options.seed', seedOption ?? 0);
  const stratify = bool(fn, 'options.stratify', stratifyOption ?? false);
  const rng = new Rng(seed);
  let parts: Int32Array[];
  if (stratify) {
    if (typedArrayTag(y) !== 'Int32Array') {
      throw typeError(ErrorCode.ARG_TYPE, `${fn}: options.stratify needs Int32Array class labels for y but received ${show(y)}`);
    }
    parts = stratifiedParts(fn, y as Int32Array, sizes, rng);
  } else {
    const perm = permutation(n, rng);
    let o = 0;
    parts = sizes.map((s) => {
      const p = perm.slice(o, o + s);
      o += s;
      return p;
    });
  }
  return parts.map((index) => ({ x: gatherMatrix(x, index), y: y === null || y === undefined ? null : gatherTargets(y, width, index), index }));
}

/** A seeded uniform permutation of 0..n-1 (Fisher-Yates). */
function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  shuffle(p, n, rng);
  return p;
}

/** Shuffles the first n entries of a in place (see Rng.shuffle). @internal */
export function shuffle(a: Int32Array, n: number, rng: Rng): void {
  rng.shuffle(a, n);
}

/**
 * Stratified allocation: class c (n_c rows) gets t_cp = floor(q_cp) or ceil(q_cp) rows in part p,
 * q_cp = n_c * size_p / n, with sum_p t_cp = n_c and sum_c t_cp = size_p. Such a rounding always
 * exists (the fractional q is a point of the transportation polytope with these integer margins,
 * whose vertices are integral); it is found by giving the floors, then placing the leftover
 * rows with augmenting paths (largest remainders first), as in bipartite matching.
 * @internal
 */
export function stratifiedParts(fn: string, labels: Int32Array, sizes: number[], rng: Rng): Int32Array[] {
  const n = labels.length;
  const P = sizes.length;
  // Each class's rows in row order, in one typed array grouped by class (classes in order of first
  // appearance): per-class JS arrays outgrew V8's array limit at about 1.3e8 rows of a class.
  const classOf = new Map<number, number>();
  const rowClass = new Int32Array(n);
  const sizesOf: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l < 0) throw rangeError(ErrorCode.LABEL, `${fn}: y[${i}] = ${l} is negative; class labels are 0, 1, ...`);
    let c = classOf.get(l);
    if (c === undefined) {
      c = sizesOf.length;
      classOf.set(l, c);
      sizesOf.push(0);
    }
    rowClass[i] = c;
    sizesOf[c]++;
  }
  const C = sizesOf.length;
  const start = new Float64Array(C + 1);
  for (let c = 0; c < C; c++) start[c + 1] = start[c] + sizesOf[c];
  const grouped = new Int32Array(n);
  const at = start.slice(0, C);
  for (let i = 0; i < n; i++) grouped[at[rowClass[i]]++] = i;
  const members = Array.from({ length: C }, (_, c) => grouped.subarray(start[c], start[c + 1]));
  const count = new Int32Array(C * P); // t_cp
  const rem = new Float64Array(C * P); // n_c * size_p mod n: > 0 where q_cp is fractional
  const need = new Int32Array(C);
  const room = Int32Array.from(sizes);
  for (let c = 0; c < C; c++) {
    const nc = members[c].length;
    let given = 0;
    for (let p = 0; p < P; p++) {
      const num = nc * sizes[p];
      let fl = Math.floor(num / n);
      if (fl * n > num) fl--;
      if ((fl + 1) * n <= num) fl++;
      count[c * P + p] = fl;
      rem[c * P + p] = num - fl * n;
      given += fl;
      room[p] -= fl;
    }
    need[c] = nc - given;
  }
  const extra = new Uint8Array(C * P);
  const visited = new Uint8Array(P);
  const prefs = Array.from({ length: C }, (_, c) =>
    Array.from({ length: P }, (_, p) => p).filter((p) => rem[c * P + p] > 0).sort((p, q) => rem[c * P + q] - rem[c * P + p] || p - q));
  // Finds a part for one more row of class c, moving other classes' extra rows along if needed.
  const augment = (c: number): boolean => {
    for (const p of prefs[c]) {
      if (extra[c * P + p] || visited[p]) continue;
      visited[p] = 1;
      if (room[p] > 0) {
        extra[c * P + p] = 1;
        room[p]--;
        return true;
      }
      for (let o = 0; o < C; o++) {
        if (o !== c && extra[o * P + p] && augment(o)) {
          extra[o * P + p] = 0;
          extra[c * P + p] = 1;
          return true;
        }
      }
    }
    return false;
  };
  // Any order of classes reaches a full allocation (each augmentation keeps the placed rows placed).
  for (let c = 0; c < C; c++) {
    for (let u = 0; u < need[c]; u++) {
      visited.fill(0);
      if (!augment(c)) throw new BlasnetError(ErrorCode.INTERNAL, `${fn}: no stratified allocation found (please report)`);
    }
  }
  const parts = sizes.map((s) => new Int32Array(s));
  const fill = new Int32Array(P);
  for (let c = 0; c < C; c++) {
    const idx = members[c].slice();
    shuffle(idx, idx.length, rng);
    let o = 0;
    for (let p = 0; p < P; p++) {
      const t = count[c * P + p] + extra[c * P + p];
      parts[p].set(idx.subarray(o, o + t), fill[p]);
      fill[p] += t;
      o += t;
    }
  }
  // Interleave the classes within each part.
  for (const part of parts) shuffle(part, part.length, rng);
  return parts;
}

/** The rows `index` of x, as a new Matrix (the backend's gatherRows). */
function gatherMatrix(x: Matrix, index: Int32Array): Matrix {
  const out = largeFloat32Array(index.length * x.cols);
  if (out.length > 0) defaultBackend().gatherRows(index.length, x.cols, x.rows, index, x.data, out);
  return new Matrix(out, index.length, x.cols);
}

function gatherTargets<Y extends Targets>(y: Y, width: number, index: Int32Array): Y {
  if (y instanceof Matrix) return gatherMatrix(y, index) as Y;
  if (typedArrayTag(y) === 'Int32Array') {
    const src = y as Int32Array;
    const out = new Int32Array(index.length);
    for (let i = 0; i < index.length; i++) out[i] = src[index[i]];
    return out as Y;
  }
  const src = y as Float32Array;
  const out = new Float32Array(index.length * width);
  if (out.length > 0) defaultBackend().gatherRows(index.length, width, src.length / width, index, src, out);
  return out as Y;
}
