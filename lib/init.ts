/**
 * Weight initialisers with torch.nn.init's meaning: a table of entries (formula and defaults in
 * `doc`), gains as in `calculate_gain`, fans as in `_calculate_fan_in_and_fan_out`, and
 * `defaultInit` to pick one from a layer's activation.
 *
 * A dense weight is stored [out, in] (PyTorch's nn.Linear), so fanIn = shape[1] and
 * fanOut = shape[0]. Every random value comes from the caller's seeded Rng, so the same seed gives
 * the same weights; the streams are not PyTorch's, only the distributions are.
 */
import type { ActivationName } from './activations';
import { ErrorCode, rangeError, typeError } from './errors';
import { erf } from './math';
import type { Rng } from './rng';
import { typedArrayTag, typedLength } from './typed';
import { fitsFloat32, hasOwn, show, typeName } from './describe';



// ---------------------------------------------------------------------------------------------
// Gains

/** One nonlinearity's recommended gain: the factor that keeps activation variance steady. */
export interface GainDef {
  /** The value and where it comes from. */
  readonly doc: string;
  /** The gain; `param` is only read by leakyRelu (its negative slope). */
  gain(param: number | undefined): number;
}

/**
 * Gains of torch.nn.init.calculate_gain, camel-cased (`leaky_relu` -> `leakyRelu`), plus the
 * lecture notes' `sigmoidX4`. PyTorch's conv names (all 1) are left out: blasnet has no
 * convolutions.
 */
export const GAINS = {
  linear: { doc: '1 (calculate_gain("linear"))', gain: () => 1 },
  identity: { doc: '1, the same as linear', gain: () => 1 },
  sigmoid: { doc: '1, as in PyTorch (calculate_gain("sigmoid")); see sigmoidX4 for the other convention', gain: () => 1 },
  sigmoidX4: {
    doc: '4: the lecture notes\' Glorot-Bengio rule for sigmoid units, 4 times the tanh-style Xavier ' +
      'range (sigmoid\'(0) = 1/4 where tanh\'(0) = 1), e.g. U(+-4 sqrt(6 / (fanIn + fanOut))). ' +
      'Not in PyTorch, whose sigmoid gain is 1',
    gain: () => 4,
  },
  tanh: { doc: '5/3 (calculate_gain("tanh"))', gain: () => 5 / 3 },
  relu: { doc: 'sqrt(2) (calculate_gain("relu"); He et al. 2015)', gain: () => Math.SQRT2 },
  leakyRelu: {
    doc: 'sqrt(2 / (1 + slope^2)), slope = param, default 0.01 (calculate_gain("leaky_relu", slope))',
    gain: (slope: number | undefined) => {
      const s = slope ?? 0.01;
      return Math.sqrt(2 / (1 + s * s));
    },
  },
  selu: {
    doc: '3/4 (calculate_gain("selu")). For a self-normalising network use lecunNormal ' +
      '(gain 1) instead, as PyTorch\'s own docs advise',
    gain: () => 3 / 4,
  },
} as const satisfies Record<string, GainDef>;

/** A nonlinearity name `calculateGain` knows. */
export type Nonlinearity = keyof typeof GAINS;

/** The nonlinearity names, in table order. */
export const NONLINEARITIES = Object.keys(GAINS) as Nonlinearity[];

function isNonlinearity(v: unknown): v is Nonlinearity {
  return typeof v === 'string' && hasOwn(GAINS, v);
}

/**
 * The recommended gain for a nonlinearity, PyTorch's `calculate_gain`: linear/identity 1,
 * sigmoid 1, tanh 5/3, relu sqrt(2), leakyRelu sqrt(2 / (1 + slope^2)) with `param` = slope
 * (default 0.01), selu 3/4; and sigmoidX4 = 4, the lecture notes' sigmoid rule. `param` is
 * ignored by the others (as in PyTorch) but must be a finite number when given.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  if (!isNonlinearity(nonlinearity)) {
    throw rangeError(
      ErrorCode.UNKNOWN_NAME,
      `calculateGain: Unknown nonlinearity ${show(nonlinearity)}; expected one of ${NONLINEARITIES.join(', ')}`,
    );
  }
  if (param !== undefined) finiteNumber('calculateGain', 'param', param);
  return GAINS[nonlinearity].gain(param);
}

// ---------------------------------------------------------------------------------------------
// Fans

/** A tensor's fan in and fan out. */
export interface Fans {
  readonly fanIn: number;
  readonly fanOut: number;
}

