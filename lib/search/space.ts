/**
 * Search spaces: named hyperparameters, each a numeric range (uniform, log-uniform, integers) or
 * a set of choices; anything else in a space is a constant every configuration gets. Sampling is
 * seeded; grids enumerate the product; narrowing shrinks numeric ranges around a configuration
 * (the fine stage of coarse-to-fine).
 */
import { hasOwn, isPlainObject, optionsArg, show, typeName } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { nestsDeeperThan } from '../io/format';
import { Rng } from '../rng';

/** A hyperparameter value: a number, a string, a boolean, or an array of them (hidden widths). */
export type ParamValue = number | string | boolean | readonly (number | string | boolean)[];

/**
 * A numeric range; integers are sampled uniformly (or log-uniformly with log) and rounded. The
 * kind decides the scale: uniform is linear and logUniform logarithmic whether or not log is
 * given (a log that contradicts the kind is refused); integers are logarithmic with log: true.
 */
export interface NumberParam {
  readonly kind: 'uniform' | 'logUniform' | 'integer';
  readonly low: number;
  readonly high: number;
  /**
   * Whether values spread evenly on a log scale: true for logUniform, false for uniform (the
   * helpers set it; written by hand it may be left out), the choice for integers (default false).
   */
  readonly log?: boolean;
}

/** A set of values, each equally likely. */
export interface ChoiceParam {
  readonly kind: 'choice';
  readonly values: readonly ParamValue[];
}

/** One dimension of a search space. */
export type SearchParam = NumberParam | ChoiceParam;

/** Hyperparameter name to its range, choices, or a constant value. */
export type SearchSpace = Record<string, SearchParam | ParamValue>;

/** A point of a space: a value for every name. */
export type Config = Record<string, ParamValue>;

/** A real number uniform in [low, high]. */
export function uniform(low: number, high: number): NumberParam {
  return { kind: 'uniform', low, high, log: false };
}

/** A positive real number whose logarithm is uniform in [log low, log high] (learning rates, weight decay). */
export function logUniform(low: number, high: number): NumberParam {
  return { kind: 'logUniform', low, high, log: true };
}

/** An integer in [low, high], both included; with log, spread evenly on a log scale (widths). */
export function integers(low: number, high: number, options: { log?: boolean } = {}): NumberParam {
  const log = optionsArg('integers', options, { log: true }).log ?? false;
  if (typeof log !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `integers: Expected boolean for log but received ${typeName(log)}`);
  return { kind: 'integer', low, high, log };
}

/** One of `values` (numbers, strings, booleans or arrays of them, e.g. hidden widths [64, 32]). */
export function choice(values: readonly ParamValue[]): ChoiceParam {
  return { kind: 'choice', values };
}

/**
 * @internal Whether a range spreads its values on a log scale, as its kind says: logUniform
 * always, uniform never, integers with log: true. Every reader of a range asks this, never the
 * log field alone, which a range written by hand may leave out.
 */
export function onLogScale(p: NumberParam): boolean {
  return p.kind === 'logUniform' || (p.kind === 'integer' && p.log === true);
}

/** Whether a space entry is a range or choice rather than a constant. */
export function isSpec(v: unknown): v is SearchParam {
  return !!v && typeof v === 'object' && !Array.isArray(v) && ['uniform', 'logUniform', 'integer', 'choice'].includes((v as SearchParam).kind);
}

/** The keys each kind of range or choice takes, as the helpers make them. */
const SPEC_KEYS: Readonly<Record<SearchParam['kind'], readonly string[]>> = {
  uniform: ['kind', 'low', 'high', 'log'], logUniform: ['kind', 'low', 'high', 'log'], integer: ['kind', 'low', 'high', 'log'], choice: ['kind', 'values'],
};

function isValue(v: unknown): v is ParamValue {
  const scalar = (s: unknown) => (typeof s === 'number' && Number.isFinite(s)) || typeof s === 'string' || typeof s === 'boolean';
  return scalar(v) || (Array.isArray(v) && v.every(scalar));
}

/**
 * @internal checkSpace with the caller's name in messages. Checks a space: at least one entry;
 * ranges and choices with no key but the helpers' (kind, low, high, log; kind, values); a log
 * boolean that agrees with the kind (not true on uniform, not false on logUniform); numeric ranges
 * finite with low <= high (low > 0 on a log scale, integer bounds for integers); choices
 * non-empty, of valid values; constants valid values. Every failure is a coded RangeError or
 * TypeError naming the entry.
 */
