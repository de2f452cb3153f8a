/**
 * Initialisers (lib/init.ts): distributions checked by their moments on large layers, the gain
 * table against PyTorch's, orthogonality, determinism, every error path and defaultInit's choices.
 * Every random value comes from a seeded Rng, so each statistic below is one fixed number; the
 * tolerances say how far a correct sampler may land from the formula, not how lucky a run was.
 */
import { strict as assert } from 'assert';
import {
  ACTIVATION_NAMES, calculateFans, calculateGain, defaultInit, ErrorCode, GAINS, INIT_NAMES, initialize, Rng,
} from '../lib';
import type { DefaultInitActivation, InitSpec, Nonlinearity } from '../lib';
import { erf } from '../lib/math';
import { throwsCode } from './helpers';

const OUT = 512;
const IN = 1024;
const BIG = [OUT, IN] as const; // 524288 values: fanIn 1024, fanOut 512

function draw(spec: InitSpec, shape: readonly number[], seed = 42): Float32Array {
  const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
  initialize(spec, data, shape, new Rng(seed));
  return data;
}

interface Moments { mean: number; variance: number; min: number; max: number }

function moments(x: Float32Array): Moments {
  let sum = 0, min = Infinity, max = -Infinity;
  for (const v of x) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / x.length;
  let sq = 0;
  for (const v of x) sq += (v - mean) * (v - mean);
  return { mean, variance: sq / (x.length - 1), min, max };
}

/** Mean within 4 standard errors of `mean`, variance within 2% of `variance`. */
function assertMoments(x: Float32Array, mean: number, variance: number, what: string): Moments {
  const m = moments(x);
  const se = Math.sqrt(variance / x.length);
  assert.ok(Math.abs(m.mean - mean) <= 4 * se, `${what}: mean ${m.mean}, expected ${mean} +- ${4 * se}`);
  assert.ok(Math.abs(m.variance / variance - 1) <= 0.02, `${what}: variance ${m.variance}, expected ${variance} (2%)`);
  return m;
}

/**
 * U(-bound, bound): zero mean, variance bound^2 / 3, every value inside the bound (compared in
 * float32, where the stored values live) and the extremes within 1e-4 of it.
 */
function assertUniform(x: Float32Array, bound: number, what: string): void {
  const m = assertMoments(x, 0, (bound * bound) / 3, what);
  const b32 = Math.fround(bound);
  assert.ok(m.min >= -b32 && m.max <= b32, `${what}: [${m.min}, ${m.max}] leaves +-${bound}`);
  assert.ok(m.max >= bound * (1 - 1e-4) && m.min <= -bound * (1 - 1e-4), `${what}: extremes ${m.min}, ${m.max} far from +-${bound}`);
}

const phi = (z: number) => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
const Phi = (z: number) => 0.5 * (1 + erf(z * Math.SQRT1_2));

/** Mean and variance of N(mean, std^2) truncated to [a, b]. */
function truncatedMoments(mean: number, std: number, a: number, b: number): { mean: number; variance: number } {
  const al = (a - mean) / std, be = (b - mean) / std;
  const z = Phi(be) - Phi(al);
  const d = (phi(al) - phi(be)) / z;
  return { mean: mean + std * d, variance: std * std * (1 + (al * phi(al) - be * phi(be)) / z - d * d) };
}

describe('initialisers: constants', () => {
  const cases: [InitSpec, number][] = [['zeros', 0], ['ones', 1], [{ name: 'constant', value: 0.3 }, Math.fround(0.3)],
    ['constant', 0], [{ name: 'constant', value: -2.5 }, -2.5]];
  for (const [spec, want] of cases) {
    it(`${JSON.stringify(spec)} writes exactly ${want} everywhere`, () => {
      const data = new Float32Array(6 * 7).fill(NaN);
      initialize(spec, data, [6, 7], new Rng(1));
      assert.ok(data.every((v) => v === want), `got ${Array.from(new Set(data)).join(', ')}`);
    });
  }
});

