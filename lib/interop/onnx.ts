/**
 * ONNX export: a Sequential model (and its stored preprocessing) as an ONNX graph that computes
 * exactly what model.predict returns, for onnxruntime in Python, C#, the browser, ...
 */
import type { ActivationName } from '../activations';
import { optionsArg, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { writeFileAtomic } from '../io/format';
import { Activation, BatchNorm, Dense, Dropout, GaussianNoise, PReLU } from '../layers';
import type { Layer } from '../layers';
import { layerIds } from '../layers/check';
import type { Sequential } from '../model/sequential';
import { MinMaxScaler, PCA, Standardizer } from '../data/preprocess';
import { TabularPreprocessor, tableOutputsMismatch } from '../data/tabular';
import { revived } from '../io/model-file';
import { checkPreprocessedWidth } from '../data/input';
import { OnnxAttributeType, OnnxDataType, onnxModelType } from './onnx-schema';

/** Options of exportOnnx and encodeOnnx. */
export interface OnnxExportOptions {
  /** The ai.onnx operator set the graph targets, 13 to 21. Default 17 (onnxruntime >= 1.12, onnx >= 1.12). */
  opset?: number;
  /** The graph's name. Default 'blasnet'. */
  graphName?: string;
  /**
   * Preprocessing to put in front of the network instead of the model's own: e.g. the
   * TabularPreprocessor loadModel returns for a model trained on a table. A built-in one that
   * returns another width than the model's inputSize is ERR_BLASNET_SHAPE.
   */
  preprocessing?: unknown;
  /**
   * What the graph's 'input' takes. 'raw' (default): the rows the preprocessing transforms, its
   * nodes in the graph. 'preprocessed': the preprocessing's output (for a table, what
   * TabularPreprocessor.transform returns: one-hot encoded, imputed, standardised), i.e. the
   * model's own input; only the preprocessing's output side stays in the graph, so a regression's
   * outputs are still scaled back to the label's units. For tables with text (one-hot) columns,
   * which a float input cannot carry as raw cells.
   */
  input?: 'raw' | 'preprocessed';
}

/** An attribute value for OnnxGraph.node: a float, an integer, a string or lists of floats / integers. */
export type OnnxAttribute = { f: number } | { i: number } | { s: string } | { floats: number[] } | { ints: number[] };

/**
 * An attribute as protobufjs encodes it, from exactly one of { f }, { i }, { s }, { floats },
 * { ints } holding a value of its type; anything else is ERR_BLASNET_ARG_TYPE naming the key.
 */
function attributeOf(key: string, a: unknown): Record<string, unknown> {
  const bad = (what: string): never => {
    throw typeError(ErrorCode.ARG_TYPE, `OnnxGraph.node: attribute ${JSON.stringify(key)} ${what}; ` +
      'give one of { f: number }, { i: integer }, { s: string }, { floats: number[] }, { ints: integer[] }');
  };
  if (a === null || typeof a !== 'object' || Array.isArray(a)) return bad(`is ${show(a)}`);
  const keys = Object.keys(a);
  if (keys.length !== 1) return bad(`has the fields ${show(keys)}`);
  const v = (a as Record<string, unknown>)[keys[0]];
  const isInt = (x: unknown) => Number.isSafeInteger(x);
  switch (keys[0]) {
    case 'f': return typeof v === 'number' ? { name: key, type: OnnxAttributeType.FLOAT, f: v } : bad(`f is ${show(v)}`);
    case 'i': return isInt(v) ? { name: key, type: OnnxAttributeType.INT, i: v } : bad(`i is ${show(v)}, not an integer`);
    case 's': return typeof v === 'string' ? { name: key, type: OnnxAttributeType.STRING, s: Buffer.from(v, 'utf8') } : bad(`s is ${show(v)}`);
    case 'floats':
      return Array.isArray(v) && v.every((x) => typeof x === 'number') ? { name: key, type: OnnxAttributeType.FLOATS, floats: v } : bad(`floats is ${show(v)}`);
    case 'ints':
      return Array.isArray(v) && v.every(isInt) ? { name: key, type: OnnxAttributeType.INTS, ints: v } : bad(`ints is ${show(v)}`);
    default: return bad(`has the field ${show(keys[0])}`);
  }
}

/** A graph node as protobufjs encodes it. */
interface NodeObject {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  attribute: Record<string, unknown>[];
}

function checkName(where: string, what: string, v: unknown): void {
  if (typeof v !== 'string' || v === '') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a non-empty string for ${what} but received ${show(v)}`);
}

/**
 * The graph under construction, handed to layers and preprocessing so that each writes its own
 * nodes. Every value is a float32 tensor; names are made unique by the graph.
 */
export class OnnxGraph {
  /** The ai.onnx opset the graph targets. */
  readonly opset: number;
  private readonly nodes: NodeObject[] = [];
  private readonly initializers: Record<string, unknown>[] = [];
  private readonly used = new Set<string>(['input', 'output']);

  constructor(opset: number) {
    if (!(Number.isInteger(opset) && opset >= 1)) throw rangeError(ErrorCode.ARG_RANGE, `OnnxGraph: Expected positive integer for opset but received ${show(opset)}`);
    this.opset = opset;
  }

  private unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** A float32 constant (an initializer) of shape `dims`; returns its name. dims [] is a scalar. */
  constant(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    checkName('OnnxGraph.constant', 'name', name);
    if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0 && d <= 0x7fffffff)) {
      throw rangeError(ErrorCode.ARG_RANGE, `OnnxGraph.constant: Expected an array of non-negative integers for dims but received ${show(dims)}`);
    }
    if (typeof data !== 'object' || data === null || !Number.isSafeInteger(data.length)) {
      throw typeError(ErrorCode.ARG_TYPE, `OnnxGraph.constant: Expected an array of numbers for data but received ${typeName(data)}`);
    }
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw rangeError(ErrorCode.SHAPE, `OnnxGraph.constant: ${name} has ${data.length} values for shape [${dims.join(', ')}]`);
    // raw_data is little-endian whatever the host's byte order.
    const raw = new Uint8Array(4 * n);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < n; i++) view.setFloat32(4 * i, data[i], true);
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims: dims.slice(), dataType: OnnxDataType.FLOAT, rawData: raw });
    return unique;
  }

  /** Appends a node of the ai.onnx domain; returns the name of its (single) output. */
  node(opType: string, inputs: readonly string[], attributes: Record<string, OnnxAttribute> = {}, name = opType): string {
    checkName('OnnxGraph.node', 'opType', opType);
    if (!Array.isArray(inputs) || !inputs.every((i) => typeof i === 'string')) {
      throw typeError(ErrorCode.ARG_TYPE, `OnnxGraph.node: Expected an array of value names for inputs but received ${show(inputs)}`);
    }
    attributes = optionsArg('OnnxGraph.node', attributes, undefined, 'attributes');
    checkName('OnnxGraph.node', 'name', name);
    const output = this.unique(name);
    const attribute = Object.entries(attributes).map(([key, a]) => attributeOf(key, a));
    this.nodes.push({ input: inputs.slice(), output: [output], name: output, opType, attribute });
    return output;
  }

  /** @internal Renames the value `from` (the last node's output) to `to`, or adds an Identity when it is not a node output. */
  finish(from: string, to: string): void {
    const last = this.nodes[this.nodes.length - 1];
    if (last && last.output[0] === from) last.output[0] = to;
    else this.nodes.push({ input: [from], output: [to], name: to, opType: 'Identity', attribute: [] });
  }

  /** @internal */
  parts(): { nodes: NodeObject[]; initializers: Record<string, unknown>[] } {
    return { nodes: this.nodes, initializers: this.initializers };
  }
}

/**
 * What a preprocessing step contributes to an exported graph. A preprocessor that is not built in
 * (Standardizer, MinMaxScaler, PCA) takes part in export by having a method `toOnnx()` that
 * returns one of these.
 */
export interface OnnxPreprocessing {
  /** Columns of the raw rows the graph takes as 'input'. */
  readonly inputSize: number;
  /** Writes the nodes from the raw rows `input` to the model's input; returns that value's name. */
  input(graph: OnnxGraph, input: string): string;
  /**
   * Writes the nodes that turn the model's output into what predict returns (e.g. undoing a
   * target standardisation); returns that value's name. Absent when predict returns the model's
   * output as it is.
   */
  output?(graph: OnnxGraph, output: string): string;
}

/** The supported opsets and the IR version of the onnx release that introduced each. */
const IR_VERSION: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

const f32 = (x: ArrayLike<number>): Float32Array => Float32Array.from(x);

/**
 * x - shift for float64 shifts, in float32 nodes without rounding the shifts: each is split into
 * its float32 value and the float32 of the rest, x - hi - lo. A float32 x close to hi (a column
 * near its mean) loses nothing in x - hi (Sterbenz), so the result is within one rounding of the
 * float64 difference that transform() takes, where x - float32(shift) could be off by half a unit
 * of the shift's last place: 0.03 for a mean near 1e6, which a spread of 0.1 makes 30% of a
 * standardised value.
 */
function subtractExact(g: OnnxGraph, x: string, shift: readonly number[], name: string): string {
  const hi = f32(shift);
  const lo = Float32Array.from(shift, (v, i) => v - hi[i]);
  const centred = g.node('Sub', [x, g.constant(`${name}_hi`, [shift.length], hi)], {}, `${name}_centred_hi`);
  return lo.every((v) => v === 0) ? centred : g.node('Sub', [centred, g.constant(`${name}_lo`, [shift.length], lo)], {}, `${name}_centred`);
}

/** y + shift for float64 shifts, as subtractExact: y + hi + lo. */
function addExact(g: OnnxGraph, y: string, shift: readonly number[], name: string): string {
  const hi = f32(shift);
  const lo = Float32Array.from(shift, (v, i) => v - hi[i]);
  const added = g.node('Add', [y, g.constant(`${name}_hi`, [shift.length], hi)], {}, lo.every((v) => v === 0) ? name : `${name}_hi_added`);
  return lo.every((v) => v === 0) ? added : g.node('Add', [added, g.constant(`${name}_lo`, [shift.length], lo)], {}, name);
}

/** The built-in preprocessors' graphs: the same arithmetic as their transform(), in float32. */
function builtInPreprocessing(p: Standardizer | MinMaxScaler | PCA): OnnxPreprocessing {
  if (p instanceof Standardizer) {
    const j = p.toJSON();
    return {
      inputSize: j.cols,
      input: (g, x) => g.node('Mul', [subtractExact(g, x, j.mean, 'standardizer_mean'),
        g.constant('standardizer_inv_std', [j.cols], j.std.map((s) => (s === 0 ? 1 : 1 / s)))], {}, 'standardized'),
    };
  }
  if (p instanceof MinMaxScaler) {
    const j = p.toJSON();
    const [lo, hi] = j.range;
    const factor = j.min.map((v, c) => (j.max[c] > v ? (hi - lo) / (j.max[c] - v) : 0));
    return {
      inputSize: j.cols,
      input: (g, x) => {
        const scaled = g.node('Mul', [g.node('Sub', [x, g.constant('minmax_min', [j.cols], j.min)], {}, 'minmax_shifted'),
          g.constant('minmax_factor', [j.cols], factor)], {}, 'minmax_scaled');
        return lo === 0 ? scaled : g.node('Add', [scaled, g.constant('minmax_low', [], [lo])], {}, 'minmax');
      },
    };
  }
  const j = p.toJSON();
  return {
    inputSize: j.cols,
    input: (g, x) => {
      const centred = g.node('Sub', [x, g.constant('pca_mean', [j.cols], f32(j.mean))], {}, 'pca_centred');
      const projected = g.node('Gemm', [centred, g.constant('pca_axes', [j.components, j.cols], j.axes)], { transB: { i: 1 } }, 'pca_projected');
      if (!j.whiten) return projected;
      const post = j.explainedVariance.map((v) => (v + j.eps > 0 ? 1 / Math.sqrt(v + j.eps) : 0));
      return g.node('Mul', [projected, g.constant('pca_whiten', [j.components], post)], {}, 'pca_whitened');
    },
  };
}

/**
 * A table preprocessing whose feature columns are all numeric: the graph takes those columns as
 * float32 in the order they were fitted, NaN marking a missing cell; it imputes the training fill
 * (Where(IsNaN)), adds the missingness indicators, standardises, and lays the features out as
 * transform() does (a 0/1 selection matrix). For a regression, the output is scaled back to the
 * label's units. One-hot columns take text, which a float input cannot carry: ERR_BLASNET_UNSUPPORTED
 * unless `raw` is false, when buildOnnx writes only the output side.
 */
function tabularPreprocessing(where: string, p: TabularPreprocessor, raw: boolean): OnnxPreprocessing {
  const j = p.toJSON();
  const cats = j.columns.filter((c) => c.kind === 'categorical').map((c) => c.name);
  if (raw && cats.length > 0) {
    throw new BlasnetError(ErrorCode.UNSUPPORTED,
      `${where}: the table preprocessing one-hot encodes ${cats.map((c) => JSON.stringify(c)).join(', ')}, whose text values a float ONNX input cannot carry; `
      + `export with { input: 'preprocessed' } and feed TabularPreprocessor.transform's output (regression outputs are still scaled back to the label's units)`);
  }
  const cols = j.columns as { name: string; fill: number; mean: number; std: number; indicator: boolean }[];
  const n = cols.length, width = p.inputSize;
  // Features then indicators ([n | n]) -> transform's layout: each column's value, then its indicator if it has one.
  const select = new Float32Array(2 * n * width);
  let o = 0;
  cols.forEach((c, k) => {
    select[k * width + o++] = 1;
    if (c.indicator) select[(n + k) * width + o++] = 1;
  });
  const target = j.target;
  return {
    inputSize: n,
    input: (g, x) => {
      // A missing cell takes its fill's standardised value, worked out in float64 as transform()
      // does: imputing the float32 fill first would round it (a median near 1e6 by up to 0.03).
      const missing = g.node('IsNaN', [x], {}, 'table_missing');
      const standardized = g.node('Div', [subtractExact(g, x, cols.map((c) => c.mean), 'table_mean'),
        g.constant('table_std', [n], cols.map((c) => c.std))], {}, 'table_standardized');
      const scaled = g.node('Where', [missing, g.constant('table_fill_scaled', [n], cols.map((c) => (c.fill - c.mean) / c.std)), standardized], {}, 'table_scaled');
      if (!cols.some((c) => c.indicator) && width === n) return scaled;
      const flags = g.node('Cast', [missing], { to: { i: 1 } }, 'table_indicators');
      return g.node('MatMul', [g.node('Concat', [scaled, flags], { axis: { i: 1 } }, 'table_both'), g.constant('table_layout', [2 * n, width], select)], {}, 'table_features');
    },
    ...(target && target.task === 'regression' ? {
      output: (g: OnnxGraph, y: string) => addExact(g, g.node('Mul', [y, g.constant('target_std', [target.std.length], target.std)], {}, 'target_scaled'),
        target.mean, 'target'),
    } : {}),
  };
}

/** The ONNX contribution of a model's preprocessing, or a coded error naming what cannot be exported. */
function preprocessingOf(where: string, p: unknown, raw: boolean): OnnxPreprocessing {
  if (p instanceof Standardizer || p instanceof MinMaxScaler || p instanceof PCA) return builtInPreprocessing(p);
  if (p instanceof TabularPreprocessor) return tabularPreprocessing(where, p, raw);
  const own = (p as { toOnnx?: unknown } | null)?.toOnnx;
  const name = (p as { constructor?: { name?: string } } | null)?.constructor?.name ?? typeof p;
  if (typeof own === 'function') {
    const c = (own as () => OnnxPreprocessing).call(p);
    if (!c || !Number.isInteger(c.inputSize) || c.inputSize < 1 || typeof c.input !== 'function') {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: ${name}.toOnnx() must return { inputSize (a positive integer), input(graph, name), output?(graph, name) }`);
    }
    return c;
  }
  throw new BlasnetError(ErrorCode.UNSUPPORTED, `${where}: the model's preprocessing ${name} cannot be exported to ONNX (it has no toOnnx())`);
}

