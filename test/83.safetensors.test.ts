/**
 * safetensors with PyTorch's state_dict keys: fixtures written by PyTorch
 * (test/fixtures/torch/make_fixtures.py) load and predict PyTorch's recorded outputs; blasnet's
 * files round-trip; mismatched tensors are listed and nothing is loaded; malformed files are
 * ERR_BLASNET_FORMAT.
 */
import { strict as assert } from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  batchNorm, decodeSafetensors, dense, dropout, encodeSafetensors, loadSafetensors, parseSafetensors, prelu, Rng, saveSafetensors,
  Sequential, stateDictEntries,
} from '../lib';
import type { Backend } from '../lib';
import { forEachBackend, normError, throwsCode } from './helpers';

const FIXTURES = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'torch');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-safetensors-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The blasnet equivalents of make_fixtures.py's models. */
const MODELS: Record<string, (backend?: Backend, seed?: number) => Sequential> = {
  classifier: (backend, seed = 0) => new Sequential({
    inputSize: 6, seed, backend,
    layers: [dense(16, { activation: 'relu' }), batchNorm(), prelu(), dropout(0.2), dense(4, { activation: 'softmax' })],
  }),
  regressor: (backend, seed = 0) => new Sequential({
    inputSize: 5, seed, backend,
    layers: [dense(8, { activation: 'tanh' }), prelu({ perUnit: true }), batchNorm(), dense(8, { activation: 'gelu' }), dense(3)],
  }),
};

/** A safetensors file from raw parts, for malformed and unusual files. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), lengthField?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(lengthField ?? BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return out;
}

/** A file whose one tensor has `field` set to an array nested 100000 deep. */
function deepHeader(field: 'shape' | 'dtype' | 'data_offsets'): Buffer {
  const fields: Record<string, string> = { dtype: '"F32"', shape: '[1]', data_offsets: '[0, 4]' };
  fields[field] = '['.repeat(100000) + ']'.repeat(100000);
  return file(`{"0.weight": {"dtype": ${fields.dtype}, "shape": ${fields.shape}, "data_offsets": ${fields.data_offsets}}}`, new Uint8Array(4));
}

const snapshot = (m: Sequential) => [m.params.slice(), ...m.buffers().map((b) => b.data.slice())];