describe('initialisers: distributions (512x1024)', () => {
  it('uniform defaults to U(0, 1) and honours a, b', () => {
    const d = draw('uniform', BIG, 1);
    assertMoments(d, 0.5, 1 / 12, 'U(0,1)');
    assert.ok(moments(d).min >= 0 && moments(d).max < 1);
    const e = draw({ name: 'uniform', a: -3, b: 5 }, BIG, 2);
    const m = assertMoments(e, 1, 64 / 12, 'U(-3,5)');
    assert.ok(m.min >= -3 && m.max <= 5 && m.min < -2.999 && m.max > 4.999, `range [${m.min}, ${m.max}]`);
  });

  it('normal defaults to N(0, 1) and honours mean, std', () => {
    assertMoments(draw('normal', BIG, 3), 0, 1, 'N(0,1)');
    assertMoments(draw({ name: 'normal', mean: 2, std: 0.5 }, BIG, 4), 2, 0.25, 'N(2,0.25)');
    assert.ok(draw({ name: 'normal', mean: -1.5, std: 0 }, [3, 4]).every((v) => v === -1.5), 'std 0 gives the mean');
  });

  it('truncatedNormal defaults to N(0, 1) on [-2, 2]: variance 0.7737', () => {
    const t = truncatedMoments(0, 1, -2, 2);
    assert.ok(Math.abs(t.variance - 0.7737) < 1e-4, `formula gives ${t.variance}`);
    const d = draw('truncatedNormal', BIG, 5);
    const m = assertMoments(d, 0, t.variance, 'trunc N(0,1) [-2,2]');
    assert.ok(m.min >= -2 && m.max <= 2 && m.min < -1.99 && m.max > 1.99, `range [${m.min}, ${m.max}]`);
  });

  // Intervals around the mean, narrow ones, and ones deep in either tail (where plain rejection
  // would take forever): every branch of the sampler, each against the exact truncated moments.
  const truncated: [number, number, number, number][] = [
    [1, 2, 0, 3], [0, 1, -0.3, 0.2], [0, 1, 2.5, 2.8], [0, 1, 3, 4], [0, 1, -10, -5], [5, 1, -1, 1],
    [0, 0.01, -0.02, 0.02], [0, 1, 0, 50],
  ];
  for (const [mean, std, a, b] of truncated) {
    it(`truncatedNormal mean ${mean} std ${std} on [${a}, ${b}]: exact moments, values inside`, () => {
      const d = draw({ name: 'truncatedNormal', mean, std, a, b }, [256, 512], 6);
      const t = truncatedMoments(mean, std, a, b);
      const m = assertMoments(d, t.mean, t.variance, `trunc [${a}, ${b}]`);
      assert.ok(m.min >= Math.fround(a) && m.max <= Math.fround(b), `range [${m.min}, ${m.max}]`);
    });
  }

  it('truncatedNormal with std 0 gives the mean clamped into [a, b]', () => {
    assert.ok(draw({ name: 'truncatedNormal', mean: 0.5, std: 0 }, [4]).every((v) => v === 0.5));
    assert.ok(draw({ name: 'truncatedNormal', mean: 7, std: 0 }, [4]).every((v) => v === 2));
  });

  const fanIn = IN, fanOut = OUT;
  it('xavierUniform: bound gain * sqrt(6 / (fanIn + fanOut)), gain 1 and sigmoidX4', () => {
    assertUniform(draw('xavierUniform', BIG, 7), Math.sqrt(6 / (fanIn + fanOut)), 'xavierUniform');
    const gain = calculateGain('sigmoidX4');
    assertUniform(draw({ name: 'xavierUniform', gain }, BIG, 8), 4 * Math.sqrt(6 / (fanIn + fanOut)), 'xavierUniform x4');
  });

  it('xavierNormal: std gain * sqrt(2 / (fanIn + fanOut))', () => {
    assertMoments(draw('xavierNormal', BIG, 9), 0, 2 / (fanIn + fanOut), 'xavierNormal');
    const g = calculateGain('tanh');
    assertMoments(draw({ name: 'xavierNormal', gain: g }, BIG, 10), 0, (g * g * 2) / (fanIn + fanOut), 'xavierNormal tanh');
  });

  const kaimingCases: { a?: number; nonlinearity?: Nonlinearity; gain: number }[] = [
    { gain: Math.SQRT2 }, // defaults: leakyRelu with a = 0
    { nonlinearity: 'relu', gain: Math.SQRT2 },
    { a: 0.2, nonlinearity: 'leakyRelu', gain: Math.sqrt(2 / 1.04) },
    { nonlinearity: 'tanh', gain: 5 / 3 },
    { nonlinearity: 'linear', gain: 1 },
    { nonlinearity: 'selu', gain: 0.75 },
    { a: Math.sqrt(5), gain: Math.sqrt(1 / 3) }, // nn.Linear's default: U(-1/sqrt(fanIn), 1/sqrt(fanIn))
  ];
  for (const mode of ['fanIn', 'fanOut'] as const) {
    const fan = mode === 'fanIn' ? fanIn : fanOut;
    for (const c of kaimingCases) {
      const opts = { ...(c.a === undefined ? {} : { a: c.a }), ...(c.nonlinearity ? { nonlinearity: c.nonlinearity } : {}), mode };
      it(`kaimingUniform and kaimingNormal ${JSON.stringify(opts)}: std ${c.gain.toFixed(4)} / sqrt(${fan})`, () => {
        const std = c.gain / Math.sqrt(fan);
        assertUniform(draw({ name: 'kaimingUniform', ...opts }, BIG, 11), Math.sqrt(3) * std, 'kaimingUniform');
        assertMoments(draw({ name: 'kaimingNormal', ...opts }, BIG, 12), 0, std * std, 'kaimingNormal');
      });
    }
  }

  it('kaimingUniform with a = sqrt(5) is nn.Linear\'s U(-1/sqrt(fanIn), 1/sqrt(fanIn))', () => {
    assertUniform(draw({ name: 'kaimingUniform', a: Math.sqrt(5) }, BIG, 13), 1 / Math.sqrt(fanIn), 'nn.Linear default');
  });

  it('lecunUniform and lecunNormal: variance 1 / fanIn', () => {
    assertUniform(draw('lecunUniform', BIG, 14), Math.sqrt(3 / fanIn), 'lecunUniform');
    assertMoments(draw('lecunNormal', BIG, 15), 0, 1 / fanIn, 'lecunNormal');
    // Transposed shape: the fan follows shape[1], not the larger dimension.
    assertMoments(draw('lecunNormal', [IN, OUT], 16), 0, 1 / OUT, 'lecunNormal [1024, 512]');
  });

  it('a 1-D shape (a bias) has fanIn = fanOut = its length', () => {
    assertUniform(draw('xavierUniform', [200000], 17), Math.sqrt(6 / 400000), 'xavierUniform [n]');
    assertMoments(draw({ name: 'kaimingNormal', mode: 'fanOut' }, [200000], 18), 0, 2 / 200000, 'kaimingNormal [n]');
  });
});