/** Nodes of an elementwise table activation, or a row-wise softmax / log-softmax, applied to x. */
function activationNodes(g: OnnxGraph, fn: ActivationName | 'softmax' | 'logSoftmax', param: number, x: string): string {
  switch (fn) {
    case 'identity': return x;
    case 'sigmoid': return g.node('Sigmoid', [x]);
    case 'tanh': return g.node('Tanh', [x]);
    case 'relu': return g.node('Relu', [x]);
    case 'leakyRelu': return g.node('LeakyRelu', [x], { alpha: { f: param } });
    case 'elu': return g.node('Elu', [x], { alpha: { f: param } });
    // ONNX's defaults are the float32 roundings of the same constants; stated for clarity.
    case 'selu': return g.node('Selu', [x], { alpha: { f: 1.6732632423543772 }, gamma: { f: 1.0507009873554805 } });
    case 'silu': return g.node('Mul', [x, g.node('Sigmoid', [x])], {}, 'silu');
    case 'softplus': return g.node('Softplus', [x]);
    case 'gelu': {
      // The exact form 0.5 x (1 + erf(x / sqrt 2)); ONNX's Gelu op needs opset 20.
      const e = g.node('Erf', [g.node('Mul', [x, g.constant('gelu_inv_sqrt2', [], [Math.SQRT1_2])])]);
      const onePlus = g.node('Add', [e, g.constant('gelu_one', [], [1])]);
      // Halved first: x (1 + erf) overflows float32 beyond 1.7e38, where 0.5 x stays finite.
      return g.node('Mul', [g.node('Mul', [x, g.constant('gelu_half', [], [0.5])]), onePlus], {}, 'gelu');
    }
    case 'softmax': return g.node('Softmax', [x], { axis: { i: 1 } });
    case 'logSoftmax': return g.node('LogSoftmax', [x], { axis: { i: 1 } });
    default: {
      const never: never = fn;
      throw new BlasnetError(ErrorCode.INTERNAL, `no ONNX form for activation ${String(never)}`);
    }
  }
}