export function validateSpace(where: string, space: unknown): SearchSpace {
  if (!isPlainObject(space)) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an object of hyperparameters for space but received ${typeName(space)}`);
  }
  const names = Object.keys(space);
  if (names.length === 0) throw rangeError(ErrorCode.ARG_RANGE, `${where}: the space is empty; give at least one hyperparameter`);
  for (const name of names) {
    const v = (space as Record<string, unknown>)[name];
    if (isSpec(v)) {
      // A misspelt key ("hihg", "vlaues") would otherwise be dropped and the search run over another space.
      const known = SPEC_KEYS[v.kind];
      const unknown = Object.keys(v).find((k) => !known.includes(k));
      if (unknown !== undefined) {
        const what = v.kind === 'choice' ? 'a choice' : `${v.kind === 'integer' ? 'an' : 'a'} ${v.kind} range`;
        throw rangeError(ErrorCode.ARG_RANGE, `${where}: space.${name} has an unknown key ${show(unknown)}; ${what} takes only ${showList(known, 'and')}`);
      }
      if (v.kind === 'choice') {
        if (!Array.isArray(v.values) || v.values.length === 0) throw rangeError(ErrorCode.ARG_RANGE, `${where}: space.${name} has no choices`);
        v.values.forEach((c, i) => {
          if (!isValue(c)) throw typeError(ErrorCode.ARG_TYPE, `${where}: space.${name} choice ${i} is not a number, string, boolean or array of them`);
        });
        continue;
      }
      const log = (v as { log?: unknown }).log;
      if (log !== undefined && typeof log !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for space.${name}.log but received ${typeName(log)}`);
      // The kind decides the scale; a log saying otherwise is a mistake in one or the other.
      if (v.kind === 'uniform' && log === true) throw rangeError(ErrorCode.ARG_RANGE, `${where}: space.${name} is uniform but has log true; for a log scale use logUniform(low, high)`);
      if (v.kind === 'logUniform' && log === false) throw rangeError(ErrorCode.ARG_RANGE, `${where}: space.${name} is logUniform but has log false; for a linear scale use uniform(low, high)`);
      const { low, high } = v;
      if (typeof low !== 'number' || typeof high !== 'number' || !Number.isFinite(low) || !Number.isFinite(high)) {
        throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected finite numbers for space.${name} low and high but received ${show(low)} and ${show(high)}`);
      }
      if (low > high) throw rangeError(ErrorCode.ARG_RANGE, `${where}: space.${name} has low ${low} > high ${high}`);
      if (onLogScale(v) && low <= 0) throw rangeError(ErrorCode.ARG_RANGE, `${where}: space.${name} is on a log scale and needs low > 0 but received ${low}`);
      if (v.kind === 'integer' && !(Number.isInteger(low) && Number.isInteger(high))) {
        throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected integer bounds for space.${name} but received ${low} and ${high}`);
      }
    } else if (!isValue(v)) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: space.${name} is neither a range, a choice nor a constant (number, string, boolean or array of them)`);
    }
  }
  return space as SearchSpace;
}

function sampleNumber(p: NumberParam, rng: Rng): number {
  const u = rng.uniform();
  if (p.kind === 'integer') {
    if (!onLogScale(p)) return Math.min(p.high, p.low + Math.floor(u * (p.high - p.low + 1)));
    // log-uniform over [low, high + 1), floored: each integer gets the log-width of its unit interval.
    const lo = Math.log(p.low), hi = Math.log(p.high + 1);
    return Math.min(p.high, Math.max(p.low, Math.floor(Math.exp(lo + u * (hi - lo)))));
  }
  return onLogScale(p) ? Math.exp(Math.log(p.low) + u * (Math.log(p.high) - Math.log(p.low))) : p.low + u * (p.high - p.low);
}

/**
 * Checks a search space (search does this first): at least one entry; a range or choice written
 * by hand takes only the keys the helpers give it (`kind`, `low`, `high`, `log`; `kind`,
 * `values`), any other (a misspelt `hihg` or `vlaues`) is ERR_BLASNET_ARG_RANGE naming the entry
 * and the key; `log`, if given, a boolean that agrees with the kind (the kind decides the scale,
 * so `{ kind: 'logUniform', low, high }` is log-uniform; `log: true` on a uniform range or
 * `log: false` on a logUniform one is ERR_BLASNET_ARG_RANGE); numeric ranges finite with low <=
 * high (low > 0 on a log scale, integer bounds for integers); choices non-empty, of numbers,
 * strings, booleans or arrays of them; constants such values. Returns the space; throws a coded
 * RangeError or TypeError naming the entry.
 */
export function checkSpace(space: unknown): SearchSpace {
  return validateSpace('checkSpace', space);
}

/** A configuration drawn from `space` (names in the space's order, one generator draw per range or choice). */
export function sampleConfig(space: SearchSpace, rng: Rng): Config {
  const out: Config = {};
  for (const [name, v] of Object.entries(space)) {
    if (!isSpec(v)) out[name] = v;
    else if (v.kind === 'choice') out[name] = v.values[rng.int(v.values.length)];
    else out[name] = sampleNumber(v, rng);
  }
  return out;
}

/** The values a grid takes for one entry: every choice, every integer (or `points` of them), `points` spaced values. */
function gridValues(p: SearchParam | ParamValue, points: number): ParamValue[] {
  if (!isSpec(p)) return [p];
  if (p.kind === 'choice') return [...p.values];
  if (p.low === p.high) return [p.low];
  const log = onLogScale(p);
  // The ends are the bounds themselves: exp(log(0.1)) is 0.10000000000000002, above the range.
  const at = (t: number) => (t === 0 ? p.low : t === 1 ? p.high
    : log ? Math.exp(Math.log(p.low) + t * (Math.log(p.high) - Math.log(p.low))) : p.low + t * (p.high - p.low));
  if (p.kind === 'integer') {
    if (p.high - p.low + 1 <= points) return Array.from({ length: p.high - p.low + 1 }, (_, i) => p.low + i);
    return [...new Set(Array.from({ length: points }, (_, i) => Math.round(at(i / (points - 1)))))];
  }
  return Array.from({ length: points }, (_, i) => at(i / (points - 1)));
}

/**
 * Every configuration of the grid over `space`: all choices, and `points` values per numeric
 * range (evenly spaced, on a log scale for log ranges, both ends included; integer ranges with at
 * most `points` values give all of them). The last name varies fastest.
 */
export function gridConfigs(space: SearchSpace, points: number): Config[] {
  let out: Config[] = [{}];
  for (const [name, v] of Object.entries(space)) {
    const values = gridValues(v, points);
    out = out.flatMap((c) => values.map((x) => ({ ...c, [name]: x })));
  }
  return out;
}

/** The number of configurations gridConfigs would return. */
export function gridSize(space: SearchSpace, points: number): number {
  return Object.values(space).reduce<number>((n, v) => n * gridValues(v, points).length, 1);
}

/**
 * The space around `best`: every numeric range shrinks to `factor` of its width (of its log
 * width on a log scale) centred on best's value and clipped to the original bounds; choices and
 * constants are fixed to best's value (the coarse stage has chosen them).
 */
export function narrowSpace(space: SearchSpace, best: Config, factor: number): SearchSpace {
  const out: SearchSpace = {};
  for (const [name, v] of Object.entries(space)) {
    if (!isSpec(v) || v.kind === 'choice') {
      out[name] = best[name];
      continue;
    }
    const b = best[name] as number;
    const log = onLogScale(v);
    const f = (x: number) => (log ? Math.log(x) : x);
    const g = (x: number) => (log ? Math.exp(x) : x);
    const half = ((f(v.high) - f(v.low)) * factor) / 2;
    let low = Math.max(v.low, g(f(b) - half));
    let high = Math.min(v.high, g(f(b) + half));
    if (v.kind === 'integer') {
      low = Math.max(v.low, Math.floor(low));
      high = Math.min(v.high, Math.ceil(high));
    }
    // As the helpers make it, so the narrowed entry says its scale whether or not the given one did.
    out[name] = v.kind === 'uniform' ? uniform(low, high) : v.kind === 'logUniform' ? logUniform(low, high) : integers(low, high, { log });
  }
  return out;
}

/**
 * The space `blasnet search` explores by default, for defaultBuild: lr log-uniform in [1e-4,
 * 1e-1], weightDecay log-uniform in [1e-6, 1e-2], hidden widths [32], [64], [128], [64, 32] or
 * [128, 64], activation relu, tanh or gelu, dropout uniform in [0, 0.3], batchSize 16, 32 or 64.
 */
export const MLP_SPACE: SearchSpace = Object.freeze({
  lr: logUniform(1e-4, 1e-1),
  weightDecay: logUniform(1e-6, 1e-2),
  hidden: choice([[32], [64], [128], [64, 32], [128, 64]]),
  activation: choice(['relu', 'tanh', 'gelu']),
  dropout: uniform(0, 0.3),
  batchSize: choice([16, 32, 64]),
});

/** The kinds of a space entry in JSON, each named by its key. */
const ENTRY_KINDS = ['uniform', 'logUniform', 'integers', 'choice'] as const;

/** The keys each kind of JSON entry takes. */
const ENTRY_KEYS: Readonly<Record<(typeof ENTRY_KINDS)[number], readonly string[]>> = {
  uniform: ['uniform'], logUniform: ['logUniform'], integers: ['integers', 'log'], choice: ['choice'],
};

/** `"a", "b" and "c"` (or `or`) for a message. */
function showList(items: readonly string[], conj: 'and' | 'or'): string {
  const shown = items.map((k) => show(k));
  return shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(', ')} ${conj} ${shown[shown.length - 1]}`;
}