describe('initialisers: calculateGain and calculateFans', () => {
  it('matches torch.nn.init.calculate_gain, plus sigmoidX4 = 4', () => {
    const table: [Nonlinearity, number | undefined, number][] = [
      ['linear', undefined, 1], ['identity', undefined, 1], ['sigmoid', undefined, 1], ['tanh', undefined, 5 / 3],
      ['relu', undefined, Math.SQRT2], ['leakyRelu', undefined, Math.sqrt(2 / (1 + 0.01 ** 2))],
      ['leakyRelu', 0.2, Math.sqrt(2 / 1.04)], ['leakyRelu', 0, Math.SQRT2], ['leakyRelu', Math.sqrt(5), Math.sqrt(1 / 3)],
      ['selu', undefined, 0.75], ['sigmoidX4', undefined, 4], ['relu', 0.3, Math.SQRT2],
    ];
    for (const [name, param, want] of table) {
      const got = calculateGain(name, param);
      assert.ok(Math.abs(got - want) < 1e-15, `${name}(${param}): ${got}, expected ${want}`);
    }
    assert.deepEqual(Object.keys(GAINS).sort(), table.map((t) => t[0]).filter((n, i, a) => a.indexOf(n) === i).sort());
  });

  it('rejects unknown names and bad params', () => {
    throwsCode(() => calculateGain('gelu' as Nonlinearity), ErrorCode.UNKNOWN_NAME, RangeError, 'leakyRelu');
    throwsCode(() => calculateGain('toString' as Nonlinearity), ErrorCode.UNKNOWN_NAME, RangeError);
    throwsCode(() => calculateGain('leakyRelu', NaN), ErrorCode.ARG_RANGE, RangeError, 'param');
    throwsCode(() => calculateGain('leakyRelu', '0.1' as unknown as number), ErrorCode.ARG_TYPE, TypeError, 'param');
  });

  it('calculateFans follows PyTorch for 2-D and higher, length for 1-D', () => {
    assert.deepEqual(calculateFans([3, 4]), { fanIn: 4, fanOut: 3 });
    assert.deepEqual(calculateFans([8, 3, 2, 2]), { fanIn: 12, fanOut: 32 });
    assert.deepEqual(calculateFans([5]), { fanIn: 5, fanOut: 5 });
    throwsCode(() => calculateFans([]), ErrorCode.ARG_RANGE, RangeError);
    throwsCode(() => calculateFans([2, -1]), ErrorCode.ARG_RANGE, RangeError, 'shape[1]');
  });
});