function fansOf(shape: readonly number[]): Fans {
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/**
 * Fan in and fan out of a shape, as torch.nn.init._calculate_fan_in_and_fan_out: for [out, in]
 * fanIn = in and fanOut = out; trailing dimensions multiply both (a receptive field). A 1-D shape
 * [n] (a bias) has fanIn = fanOut = n, where PyTorch raises instead. A 0-D shape is an error.
 */
export function calculateFans(shape: readonly number[]): Fans {
  checkShape('calculateFans', shape);
  if (shape.length === 0) {
    throw rangeError(ErrorCode.ARG_RANGE, 'calculateFans: Expected a shape with at least 1 dimension but received []');
  }
  return fansOf(shape);
}

// ---------------------------------------------------------------------------------------------
// Samplers

function fillUniform(data: Float32Array, lo: number, hi: number, rng: Rng): void {
  for (let i = 0; i < data.length; i++) data[i] = rng.range(lo, hi);
}

function fillNormal(data: Float32Array, mean: number, std: number, rng: Rng): void {
  for (let i = 0; i < data.length; i++) data[i] = mean + std * rng.normal();
}

/**
 * A sampler of Z ~ N(0, 1) conditioned on alpha <= Z <= beta, exact for any interval (Robert 1995,
 * "Simulation of truncated normal variables"). Plain rejection from N(0, 1) when the interval
 * holds at least a quarter of the mass; otherwise a proposal whose acceptance stays above about
 * 1/3 however far in the tail the interval lies, where plain rejection (or PyTorch's inverse-CDF
 * through erfinv, which loses precision there) would not.
 */
function truncatedStandardNormal(alpha: number, beta: number, rng: Rng): () => number {
  if (beta <= 0) {
    const mirrored = truncatedStandardNormal(-beta, -alpha, rng);
    return () => -mirrored();
  }
  const mass = 0.5 * (erf(beta * Math.SQRT1_2) - erf(alpha * Math.SQRT1_2));
  if (mass >= 0.25) {
    return () => {
      for (;;) {
        const z = rng.normal();
        if (z >= alpha && z <= beta) return z;
      }
    };
  }
  // A narrow interval: uniform proposal accepted with probability exp(-z^2 / 2) (around 0) or
  // exp((alpha^2 - z^2) / 2) (in the right tail), never below e^-1 here.
  const floor = alpha > 0 ? alpha * alpha : 0;
  if (alpha <= 0 || beta * beta - alpha * alpha <= 2) {
    return () => {
      for (;;) {
        const z = rng.range(alpha, beta);
        if (rng.uniform() <= Math.exp(0.5 * (floor - z * z))) return z;
      }
    };
  }
  // A wide interval in the right tail: exponential proposal from alpha with Robert's optimal rate.
  const lambda = 0.5 * (alpha + Math.sqrt(alpha * alpha + 4));
  return () => {
    for (;;) {
      const z = alpha - Math.log(1 - rng.uniform()) / lambda;
      if (z > beta) continue;
      const d = z - lambda;
      if (rng.uniform() <= Math.exp(-0.5 * d * d)) return z;
    }
  };
}

/**
 * Q of a Householder QR of the column-major m x k matrix `a` (m >= k; overwritten), its columns
 * multiplied by sign(diag(R)) so that Q is unique and, for Gaussian input, Haar-distributed
 * (Mezzadri 2007, the reference PyTorch's orthogonal_ cites). A zero diagonal counts as +1, where
 * torch.sign would zero the column. Float64 throughout: the result is stored as float32.
 */
function householderQ(a: Float64Array, m: number, k: number): Float64Array {
  const tau = new Float64Array(k);
  const rDiag = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const col = j * m;
    let sq = 0;
    for (let i = j; i < m; i++) sq += a[col + i] * a[col + i];
    const norm = Math.sqrt(sq);
    const x0 = a[col + j];
    if (norm === 0) continue; // H = I, R_jj = 0
    // LAPACK dlarfg: beta = -sign(x0) ||x|| avoids cancellation in x0 - beta.
    const beta = x0 >= 0 ? -norm : norm;
    const v0 = x0 - beta;
    for (let i = j + 1; i < m; i++) a[col + i] /= v0;
    tau[j] = (beta - x0) / beta;
    rDiag[j] = beta;
    for (let c = j + 1; c < k; c++) {
      const cc = c * m;
      let s = a[cc + j];
      for (let i = j + 1; i < m; i++) s += a[col + i] * a[cc + i];
      s *= tau[j];
      a[cc + j] -= s;
      for (let i = j + 1; i < m; i++) a[cc + i] -= s * a[col + i];
    }
  }
  // Q = H_0 ... H_{k-1} [I_k; 0], applied from the last reflector; H_j leaves columns < j alone.
  const q = new Float64Array(m * k);
  for (let j = 0; j < k; j++) q[j * m + j] = 1;
  for (let j = k - 1; j >= 0; j--) {
    if (tau[j] === 0) continue;
    const col = j * m;
    for (let c = j; c < k; c++) {
      const cc = c * m;
      let s = q[cc + j];
      for (let i = j + 1; i < m; i++) s += a[col + i] * q[cc + i];
      s *= tau[j];
      q[cc + j] -= s;
      for (let i = j + 1; i < m; i++) q[cc + i] -= s * a[col + i];
    }
  }
  for (let j = 0; j < k; j++) {
    if (rDiag[j] < 0) for (let i = 0; i < m; i++) q[j * m + i] = -q[j * m + i];
  }
  return q;
}