/**
 * The nodes of one layer in inference form: x -> its output. Built-in layers only; anything else
 * is ERR_BLASNET_UNSUPPORTED naming the layer.
 */
function layerNodes(where: string, g: OnnxGraph, layer: Layer, index: number, params: Map<string, Float32Array>,
  buffers: Map<string, Float32Array>, x: string): string {
  const id = layer.name ?? String(index);
  const p = (n: string) => params.get(`${id}.${n}`) as Float32Array;
  if (layer instanceof Dense) {
    // DropConnect scales kept weights while training (inverted), so inference uses W as it is.
    const w = g.constant(`${id}.weight`, [layer.units, layer.inSize], p('weight'));
    const inputs = layer.useBias ? [x, w, g.constant(`${id}.bias`, [layer.units], p('bias'))] : [x, w];
    const z = g.node('Gemm', inputs, { transB: { i: 1 } }, `${id}.gemm`);
    return activationNodes(g, layer.activation, layer.activationParam, z);
  }
  if (layer instanceof Activation) return activationNodes(g, layer.fn, layer.param, x);
  if (layer instanceof BatchNorm) {
    const n = layer.inSize;
    return g.node('BatchNormalization', [x, g.constant(`${id}.gamma`, [n], p('gamma')), g.constant(`${id}.beta`, [n], p('beta')),
      g.constant(`${id}.running_mean`, [n], buffers.get(`${id}.runningMean`) as Float32Array),
      g.constant(`${id}.running_var`, [n], buffers.get(`${id}.runningVar`) as Float32Array)], { epsilon: { f: layer.eps } }, `${id}.batchnorm`);
  }
  if (layer instanceof PReLU) {
    const slope = p('slope');
    return g.node('PRelu', [x, g.constant(`${id}.slope`, [slope.length], slope)], {}, `${id}.prelu`);
  }
  if (layer instanceof Dropout) {
    // Inverted dropout is the identity at inference; classic dropout scales by the keep probability.
    if (layer.mode === 'inverted' || layer.rate === 0) return x;
    return g.node('Mul', [x, g.constant(`${id}.keep`, [], [1 - layer.rate])], {}, `${id}.dropout`);
  }
  // Gaussian noise is added only while training.
  if (layer instanceof GaussianNoise) return x;
  throw new BlasnetError(ErrorCode.UNSUPPORTED,
    `${where}: layer ${index} (${JSON.stringify(layer.name ?? layer.kind)}, kind ${JSON.stringify(layer.kind)}) has no ONNX form; built-in layers are dense, activation, batchNorm, prelu, dropout and gaussianNoise`);
}