forEachBackend('safetensors', (backend) => {
  for (const name of Object.keys(MODELS)) {
    it(`${name}: PyTorch's state_dict loads and predicts PyTorch's recorded outputs within 1e-5`, () => {
      const m = MODELS[name](backend);
      loadSafetensors(m, path.join(FIXTURES, `${name}.safetensors`));
      const io = parseSafetensors(fs.readFileSync(path.join(FIXTURES, `${name}.io.safetensors`))).tensors;
      const x = io.get('x')?.data as Float32Array;
      const y = io.get('y')?.data as Float32Array;
      const err = normError(m.predict(x).data, y);
      assert.ok(err < 1e-5, `normalised error ${err}`);
    });
  }

  it('a saved file reloads exactly, under the keys and dtypes PyTorch expects', () => {
    const m = MODELS.classifier(backend, 3);
    m.train();
    m.forward(new Rng(1).uniformArray(32 * 6, -1, 2));
    m.eval();
    const f = path.join(tmp, `c-${backend.name}.safetensors`);
    saveSafetensors(m, f);
    const { tensors, metadata } = parseSafetensors(fs.readFileSync(f));
    assert.deepEqual(metadata, { format: 'pt' });
    assert.deepEqual([...tensors.keys()], ['0.weight', '0.bias', '2.weight', '2.bias', '2.running_mean', '2.running_var',
      '2.num_batches_tracked', '3.weight', '5.weight', '5.bias']);
    assert.deepEqual(tensors.get('0.weight')?.shape, [16, 6]);
    assert.deepEqual(tensors.get('3.weight')?.shape, [1]);
    const counter = tensors.get('2.num_batches_tracked');
    assert.equal(counter?.dtype, 'I64');
    assert.deepEqual(counter?.shape, []);
    assert.deepEqual(tensors.get('2.running_var')?.data, m.buffers()[1].data);
    const back = MODELS.classifier(backend, 9);
    assert.notDeepEqual(back.params, m.params);
    loadSafetensors(back, f);
    assert.deepEqual(snapshot(back), snapshot(m));
  });

  it('options.keys renames tensors both ways; unknown keys are named', () => {
    const m = MODELS.regressor(backend, 1);
    const keys = { '0.weight': 'encoder.0.weight', '0.bias': 'encoder.0.bias' };
    const bytes = encodeSafetensors(m, { keys });
    assert.ok(parseSafetensors(bytes).tensors.has('encoder.0.weight'));
    const back = MODELS.regressor(backend, 2);
    decodeSafetensors(back, bytes, { keys });
    assert.deepEqual(back.params, m.params);
    throwsCode(() => encodeSafetensors(m, { keys: { '9.weight': 'x' } }), 'ERR_BLASNET_ARG_RANGE', RangeError, '9.weight');
    throwsCode(() => encodeSafetensors(m, { keys: { '0.weight': '0.bias' } }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'two tensors the key 0.bias');
    throwsCode(() => encodeSafetensors(m, { keys: { '0.weight': 3 as unknown as string } }), 'ERR_BLASNET_ARG_TYPE', TypeError, '0.weight');
    throwsCode(() => encodeSafetensors({} as Sequential), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });
});

describe('safetensors: keys and bad input', () => {
  it('named layers use their names; a dense layer with an activation takes two torch indices', () => {
    const m = new Sequential({ inputSize: 3, layers: [dense(4, { activation: 'relu', name: 'fc' }), dense(4), batchNorm(), dense(2, { bias: false })] });
    assert.deepEqual(stateDictEntries(m).map((e) => e.key), ['fc.weight', 'fc.bias', '2.weight', '2.bias', '3.weight', '3.bias',
      '3.running_mean', '3.running_var', '3.num_batches_tracked', '4.weight']);
  });

  it('a layer named as another layer\'s torch index is ERR_BLASNET_ARG_RANGE naming the key, and no file is written', () => {
    // Modules 0 (Linear), 1 (ReLU), 2 (the layer named "3"), 3 (the last Linear, unnamed).
    const m = new Sequential({ inputSize: 3, layers: [dense(4, { activation: 'relu' }), dense(4, { name: '3' }), dense(4)] });
    throwsCode(() => stateDictEntries(m), 'ERR_BLASNET_ARG_RANGE', RangeError, 'key 3.weight would name two tensors (3.weight and 2.weight)');
    const f = path.join(tmp, 'clash.safetensors');
    throwsCode(() => saveSafetensors(m, f), 'ERR_BLASNET_ARG_RANGE', RangeError, '3.weight');
    assert.ok(!fs.existsSync(f));
    // options.keys cannot part them: both tensors have the same default key.
    throwsCode(() => stateDictEntries(m, { keys: { '3.weight': 'a.weight' } }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'key 3.weight would name two tensors (3.weight and 2.weight)');
  });

  it('a built model\'s layers cannot be renamed (ERR_BLASNET_STATE): its file holds every tensor under the names it was built with', () => {
    const m = new Sequential({ inputSize: 3, layers: [dense(4, { name: 'a' }), dense(2, { name: 'b' })] });
    throwsCode(() => { m.layers[1].name = 'a'; }, 'ERR_BLASNET_STATE', undefined, 'cannot be renamed "a"');
    throwsCode(() => { m.layers[0].name = 'c'; }, 'ERR_BLASNET_STATE', undefined, 'cannot be renamed "c"');
    assert.deepEqual([...parseSafetensors(encodeSafetensors(m)).tensors.keys()].sort(), ['a.bias', 'a.weight', 'b.bias', 'b.weight']);
  });

  const good = () => encodeSafetensors(MODELS.classifier(undefined, 5));

  it('missing, unexpected and wrongly shaped tensors are listed together, and nothing is loaded', () => {
    const { tensors } = parseSafetensors(good());
    const entries: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    let at = 0;
    const add = (key: string, dtype: string, shape: number[], data: Buffer) => {
      entries[key] = { dtype, shape, data_offsets: [at, at + data.length] };
      chunks.push(data);
      at += data.length;
    };
    for (const [key, t] of tensors) {
      if (key === '0.bias') continue;
      if (key === '5.weight') add(key, 'F32', [3, 16], Buffer.alloc(3 * 16 * 4));
      else if (t.data instanceof BigInt64Array) add(key, 'I64', [], Buffer.alloc(8));
      else add(key, 'F32', [...t.shape], Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    add('7.weight', 'F32', [2], Buffer.alloc(8));
    const m = MODELS.classifier(undefined, 6);
    const before = snapshot(m);
    throwsCode(() => decodeSafetensors(m, file(entries, Buffer.concat(chunks))), 'ERR_BLASNET_SHAPE', undefined,
      'missing 0.bias; unexpected 7.weight; wrong shape or dtype: 5.weight F32 [3, 16] (expected a float dtype [4, 16])');
    assert.deepEqual(snapshot(m), before);
  });

  it('a float num_batches_tracked or an integer weight is a wrong dtype', () => {
    const m = new Sequential({ inputSize: 2, layers: [batchNorm()] });
    const bad = file({ '0.weight': { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, '0.bias': { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
      '0.running_mean': { dtype: 'F32', shape: [2], data_offsets: [16, 24] }, '0.running_var': { dtype: 'I64', shape: [2], data_offsets: [24, 40] },
      '0.num_batches_tracked': { dtype: 'F32', shape: [], data_offsets: [40, 44] } }, new Uint8Array(44));
    throwsCode(() => decodeSafetensors(m, bad), 'ERR_BLASNET_SHAPE', undefined, '0.running_var I64 [2]');
    throwsCode(() => decodeSafetensors(m, bad), 'ERR_BLASNET_SHAPE', undefined, '0.num_batches_tracked F32 [] (expected I64 [])');
  });

  it('F64, F16 and BF16 tensors are read as float32', () => {
    const m = new Sequential({ inputSize: 2, layers: [dense(1)] });
    const w = Buffer.alloc(16);
    w.writeDoubleLE(0.1, 0);
    w.writeDoubleLE(-2.5, 8);
    const half = Buffer.from([0x00, 0x3e]); // 1.5 in F16
    decodeSafetensors(m, file({ '0.weight': { dtype: 'F64', shape: [1, 2], data_offsets: [0, 16] }, '0.bias': { dtype: 'F16', shape: [1], data_offsets: [16, 18] } },
      Buffer.concat([w, half])));
    assert.deepEqual(Array.from(m.params), [Math.fround(0.1), -2.5, 1.5]);
    const bf = Buffer.from([0xc0, 0x3f]); // 1.5 in BF16
    decodeSafetensors(m, file({ '0.weight': { dtype: 'F64', shape: [1, 2], data_offsets: [0, 16] }, '0.bias': { dtype: 'BF16', shape: [1], data_offsets: [16, 18] } },
      Buffer.concat([w, bf])));
    assert.equal(m.params[2], 1.5);
  });

  it('a directory, a device or a FIFO is ERR_BLASNET_IO naming its kind, at once, and loads nothing', function () {
    this.timeout(30000);
    const m = MODELS.classifier(undefined, 8);
    const before = snapshot(m);
    throwsCode(() => loadSafetensors(m, tmp), 'ERR_BLASNET_IO', undefined, 'directory');
    throwsCode(() => loadSafetensors(m, '/dev/zero'), 'ERR_BLASNET_IO', undefined, 'character device');
    assert.deepEqual(snapshot(m), before);
    const fifo = path.join(tmp, 'weights-fifo');
    execFileSync('mkfifo', [fifo]);
    // In a child, so that an open waiting for a writer fails the test rather than hanging it.
    const script = `const { dense, loadSafetensors, Sequential } = require(${JSON.stringify(path.resolve(__dirname, '..', 'lib'))});
      try { loadSafetensors(new Sequential({ inputSize: 2, layers: [dense(1)] }), ${JSON.stringify(fifo)}); console.log('{}'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, `child: signal ${r.signal}, ${r.stderr}`);
    const got = JSON.parse(r.stdout) as { code?: string; message?: string };
    assert.equal(got.code, 'ERR_BLASNET_IO', r.stdout);
    assert.ok(got.message?.includes('FIFO'), got.message);
  });

  it('malformed files are ERR_BLASNET_FORMAT and load nothing', () => {
    const m = MODELS.classifier(undefined, 7);
    const before = snapshot(m);
    const bytes = good();
    const cases: [string, Uint8Array, string][] = [
      ['shorter than 8 bytes', bytes.subarray(0, 5), 'at least 8 bytes'],
      ['header length beyond the file', file('{}', undefined, 10_000n), 'bad safetensors header length'],
      ['header length above the bound', file('{}', undefined, 1n << 40n), 'bad safetensors header length'],
      ['header not JSON', file('{"0.weight": '), 'not valid JSON'],
      ['header not an object', file('[1, 2]'), 'not a JSON object'],
      ['unknown dtype', file({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)), 'unknown dtype'],
      ['unsupported dtype', file({ a: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'does not read'],
      ['offsets beyond the data', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)), 'outside the 4 data bytes'],
      ['offsets not matching the shape', file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), 'needs 12 bytes'],
      ['negative shape', file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'malformed shape'],
      ['overlapping tensors', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), 'overlaps'],
      ['a hole in the data', file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), 'hole'],
      ['bytes after the tensors', file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), 'cover 4 of the 8'],
      ['bad metadata', file({ __metadata__: { n: 1 } }), '__metadata__'],
      ['a shape nested 100000 deep', deepHeader('shape'), 'nests deeper than 3 levels'],
      ['a dtype nested 100000 deep', deepHeader('dtype'), 'nests deeper than 3 levels'],
      ['data_offsets nested 100000 deep', deepHeader('data_offsets'), 'nests deeper than 3 levels'],
      ['a shape of arrays', file({ a: { dtype: 'F32', shape: [[1]], data_offsets: [0, 4] } }, new Uint8Array(4)), 'nests deeper than 3 levels'],
    ];
    for (const [what, b, mentions] of cases) {
      const f = path.join(tmp, 'bad.safetensors');
      fs.writeFileSync(f, b);
      try {
        throwsCode(() => loadSafetensors(m, f), 'ERR_BLASNET_FORMAT', undefined, mentions);
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`);
      }
    }
    for (const field of ['shape', 'dtype', 'data_offsets'] as const) throwsCode(() => parseSafetensors(deepHeader(field)), 'ERR_BLASNET_FORMAT', undefined, 'nests deeper');
    // A long value is shown in part: the message stays short.
    const long = new Array(100000).fill(7);
    for (const [field, mentions] of [['dtype', 'unknown dtype [7, 7'], ['shape', 'malformed shape [7, 7'], ['data_offsets', 'malformed data_offsets [7, 7']]) {
      const header = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], [field]: field === 'shape' ? [...long, -1] : long } };
      let message = '';
      try {
        parseSafetensors(file(header, new Uint8Array(4)));
      } catch (e) {
        message = (e as Error).message;
      }
      assert.ok(message.includes(mentions) && message.length < 300, `${field}: ${message.slice(0, 400)}`);
    }
    assert.deepEqual(snapshot(m), before);
    throwsCode(() => loadSafetensors(m, path.join(tmp, 'absent.safetensors')), 'ERR_BLASNET_IO', undefined, 'absent.safetensors');
    throwsCode(() => loadSafetensors(m, 3 as unknown as string), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => parseSafetensors('x' as unknown as Uint8Array), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });
});