function fillOrthogonal(data: Float32Array, shape: readonly number[], gain: number, rng: Rng): void {
  const n = data.length;
  if (n === 0) return;
  const rows = shape[0];
  const cols = n / rows;
  const flat = new Float64Array(n);
  for (let i = 0; i < n; i++) flat[i] = rng.normal();
  if (rows < cols) {
    // Factor the tall transpose: F^T stored column-major is F's row-major data as it stands.
    const q = householderQ(flat, cols, rows);
    for (let i = 0; i < n; i++) data[i] = gain * q[i];
    return;
  }
  const a = new Float64Array(n);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) a[j * rows + i] = flat[i * cols + j];
  const q = householderQ(a, rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] = gain * q[j * rows + i];
}

// ---------------------------------------------------------------------------------------------
// The table

/** How kaiming initialisers pick their fan: fanIn keeps forward variance, fanOut backward. */
export type FanMode = 'fanIn' | 'fanOut';

const FAN_MODES: readonly FanMode[] = ['fanIn', 'fanOut'];

type OptionValues = { readonly [option: string]: number | string };

/** One initialiser: what it draws, its options' defaults, and the fill itself. */
export interface InitDef<O extends object = OptionValues> {
  /** Distribution, formula, defaults, and the torch.nn.init function it matches. */
  readonly doc: string;
  /** Every option with its default; an option not listed here is an error. */
  readonly defaults: Readonly<O>;
  /** Whether the formula reads fanIn / fanOut, which must then be non-zero. */
  readonly fanBased: boolean;
  /** Why the options (already finite numbers or strings) or the shape are invalid, if they are. */
  check?(options: Readonly<O>, shape: readonly number[]): string | undefined;
  /**
   * Fills `data` (shape `shape`, options complete). Unchecked: call `initialize`, which validates
   * first.
   */
  fill(data: Float32Array, shape: readonly number[], options: Readonly<O>, rng: Rng): void;
}

// Infers each entry's option type from its defaults, so `fill` and `check` are typed by them.
function entry<O extends object>(def: InitDef<O>): InitDef<O> {
  return def;
}

function nonNegative(option: string, v: number): string | undefined {
  return v >= 0 ? undefined : `Expected ${option} >= 0 but received ${v}`;
}

function ordered(a: number, b: number): string | undefined {
  return a < b ? undefined : `Expected a < b but received a = ${a}, b = ${b}`;
}

const KAIMING_DEFAULTS = { a: 0, mode: 'fanIn' as FanMode, nonlinearity: 'leakyRelu' as Nonlinearity };
type KaimingOptions = typeof KAIMING_DEFAULTS;