describe('initialisers: orthogonal', () => {
  /** max |G - gain^2 I| for G = W W^T (rows <= cols) or W^T W, accumulated in float64. */
  function gramError(w: Float32Array, rows: number, cols: number, gain: number): number {
    const wide = rows <= cols;
    const k = wide ? rows : cols;
    let worst = 0;
    for (let p = 0; p < k; p++) {
      for (let q = 0; q < k; q++) {
        let s = 0;
        if (wide) for (let j = 0; j < cols; j++) s += w[p * cols + j] * w[q * cols + j];
        else for (let i = 0; i < rows; i++) s += w[i * cols + p] * w[i * cols + q];
        worst = Math.max(worst, Math.abs(s - (p === q ? gain * gain : 0)));
      }
    }
    return worst;
  }

  const shapes: [number[], number][] = [
    [[64, 64], 1], [[96, 40], 1], [[40, 96], 1], [[100, 100], 2], [[300, 120], 0.5], [[120, 300], 1.5],
    [[8, 3, 4], 1], [[1, 7], 1], [[7, 1], 1], [[1, 1], 3], [[256, 256], 1],
  ];
  for (const [shape, gain] of shapes) {
    const rows = shape[0], cols = shape.slice(1).reduce((p, d) => p * d, 1);
    it(`${JSON.stringify(shape)} gain ${gain}: ${rows <= cols ? 'W W^T' : 'W^T W'} = gain^2 I to 1e-5`, () => {
      const w = draw({ name: 'orthogonal', gain }, shape, 19);
      const err = gramError(w, rows, cols, gain);
      assert.ok(err < 1e-5, `max deviation ${err}`);
    });
  }

  it('is not a fixed matrix: entries look like a random rotation\'s (mean 0, variance 1/n)', () => {
    const n = 256;
    const w = draw('orthogonal', [n, n], 20);
    const m = moments(w);
    assert.ok(Math.abs(m.mean) < 4 / n, `mean ${m.mean}`);
    assert.ok(Math.abs(m.variance * n - 1) < 0.02, `variance * n = ${m.variance * n}`);
  });

  it('an empty shape is a no-op, as in PyTorch', () => {
    assert.equal(draw('orthogonal', [0, 5]).length, 0);
  });
});

describe('initialisers: determinism', () => {
  const random = INIT_NAMES.filter((n) => !['zeros', 'ones', 'constant'].includes(n));
  for (const name of INIT_NAMES) {
    it(`${name}: the same seed gives the same array${random.includes(name) ? ', another seed another' : ''}`, () => {
      const a = draw(name, [16, 24], 7), b = draw(name, [16, 24], 7);
      assert.deepEqual(a, b);
      if (random.includes(name)) {
        const c = draw(name, [16, 24], 8);
        assert.ok(a.some((v, i) => v !== c[i]), 'seed 8 gave the same array as seed 7');
      }
    });
  }

  it('advances the generator: two layers from one Rng differ', () => {
    const rng = new Rng(3);
    const a = new Float32Array(50), b = new Float32Array(50);
    initialize('normal', a, [5, 10], rng);
    initialize('normal', b, [5, 10], rng);
    assert.ok(a.some((v, i) => v !== b[i]));
  });
});