function checkOpset(where: string, opset: unknown): number {
  if (typeof opset !== 'number' || !(opset in IR_VERSION)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected an integer from 13 to 21 for opset but received ${show(opset)}`);
  }
  return opset;
}

function checkModel(where: string, model: unknown): Sequential {
  const m = model as Sequential | null;
  if (!m || typeof m !== 'object' || !Array.isArray(m.layers) || typeof m.parameters !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Sequential model`);
  }
  return m;
}

const LIBRARY_VERSION: string = (() => {
  try {
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

const tensorType = (dims: (number | string)[]) => ({
  tensorType: {
    elemType: OnnxDataType.FLOAT,
    shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
  },
});

/**
 * The bytes of an ONNX model computing model.predict (see exportOnnx). Throws
 * ERR_BLASNET_UNSUPPORTED naming a layer, preprocessing or CustomLoss that cannot be exported.
 */
export function encodeOnnx(model: Sequential, options: OnnxExportOptions = {}): Uint8Array {
  return buildOnnx('encodeOnnx', model, options);
}

/** The most tensor bytes an exported file takes: protobuf's 2 GiB message limit, less 1 MiB for the graph. */
const ONNX_MAX_BYTES = 2 ** 31 - 2 ** 20;

function tooLarge(where: string, bytes: number): BlasnetError {
  return new BlasnetError(ErrorCode.UNSUPPORTED, `${where}: the model's tensors take ${bytes} bytes, more than the ${ONNX_MAX_BYTES} ` +
    '(2 GiB, less room for the graph) an ONNX file holds without external data; export the weights with saveSafetensors');
}

const ONNX_OPTIONS: OptionKeys<OnnxExportOptions> = { opset: true, graphName: true, preprocessing: true, input: true };

function buildOnnx(where: string, model: Sequential, options: OnnxExportOptions): Uint8Array {
  const m = checkModel(where, model);
  // A fitAsync worker's weights are consistent only while it waits (in its callbacks).
  if (typeof m.notBusy === 'function') m.notBusy(where, true);
  options = optionsArg(where, options, ONNX_OPTIONS);
  // Weights are looked up by name: two layers of one name would both get the same tensors.
  layerIds(where, m.layers);
  const opset = checkOpset(where, options.opset ?? 17);
  const custom = m.lossSpec?.custom;
  if (custom) {
    throw new BlasnetError(ErrorCode.UNSUPPORTED,
      `${where}: the model's loss is the CustomLoss ${JSON.stringify(custom.name)}, whose reading of the outputs an ONNX graph cannot carry; set a built-in loss (setLoss) before exporting`);
  }
  const input = options.input ?? 'raw';
  if (input !== 'raw' && input !== 'preprocessed') {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected 'raw' or 'preprocessed' for options.input but received ${show(input)}`);
  }
  const raw = input === 'raw';
  const graphName = options.graphName ?? 'blasnet';
  if (typeof graphName !== 'string') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a string for options.graphName but received ${show(graphName)}`);
  // onnx.checker requires a graph's name.
  if (graphName === '') throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected a non-empty string for options.graphName`);
  const p = options.preprocessing;
  if (p !== undefined && (p === null || typeof p !== 'object')) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a preprocessor object for options.preprocessing but received ${show(p)}`);
  }
  // A loaded file's JSON form (loadModel's `preprocessing`) is rebuilt, as saveModel takes it.
  const given = p === undefined ? m.preprocessing : revived(where, p);
  checkPreprocessedWidth(where, given, m.inputSize);
  const mismatch = given instanceof TabularPreprocessor ? tableOutputsMismatch(given, m.outputSize) : null;
  if (mismatch) throw rangeError(ErrorCode.SHAPE, `${where}: ${mismatch}`);
  const pre = given ? preprocessingOf(where, given, raw) : null;
  // The weights alone past the limit: refused before the graph copies them (the check below counts every tensor).
  const weightBytes = 4 * (m.params.length + m.buffers().reduce((n, b) => n + b.data.length, 0));
  if (weightBytes > ONNX_MAX_BYTES) throw tooLarge(where, weightBytes);
  const g = new OnnxGraph(opset);
  const params = new Map(m.parameters().map((v) => [v.name, v.data]));
  const buffers = new Map(m.buffers().map((b) => [b.name, b.data]));
  let h = pre && raw ? pre.input(g, 'input') : 'input';
  m.layers.forEach((layer, i) => {
    h = layerNodes(where, g, layer, i, params, buffers, h);
  });
  if (pre?.output) h = pre.output(g, h);
  g.finish(h, 'output');
  const { nodes, initializers } = g.parts();
  // Protocol buffers cap a message at 2 GiB: a larger model would be written, then refused by every reader.
  const bytes = initializers.reduce((sum, t) => sum + ((t.rawData as Uint8Array | undefined)?.length ?? 0), 0);
  if (bytes > ONNX_MAX_BYTES) throw tooLarge(where, bytes);
  const doc = {
    irVersion: IR_VERSION[opset],
    producerName: 'blasnet',
    producerVersion: LIBRARY_VERSION,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: graphName,
      node: nodes,
      initializer: initializers,
      input: [{ name: 'input', type: tensorType(['batch', pre && raw ? pre.inputSize : m.inputSize]) }],
      output: [{ name: 'output', type: tensorType(['batch', m.outputSize]) }],
    },
  };
  const type = onnxModelType();
  return type.encode(type.fromObject(doc)).finish();
}