// The types say FanMode and Nonlinearity, but untyped callers can pass any string.
function checkKaiming(o: Readonly<KaimingOptions>): string | undefined {
  if (!(FAN_MODES as readonly string[]).includes(o.mode)) {
    return `Expected mode to be one of ${FAN_MODES.join(', ')} but received ${show(o.mode)}`;
  }
  if (!isNonlinearity(o.nonlinearity)) {
    return `Expected nonlinearity to be one of ${NONLINEARITIES.join(', ')} but received ${show(o.nonlinearity)}`;
  }
  return undefined;
}

function kaimingStd(shape: readonly number[], o: Readonly<KaimingOptions>): number {
  const { fanIn, fanOut } = fansOf(shape);
  return calculateGain(o.nonlinearity, o.a) / Math.sqrt(o.mode === 'fanIn' ? fanIn : fanOut);
}

/**
 * The initialisers. Each `doc` gives the distribution with its defaults and the torch.nn.init
 * function it reproduces. Uniform draws are in [lo, hi) and every draw is made in float64, then
 * stored as float32.
 */
export const INITIALIZERS = {
  zeros: entry({
    doc: 'All 0 (torch.nn.init.zeros_).',
    defaults: {},
    fanBased: false,
    fill: (data) => data.fill(0),
  }),
  ones: entry({
    doc: 'All 1 (torch.nn.init.ones_).',
    defaults: {},
    fanBased: false,
    fill: (data) => data.fill(1),
  }),
  constant: entry({
    doc: 'All `value`, default 0 (torch.nn.init.constant_(w, value)).',
    defaults: { value: 0 },
    fanBased: false,
    fill: (data, _shape, o) => data.fill(o.value),
  }),
  uniform: entry({
    doc: 'U(a, b), defaults a = 0, b = 1; needs a < b (torch.nn.init.uniform_).',
    defaults: { a: 0, b: 1 },
    fanBased: false,
    check: (o) => ordered(o.a, o.b),
    fill: (data, _shape, o, rng) => fillUniform(data, o.a, o.b, rng),
  }),
  normal: entry({
    doc: 'N(mean, std^2), defaults mean = 0, std = 1; std = 0 gives all `mean` (torch.nn.init.normal_).',
    defaults: { mean: 0, std: 1 },
    fanBased: false,
    check: (o) => nonNegative('std', o.std),
    fill: (data, _shape, o, rng) => fillNormal(data, o.mean, o.std, rng),
  }),
  truncatedNormal: entry({
    doc: 'N(mean, std^2) conditioned on a <= x <= b, defaults mean = 0, std = 1, a = -2, b = 2 ' +
      '(torch.nn.init.trunc_normal_: a and b are absolute bounds, not multiples of std). Exact ' +
      'for any interval, even one far from the mean, where PyTorch warns that its values may be ' +
      'off. With std 1 and [-2, 2] the variance is about 0.7737.',
    defaults: { mean: 0, std: 1, a: -2, b: 2 },
    fanBased: false,
    check: (o) => nonNegative('std', o.std) ?? ordered(o.a, o.b),
    fill: (data, _shape, o, rng) => {
      if (o.std === 0) {
        data.fill(Math.min(Math.max(o.mean, o.a), o.b));
        return;
      }
      const z = truncatedStandardNormal((o.a - o.mean) / o.std, (o.b - o.mean) / o.std, rng);
      // The clamp only absorbs float64 rounding of mean + std * z at the ends.
      for (let i = 0; i < data.length; i++) data[i] = Math.min(Math.max(o.mean + o.std * z(), o.a), o.b);
    },
  }),
  xavierUniform: entry({
    doc: 'Glorot & Bengio (2010): U(-bound, bound), bound = gain * sqrt(6 / (fanIn + fanOut)), ' +
      'variance gain^2 * 2 / (fanIn + fanOut); default gain 1, the tanh-style rule ' +
      '(torch.nn.init.xavier_uniform_). For sigmoid units the lecture notes use gain 4: ' +
      'gain: calculateGain("sigmoidX4").',
    defaults: { gain: 1 },
    fanBased: true,
    check: (o) => nonNegative('gain', o.gain),
    fill: (data, shape, o, rng) => {
      const { fanIn, fanOut } = fansOf(shape);
      const bound = o.gain * Math.sqrt(6 / (fanIn + fanOut));
      fillUniform(data, -bound, bound, rng);
    },
  }),
  xavierNormal: entry({
    doc: 'Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fanIn + fanOut)); default ' +
      'gain 1 (torch.nn.init.xavier_normal_).',
    defaults: { gain: 1 },
    fanBased: true,
    check: (o) => nonNegative('gain', o.gain),
    fill: (data, shape, o, rng) => {
      const { fanIn, fanOut } = fansOf(shape);
      fillNormal(data, 0, o.gain * Math.sqrt(2 / (fanIn + fanOut)), rng);
    },
  }),
  kaimingUniform: entry({
    doc: 'He et al. (2015): U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan), ' +
      'gain = calculateGain(nonlinearity, a), fan = fanIn or fanOut by mode; defaults a = 0, ' +
      'mode fanIn, nonlinearity leakyRelu, so bound = sqrt(6 / fanIn) ' +
      '(torch.nn.init.kaiming_uniform_; a is the slope of the rectifier after the layer and is ' +
      'read only by leakyRelu). PyTorch\'s nn.Linear default is a = sqrt(5): ' +
      'U(-1/sqrt(fanIn), 1/sqrt(fanIn)).',
    defaults: KAIMING_DEFAULTS,
    fanBased: true,
    check: checkKaiming,
    fill: (data, shape, o, rng) => {
      const bound = Math.sqrt(3) * kaimingStd(shape, o);
      fillUniform(data, -bound, bound, rng);
    },
  }),
  kaimingNormal: entry({
    doc: 'He et al. (2015): N(0, std^2), std = gain / sqrt(fan), gain = calculateGain(nonlinearity, a); ' +
      'defaults as kaimingUniform, so std = sqrt(2 / fanIn) (torch.nn.init.kaiming_normal_). ' +
      'The lecture notes\' "ReLU correction" slide writes std = 2 / sqrt(D_in); He\'s rule, ' +
      'implemented here, is sqrt(2 / D_in) (the slide\'s would double the variance to 4 / D_in).',
    defaults: KAIMING_DEFAULTS,
    fanBased: true,
    check: checkKaiming,
    fill: (data, shape, o, rng) => fillNormal(data, 0, kaimingStd(shape, o), rng),
  }),
  lecunUniform: entry({
    doc: 'LeCun et al. (1998): U(-bound, bound), bound = sqrt(3 / fanIn), variance 1 / fanIn ' +
      '(torch.nn.init.kaiming_uniform_(w, nonlinearity="linear")).',
    defaults: {},
    fanBased: true,
    fill: (data, shape, _o, rng) => {
      const bound = Math.sqrt(3 / fansOf(shape).fanIn);
      fillUniform(data, -bound, bound, rng);
    },
  }),
  lecunNormal: entry({
    doc: 'LeCun et al. (1998): N(0, std^2), std = sqrt(1 / fanIn), the init SELU\'s ' +
      'self-normalisation assumes (torch.nn.init.kaiming_normal_(w, nonlinearity="linear")). ' +
      'The lecture notes call std = 1/sqrt(D_in) "Xavier initialization"; Glorot & Bengio\'s own ' +
      'rule averages fanIn and fanOut (xavierNormal). Keras\'s lecun_normal is truncated at 2 std ' +
      'and rescaled; this one is not.',
    defaults: {},
    fanBased: true,
    fill: (data, shape, _o, rng) => fillNormal(data, 0, Math.sqrt(1 / fansOf(shape).fanIn), rng),
  }),
  orthogonal: entry({
    doc: 'Saxe et al. (2013): a (semi-)orthogonal matrix times gain, default gain 1 ' +
      '(torch.nn.init.orthogonal_). The shape is flattened to [rows = shape[0], cols = rest], ' +
      'filled with N(0, 1), QR-factored (on the transpose when rows < cols) and Q\'s columns ' +
      'multiplied by sign(diag(R)); W W^T = gain^2 I when rows <= cols, W^T W = gain^2 I ' +
      'otherwise. Needs 2 or more dimensions; O(rows * cols * min(rows, cols)) time.',
    defaults: { gain: 1 },
    fanBased: false,
    check: (o, shape) => shape.length < 2
      ? `Only shapes with 2 or more dimensions are supported but received ${show(shape)}`
      : nonNegative('gain', o.gain),
    fill: (data, shape, o, rng) => fillOrthogonal(data, shape, o.gain, rng),
  }),
};