describe('initialisers: errors', () => {
  const rng = new Rng(0);
  const call = (spec: unknown, shape: unknown = [2, 3], data: unknown = new Float32Array(6), r: unknown = rng) =>
    () => initialize(spec as InitSpec, data as Float32Array, shape as number[], r as Rng);

  it('shape product must equal data.length (ERR_BLASNET_ARG_LENGTH)', () => {
    throwsCode(call('zeros', [2, 4]), ErrorCode.ARG_LENGTH, RangeError, '8');
    throwsCode(call('normal', [7]), ErrorCode.ARG_LENGTH, RangeError);
    throwsCode(call('normal', []), ErrorCode.ARG_LENGTH, RangeError);
  });

  it('unknown initialiser names (ERR_BLASNET_UNKNOWN_NAME) list the valid ones', () => {
    throwsCode(call('glorot'), ErrorCode.UNKNOWN_NAME, RangeError, 'xavierUniform');
    throwsCode(call({ name: 'xavier_uniform' }), ErrorCode.UNKNOWN_NAME, RangeError, 'kaimingNormal');
    throwsCode(call('constructor'), ErrorCode.UNKNOWN_NAME, RangeError);
  });

  it('invalid options (ERR_BLASNET_ARG_RANGE) name the option', () => {
    const cases: [unknown, string][] = [
      [{ name: 'normal', std: -1 }, 'std'],
      [{ name: 'truncatedNormal', std: -0.1 }, 'std'],
      [{ name: 'uniform', a: 1, b: 1 }, 'a < b'],
      [{ name: 'uniform', a: 2, b: 1 }, 'a < b'],
      [{ name: 'truncatedNormal', a: 2, b: -2 }, 'a < b'],
      [{ name: 'normal', mean: NaN }, 'mean'],
      [{ name: 'constant', value: Infinity }, 'value'],
      [{ name: 'uniform', b: 1e39 }, 'b'],
      [{ name: 'xavierUniform', gain: NaN }, 'gain'],
      [{ name: 'xavierNormal', gain: -1 }, 'gain'],
      [{ name: 'orthogonal', gain: -1 }, 'gain'],
      [{ name: 'kaimingUniform', a: -Infinity }, 'a'],
      [{ name: 'kaimingUniform', mode: 'fan_in' }, 'mode'],
      [{ name: 'kaimingNormal', mode: 'fanAvg' }, 'fanOut'],
      [{ name: 'kaimingNormal', nonlinearity: 'gelu' }, 'nonlinearity'],
      [{ name: 'kaimingUniform', nonlinearity: 'leaky_relu' }, 'leakyRelu'],
      [{ name: 'normal', sd: 1 }, 'sd'],
      [{ name: 'zeros', value: 1 }, 'no options'],
    ];
    for (const [spec, mentions] of cases) throwsCode(call(spec), ErrorCode.ARG_RANGE, RangeError, mentions);
  });

  it('fan-based initialisers need non-zero fans (ERR_BLASNET_ARG_RANGE)', () => {
    for (const name of ['xavierUniform', 'xavierNormal', 'kaimingUniform', 'kaimingNormal', 'lecunUniform', 'lecunNormal']) {
      throwsCode(call(name, [0, 5], new Float32Array(0)), ErrorCode.ARG_RANGE, RangeError, 'fanOut = 0');
      throwsCode(call(name, [5, 0], new Float32Array(0)), ErrorCode.ARG_RANGE, RangeError, 'fanIn = 0');
      throwsCode(call(name, [0], new Float32Array(0)), ErrorCode.ARG_RANGE, RangeError, 'fanIn');
      throwsCode(call(name, [], new Float32Array(1)), ErrorCode.ARG_RANGE, RangeError, 'fanIn');
    }
    // The others fill empty shapes without complaint, as PyTorch does.
    for (const name of ['zeros', 'normal', 'uniform', 'truncatedNormal']) call(name, [0, 5], new Float32Array(0))();
  });

  it('orthogonal needs 2 or more dimensions', () => {
    throwsCode(call('orthogonal', [6]), ErrorCode.ARG_RANGE, RangeError, '2 or more dimensions');
  });

  it('wrong types (ERR_BLASNET_ARG_TYPE)', () => {
    throwsCode(call('normal', [2, 3], new Float64Array(6)), ErrorCode.ARG_TYPE, TypeError, 'Float64Array');
    throwsCode(call('normal', [2, 3], [0, 0, 0, 0, 0, 0]), ErrorCode.ARG_TYPE, TypeError, 'data');
    throwsCode(call('normal', '2x3'), ErrorCode.ARG_TYPE, TypeError, 'shape');
    throwsCode(call(3), ErrorCode.ARG_TYPE, TypeError, 'spec');
    throwsCode(call(null), ErrorCode.ARG_TYPE, TypeError, 'spec');
    throwsCode(call({ std: 1 }), ErrorCode.ARG_TYPE, TypeError, 'spec');
    throwsCode(call({ name: 'normal', std: '1' }), ErrorCode.ARG_TYPE, TypeError, 'std');
    throwsCode(call({ name: 'kaimingUniform', mode: 1 }), ErrorCode.ARG_TYPE, TypeError, 'mode');
    throwsCode(call('normal', [2, 3], new Float32Array(6), null), ErrorCode.ARG_TYPE, TypeError, 'rng');
    throwsCode(() => initialize('normal', new Float32Array(6), [2, 3], undefined as unknown as Rng), ErrorCode.ARG_TYPE, TypeError, 'rng');
    throwsCode(call('normal', [2, 3], new Float32Array(6), Math), ErrorCode.ARG_TYPE, TypeError, 'rng');
  });

  it('bad shape entries (ERR_BLASNET_ARG_RANGE)', () => {
    throwsCode(call('zeros', [2, -3]), ErrorCode.ARG_RANGE, RangeError, 'shape[1]');
    throwsCode(call('zeros', [1.5, 4]), ErrorCode.ARG_RANGE, RangeError, 'shape[0]');
    throwsCode(call('zeros', [2, NaN]), ErrorCode.ARG_RANGE, RangeError, 'shape[1]');
  });

  it('writes nothing when it throws', () => {
    const data = new Float32Array(6).fill(7);
    assert.throws(call({ name: 'normal', std: -1 }, [2, 3], data));
    assert.throws(call({ name: 'kaimingNormal', mode: 'x' }, [2, 3], data));
    assert.ok(data.every((v) => v === 7));
  });

  it('the types reject options an initialiser does not take', () => {
    // @ts-expect-error gain is not an option of normal
    const spec: InitSpec = { name: 'normal', gain: 2 };
    throwsCode(call(spec), ErrorCode.ARG_RANGE, RangeError, 'gain');
    const ok: InitSpec = { name: 'kaimingUniform', a: Math.sqrt(5), mode: 'fanOut', nonlinearity: 'leakyRelu' };
    call(ok)();
  });

  it('an option given as undefined takes its default', () => {
    assert.deepEqual(draw({ name: 'normal', std: undefined }, [4, 4], 5), draw('normal', [4, 4], 5));
  });
});

