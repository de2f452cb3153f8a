import { show } from './describe';
import { ErrorCode, rangeError, typeError } from './errors';
import { isInt32Array, typedLength } from './typed';
import { newFloat32Array } from './backend/memory';

/** One 32-bit word mixed (MurmurHash3's finaliser): every input bit moves every output bit. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * An integer seed as the 32 bits a generator starts from: a seed in [-2^31, 2^32) as its low 32
 * bits (as it always was), a larger one (a timestamp, 2^32 + 1) with its higher bits folded in, so
 * that seeds differing only above bit 31 give different streams rather than the same one.
 * @internal
 */
export function seed32(seed: number): number {
  if (seed >= -2147483648 && seed < 4294967296) return seed >>> 0;
  const hi = Math.floor(seed / 4294967296);
  return ((seed >>> 0) ^ fmix32((hi >>> 0) ^ 0x3c6ef372) ^ fmix32((Math.floor(hi / 4294967296) >>> 0) ^ 0xa54ff53a)) >>> 0;
}

/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded through splitmix32). The same seed
 * gives the same sequence on every platform and backend.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  constructor(seed = 0) {
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    this.reset(seed);
  }

  /**
   * Restarts the sequence from `seed`, as a new Rng(seed) would: an integer, its 32 bits as
   * seed32 takes them (the low 32 of a seed in [-2^31, 2^32), the higher ones folded in past it).
   */
  reset(seed: number): void {
    if (typeof seed !== 'number' || !Number.isInteger(seed)) {
      throw rangeError(ErrorCode.ARG_RANGE, `Rng: Expected integer for seed but received ${typeof seed === 'number' ? seed : typeof seed}`);
    }
    let x = seed32(seed);
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spare = null;
  }

  /** The generator's state, to continue the same sequence elsewhere (setState). */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3, this.spare ?? NaN];
  }

  /**
   * Continues from a state getState returned: four uint32 words, not all zero (the generator
   * would then return zeros forever), and the cached normal sample or NaN.
   */
  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 5 || state.some((v) => typeof v !== 'number')) {
      throw typeError(ErrorCode.ARG_TYPE, 'Rng.setState: Expected the 5 numbers getState() returns');
    }
    const words = state.slice(0, 4);
    if (words.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff) || words.every((v) => v === 0)) {
      throw rangeError(ErrorCode.ARG_RANGE, 'Rng.setState: Expected four uint32 words, not all zero, as getState() returns');
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
    this.spare = Number.isNaN(state[4]) ? null : state[4];
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0; this.s1 >>>= 0; this.s2 >>>= 0; this.s3 >>>= 0;
    return result;
  }

  /** A uniform number in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform number in [lo, hi); lo and hi are finite numbers. */
  range(lo: number, hi: number): number {
    if (!(typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(hi - lo))) badRange('range', lo, hi);
    return lo + (hi - lo) * this.uniform();
  }

  /** A uniform integer in [0, n); n is a positive integer up to 2^53. */
  int(n: number): number {
    if (!(Number.isSafeInteger(n) && n > 0)) {
      throw rangeError(ErrorCode.ARG_RANGE, `Rng.int: Expected positive integer for n but received ${show(n)}`);
    }
    return Math.floor(this.uniform() * n);
  }

  /**
   * Shuffles the first n entries of a (default all) in place: Fisher-Yates from the end,
   * swapping entry i with entry int(i + 1), drawing exactly what those n - 1 int() calls would and
   * leaving the generator where they would. The state lives in locals for the loop (as int32,
   * which V8 keeps unboxed): a process's first shuffle of a large set runs in a few milliseconds
   * rather than the tens the calls take before they are compiled, and later ones several times
   * faster.
   */
  shuffle(a: Int32Array, n?: number): void {
    if (!isInt32Array(a)) throw typeError(ErrorCode.ARG_TYPE, `Rng.shuffle: Expected Int32Array for a but received ${show(a)}`);
    const length = typedLength(a);
    if (n === undefined) n = length;
    else if (!(Number.isInteger(n) && n >= 0 && n <= length)) {
      throw rangeError(ErrorCode.ARG_RANGE, `Rng.shuffle: Expected integer in [0, ${length}] for n but received ${show(n)}`);
    }
    const words = SCRATCH;
    words[0] = this.s0; words[1] = this.s1; words[2] = this.s2; words[3] = this.s3;
    shuffleWords(words, a, n);
    this.s0 = words[0] >>> 0;
    this.s1 = words[1] >>> 0;
    this.s2 = words[2] >>> 0;
    this.s3 = words[3] >>> 0;
  }

  /** A standard normal sample (Box-Muller, polar form). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    return u * f;
  }

  /** A Float32Array of n uniform values in [lo, hi). */
  uniformArray(n: number, lo = -1, hi = 1): Float32Array {
    if (!(Number.isInteger(n) && n >= 0 && n <= MAX_ARRAY)) {
      throw rangeError(ErrorCode.ARG_RANGE, `Rng.uniformArray: Expected integer in [0, 2^31) for n but received ${show(n)}`);
    }
    if (!(typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(hi - lo))) badRange('uniformArray', lo, hi);
    const a = newFloat32Array(n, { where: 'Rng.uniformArray' });
    for (let i = 0; i < n; i++) a[i] = this.range(lo, hi);
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The longest array uniformArray makes (2^31 - 1 elements, 8 GiB of float32). */
const MAX_ARRAY = 0x7fffffff;

function badRange(fn: string, lo: unknown, hi: unknown): never {
  throw rangeError(ErrorCode.ARG_RANGE, `Rng.${fn}: Expected finite numbers for lo and hi but received ${show(lo)} and ${show(hi)}`);
}

/** Rng.shuffle's scratch for its four words (one shuffle runs at a time: JavaScript is single-threaded). */
const SCRATCH = new Int32Array(4);

/**
 * Rng.shuffle's loop over a generator state held as four int32 words (xoshiro128**'s uint32 words,
 * as bits), advanced in place: the JS backend's shuffledRange runs it on the words it is given,
 * the native backend runs the same steps in C++ (native/rowops.cc). Arguments are not checked.
 */
export function shuffleWords(words: Int32Array, a: Int32Array, n: number): void {
  let s0 = words[0] | 0, s1 = words[1] | 0, s2 = words[2] | 0, s3 = words[3] | 0;
  for (let i = n - 1; i > 0; i--) {
    // Two nextUint32 steps, as uniform() takes them.
    let r = Math.imul(s1, 5);
    r = Math.imul((r << 7) | (r >>> 25), 9);
    let t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    const hi = r >>> 5;
    r = Math.imul(s1, 5);
    r = Math.imul((r << 7) | (r >>> 25), 9);
    t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    const j = Math.floor(((hi * 67108864 + (r >>> 6)) / 9007199254740992) * (i + 1));
    const v = a[i];
    a[i] = a[j];
    a[j] = v;
  }
  words[0] = s0; words[1] = s1; words[2] = s2; words[3] = s3;
}