/** Name of an initialiser in the table. */
export type InitName = keyof typeof INITIALIZERS;

/** Initialiser names in table order. */
export const INIT_NAMES = Object.keys(INITIALIZERS) as InitName[];

/** The options an initialiser takes, all optional (missing ones take the entry's defaults). */
export type InitOptions<K extends InitName> = Partial<(typeof INITIALIZERS)[K]['defaults']>;

/**
 * An initialiser: its name alone (default options) or `{ name, ...options }`, e.g.
 * `{ name: 'kaimingUniform', a: Math.sqrt(5) }` or `{ name: 'normal', std: 0.01 }`.
 */
export type InitSpec = InitName | { [K in InitName]: { readonly name: K } & InitOptions<K> }[InitName];

// ---------------------------------------------------------------------------------------------
// Validation and entry point

function finiteNumber(fn: string, option: string, v: unknown): number {
  if (typeof v !== 'number') {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected number for ${option} but received ${typeName(v)}`);
  }
  if (!fitsFloat32(v)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected finite number for ${option} but received ${v}`);
  }
  return v;
}

function checkShape(fn: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Array for shape but received ${typeName(shape)}`);
  }
  shape.forEach((d: unknown, i) => {
    if (!(typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected non-negative integer for shape[${i}] but received ${show(d)}`);
    }
  });
}