describe('initialisers: defaultInit', () => {
  const he = { name: 'kaimingUniform', mode: 'fanIn', nonlinearity: 'relu' };
  const glorot = { name: 'xavierUniform', gain: 1 };
  const leaky = (a: number) => ({ name: 'kaimingUniform', a, mode: 'fanIn', nonlinearity: 'leakyRelu' });
  const table: [DefaultInitActivation, number | undefined, unknown][] = [
    ['relu', undefined, he], ['elu', undefined, he], ['elu', 0.5, he], ['gelu', undefined, he], ['silu', undefined, he],
    ['leakyRelu', undefined, leaky(0.01)], ['leakyRelu', 0.2, leaky(0.2)],
    ['prelu', undefined, leaky(0.25)], ['prelu', 0.1, leaky(0.1)],
    ['selu', undefined, { name: 'lecunNormal' }],
    ['tanh', undefined, glorot], ['sigmoid', undefined, glorot], ['identity', undefined, glorot],
    ['softplus', undefined, glorot], ['softmax', undefined, glorot],
  ];
  for (const [act, param, want] of table) {
    it(`${act}${param === undefined ? '' : `(${param})`} -> ${JSON.stringify(want)}`, () => {
      assert.deepEqual(defaultInit(act, param), want);
    });
  }

  it('covers every activation in the table, with a spec initialize accepts', () => {
    const covered = new Set(table.map((t) => t[0]));
    for (const act of [...ACTIVATION_NAMES, 'softmax', 'prelu'] as DefaultInitActivation[]) {
      assert.ok(covered.has(act), `${act} has no test row`);
      draw(defaultInit(act), [8, 16]);
    }
  });

  it('returns a fresh object each call', () => {
    const a = defaultInit('relu');
    assert.notEqual(a, defaultInit('relu'));
  });

  it('rejects unknown activations and bad params', () => {
    throwsCode(() => defaultInit('swish' as DefaultInitActivation), ErrorCode.UNKNOWN_NAME, RangeError, 'gelu');
    throwsCode(() => defaultInit('leakyRelu', NaN), ErrorCode.ARG_RANGE, RangeError, 'param');
  });
});