/** The deepest a space's JSON nests: the space, an entry, its choices, a choice of widths. */
const MAX_SPACE_DEPTH = 4;

/**
 * A space from JSON text, each entry `{ "uniform": [low, high] }`, `{ "logUniform": [low, high] }`,
 * `{ "integers": [low, high], "log": true? }`, `{ "choice": [values] }` or a constant; checked
 * as search checks spaces. Malformed JSON or entries (an entry of two kinds, or with a key its kind
 * does not take, such as "lgo" or "vlaues"), and JSON nested deeper than a space goes, are
 * ERR_BLASNET_FORMAT naming the entry and the key.
 */
export function spaceFromJSON(text: string): SearchSpace {
  const where = 'spaceFromJSON';
  if (typeof text !== 'string') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected JSON text (a string)`);
  if (nestsDeeperThan(Buffer.from(text, 'utf8'), MAX_SPACE_DEPTH)) {
    throw new BlasnetError(ErrorCode.FORMAT, `${where}: the JSON nests deeper than ${MAX_SPACE_DEPTH} levels, more than a space holds`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BlasnetError(ErrorCode.FORMAT, `${where}: not JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new BlasnetError(ErrorCode.FORMAT, `${where}: Expected a JSON object of hyperparameters`);
  const out: SearchSpace = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      out[name] = v as ParamValue;
      continue;
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    const kinds = ENTRY_KINDS.filter((k) => hasOwn(o, k));
    if (kinds.length === 0) {
      const has = keys.length === 0 ? 'it is empty' : `its keys: ${keys.slice(0, 5).map((k) => show(k)).join(', ')}${keys.length > 5 ? `, ... ${keys.length - 5} more` : ''}`;
      throw new BlasnetError(ErrorCode.FORMAT, `${where}: ${name} has no ${showList(ENTRY_KINDS, 'or')} key (${has}); an entry is a range, a choice or a constant`);
    }
    if (kinds.length > 1) throw new BlasnetError(ErrorCode.FORMAT, `${where}: ${name} gives both ${show(kinds[0])} and ${show(kinds[1])}; an entry is one kind`);
    const kind = kinds[0];
    // A misspelt key ("lgo", "vlaues") would otherwise be dropped and the search run over another space.
    const known = ENTRY_KEYS[kind];
    const unknown = keys.find((k) => !known.includes(k));
    if (unknown !== undefined) {
      throw new BlasnetError(ErrorCode.FORMAT, `${where}: ${name} has an unknown key ${show(unknown)}; ${kind === 'integers' ? 'an' : 'a'} ${kind} entry takes only ` +
        `${showList(known, 'and')}${kind === 'uniform' && unknown === 'log' ? ' (for a log scale write logUniform)' : ''}`);
    }
    const pair = (k: string): [number, number] => {
      const r = o[k];
      if (!Array.isArray(r) || r.length !== 2) throw new BlasnetError(ErrorCode.FORMAT, `${where}: ${name}.${k} must be [low, high]`);
      return r as [number, number];
    };
    if (kind === 'uniform') out[name] = uniform(...pair('uniform'));
    else if (kind === 'logUniform') out[name] = logUniform(...pair('logUniform'));
    else if (kind === 'integers') {
      if (o.log !== undefined && typeof o.log !== 'boolean') throw new BlasnetError(ErrorCode.FORMAT, `${where}: ${name}.log must be true or false, not ${show(o.log)}`);
      out[name] = integers(...pair('integers'), { log: o.log === true });
    } else out[name] = choice(o.choice as ParamValue[]);
  }
  return validateSpace(where, out);
}