function resolveSpec(spec: unknown): { name: InitName; given: Record<string, unknown> } {
  let name: unknown = spec;
  let given: Record<string, unknown> = {};
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
    given = spec as Record<string, unknown>;
    name = given.name;
  }
  if (typeof name !== 'string') {
    throw typeError(
      ErrorCode.ARG_TYPE,
      `initialize: Expected an initializer name or { name, ...options } for spec but received ${typeName(spec)}`,
    );
  }
  if (!hasOwn(INITIALIZERS, name)) {
    throw rangeError(
      ErrorCode.UNKNOWN_NAME,
      `initialize: Unknown initializer ${show(name)}; expected one of ${INIT_NAMES.join(', ')}`,
    );
  }
  return { name: name as InitName, given };
}

/**
 * Fills `data` (a weight of shape [out, in], a bias [n], or any shape whose product is
 * data.length) with the initialiser `spec`, drawing from `rng`. Validates everything first and
 * writes nothing on error: RangeError ERR_BLASNET_ARG_LENGTH if the shape's product is not
 * data.length, ERR_BLASNET_UNKNOWN_NAME for an unknown initialiser, ERR_BLASNET_ARG_RANGE for an
 * unknown option, a non-finite number, a negative std or gain, a >= b, an unknown mode or
 * nonlinearity, or a zero fan (an empty shape) for the fan-based initialisers; TypeError
 * ERR_BLASNET_ARG_TYPE for arguments of the wrong type.
 */