/**
 * Writes `model` as an ONNX file (atomically) that computes exactly what model.predict returns:
 * input 'input' [batch, features] float32 (batch dynamic), output 'output' [batch, outputs]
 * float32, probabilities when the model ends in softmax or sigmoid. The stored preprocessing
 * (Standardizer, MinMaxScaler, PCA, or any preprocessor with toOnnx()) comes first, so the graph
 * takes the raw rows; options.preprocessing (e.g. a TabularPreprocessor) replaces it. With
 * options.input 'preprocessed' the graph takes the preprocessing's output instead (needed for a
 * table with text columns) and still ends with its output side: a table regression's outputs are
 * y * std + mean, in the label's units, as inverseTargets(predict(...)) returns.
 *
 * Layers in inference form: dense = Gemm (transB = 1, PyTorch's [out, in] weights) + its
 * activation (gelu as the exact erf form, silu as x * Sigmoid(x)); batchNorm =
 * BatchNormalization with the running statistics; prelu = PRelu; dropout and DropConnect =
 * nothing (classic dropout = Mul by the keep probability). Other layers, preprocessing without
 * toOnnx() and a CustomLoss are ERR_BLASNET_UNSUPPORTED, naming them.
 */
export function exportOnnx(model: Sequential, file: string, options: OnnxExportOptions = {}): void {
  if (typeof file !== 'string' || file === '') throw typeError(ErrorCode.ARG_TYPE, `exportOnnx: Expected a file path but received ${show(file)}`);
  writeFileAtomic(file, buildOnnx('exportOnnx', model, options));
}