export function initialize(spec: InitSpec, data: Float32Array, shape: readonly number[], rng: Rng): void {
  const { name, given } = resolveSpec(spec);
  if (typedArrayTag(data) !== 'Float32Array') {
    throw typeError(ErrorCode.ARG_TYPE, `initialize: Expected Float32Array for data but received ${typeName(data)}`);
  }
  checkShape('initialize', shape);
  const size = shape.reduce((p, d) => p * d, 1);
  if (size !== typedLength(data)) {
    throw rangeError(
      ErrorCode.ARG_LENGTH,
      `initialize: Expected data to hold ${size} elements (the product of shape ${show(shape)}) but it has ${typedLength(data)}`,
    );
  }
  const r = rng as Partial<Rng> | null | undefined;
  if (typeof r?.uniform !== 'function' || typeof r.normal !== 'function' || typeof r.range !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `initialize: Expected Rng for rng but received ${typeName(rng)}`);
  }

  const def = INITIALIZERS[name] as unknown as InitDef;
  const options: Record<string, number | string> = { ...def.defaults };
  for (const key of Object.keys(given)) {
    if (key === 'name' || given[key] === undefined) continue;
    if (!hasOwn(def.defaults, key)) {
      const known = Object.keys(def.defaults);
      throw rangeError(
        ErrorCode.ARG_RANGE,
        `${name}: Unknown option ${show(key)}; ${known.length ? `expected ${known.join(', ')}` : 'it takes no options'}`,
      );
    }
    const value = given[key];
    if (typeof def.defaults[key] === 'number') {
      options[key] = finiteNumber(name, key, value);
    } else if (typeof value === 'string') {
      options[key] = value;
    } else {
      throw typeError(ErrorCode.ARG_TYPE, `${name}: Expected string for ${key} but received ${typeName(value)}`);
    }
  }
  const problem = def.check?.(options, shape);
  if (problem !== undefined) throw rangeError(ErrorCode.ARG_RANGE, `${name}: ${problem}`);
  if (def.fanBased) {
    const fans = shape.length === 0 ? { fanIn: 0, fanOut: 0 } : fansOf(shape);
    if (fans.fanIn === 0 || fans.fanOut === 0) {
      throw rangeError(
        ErrorCode.ARG_RANGE,
        `${name}: Expected fanIn and fanOut > 0 but shape ${show(shape)} gives fanIn = ${fans.fanIn}, fanOut = ${fans.fanOut}`,
      );
    }
  }
  def.fill(data, shape, options, rng);
}

// ---------------------------------------------------------------------------------------------
// Defaults per activation

/** The activations `defaultInit` knows: the table's, plus softmax and prelu layers. */
export type DefaultInitActivation = ActivationName | 'softmax' | 'prelu';

const heRelu = (): InitSpec => ({ name: 'kaimingUniform', mode: 'fanIn', nonlinearity: 'relu' });
const heLeaky = (slope: number): InitSpec => ({ name: 'kaimingUniform', a: slope, mode: 'fanIn', nonlinearity: 'leakyRelu' });
const glorot = (): InitSpec => ({ name: 'xavierUniform', gain: 1 });

// A Record over every name, so a new activation does not compile until it has a default here.
const DEFAULT_INITS: Record<DefaultInitActivation, (param: number | undefined) => InitSpec> = {
  identity: glorot,
  sigmoid: glorot,
  tanh: glorot,
  relu: heRelu,
  leakyRelu: (p) => heLeaky(p ?? 0.01),
  elu: heRelu,
  selu: () => ({ name: 'lecunNormal' }),
  silu: heRelu,
  softplus: glorot,
  gelu: heRelu,
  softmax: glorot,
  prelu: (p) => heLeaky(p ?? 0.25),
};

/**
 * The weight initialiser blasnet uses for a layer followed by `activation` (`param` is its slope
 * for leakyRelu, default 0.01, and prelu, default 0.25 as PyTorch's PReLU starts; others ignore
 * it):
 * - relu, elu, gelu, silu: He uniform, `{ name: 'kaimingUniform', mode: 'fanIn', nonlinearity: 'relu' }`,
 *   bound sqrt(6 / fanIn); the smooth rectifiers are close enough to relu for its variance argument;
 * - leakyRelu, prelu: He uniform with `nonlinearity: 'leakyRelu'` and `a` = the slope;
 * - selu: `lecunNormal`, std sqrt(1 / fanIn), which self-normalisation requires;
 * - tanh, sigmoid, identity, softplus, softmax: Glorot, `{ name: 'xavierUniform', gain: 1 }`.
 *
 * PyTorch's nn.Linear does not look at the activation: it always uses kaiming_uniform_ with
 * a = sqrt(5), i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)), whose variance 1 / (3 fanIn) is a third of
 * LeCun's. To reproduce it, pass `{ name: 'kaimingUniform', a: Math.sqrt(5) }`.
 */
export function defaultInit(activation: DefaultInitActivation, param?: number): InitSpec {
  if (typeof activation !== 'string' || !hasOwn(DEFAULT_INITS, activation)) {
    throw rangeError(
      ErrorCode.UNKNOWN_NAME,
      `defaultInit: Unknown activation ${show(activation)}; expected one of ${Object.keys(DEFAULT_INITS).join(', ')}`,
    );
  }
  if (param !== undefined) finiteNumber('defaultInit', 'param', param);
  return DEFAULT_INITS[activation](param);
}
