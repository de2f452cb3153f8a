/**
 * The data module: IDX files (round trips of every type, plain and gzip, and every malformed
 * file), MNIST-like loaders on synthetic sets and on the real Fashion-MNIST when installed, CSV
 * reading and its errors, preprocessing (standardisation, min-max, PCA with known axes, JSON round
 * trips), splits (sizes, coverage, determinism, stratification) and the batch iterator (coverage,
 * order, no allocation per batch).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  BatchIterator, defaultBackend, encodeIdx, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadFashionMnist, loadMnistLike, Matrix, MinMaxScaler,
  dense, oneHot, parseIdx, TabularPreprocessor, PCA, preprocessorFromJSON, readCsv, readIdx, readTable, Rng, Sequential, split, Standardizer, symmetricEigen, trainTestSplit,
  writeIdx,
} from '../lib';
import type { Backend, IdxData, Targets } from '../lib';
import { stratifiedSplitKeepingSingletons } from '../lib/data/split';
import { backends, throwsCode } from './helpers';

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-data-'));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function file(name: string, bytes: Uint8Array): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** An IDX header followed by raw payload bytes, built by hand (independent of encodeIdx). */
function idxBytes(type: number, dims: number[], payload: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length + payload.length);
  b[2] = type;
  b[3] = dims.length;
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  Buffer.from(payload).copy(b, 4 + 4 * dims.length);
  return b;
}

function sameBits(a: IdxData, b: IdxData): void {
  assert.equal(a.constructor, b.constructor);
  assert.equal(a.length, b.length);
  assert.deepEqual(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
}

describe('data: IDX files', () => {
  const samples: [string, IdxData, number[]][] = [
    ['uint8', Uint8Array.from([0, 1, 127, 128, 255, 42]), [2, 3]],
    ['int8', Int8Array.from([-128, -1, 0, 1, 127]), [5]],
    ['int16', Int16Array.from([-32768, -2, 258, 32767, 0, 1, 2, 3]), [2, 2, 2]],
    ['int32', Int32Array.from([-2147483648, 2147483647, 16909060, -5]), [4, 1]],
    ['float32', Float32Array.from([0, -0, 1.5, -3.25e-12, Infinity, -Infinity, NaN, 3.4028234663852886e38]), [8]],
    ['float64', Float64Array.from([Math.PI, -0, 1e-310, -1e300, NaN, 2 ** 53 + 2]), [3, 2]],
  ];
  for (const [type, data, dims] of samples) {
    for (const gzip of [false, true]) {
      it(`${type} round trip (${gzip ? 'gzip' : 'plain'})`, () => {
        const p = path.join(tmp, `rt-${type}-${gzip}.idx`);
        writeIdx(p, data, dims, { gzip });
        const raw = fs.readFileSync(p);
        assert.equal(raw[0] === 0x1f && raw[1] === 0x8b, gzip);
        const idx = readIdx(p);
        assert.equal(idx.type, type);
        assert.deepEqual(idx.dims, dims);
        sameBits(idx.data, data);
        assert.equal(idx.data.byteOffset, 0, 'the data owns an aligned buffer');
      });
    }
  }

  it('reads big-endian values written by hand, in every multi-byte type', () => {
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x0b, [2], [0x01, 0x02, 0xff, 0xfe])).data), [258, -2]);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x0c, [1], [0x01, 0x02, 0x03, 0x04])).data), [16909060]);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x0d, [1], [0x3f, 0xc0, 0, 0])).data), [1.5]);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x0e, [1], [0xc0, 0x00, 0, 0, 0, 0, 0, 0])).data), [-2]);
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x09, [2], [0xff, 0x05])).data), [-1, 5]);
    // encodeIdx writes the same bytes.
    assert.deepEqual(encodeIdx(Int16Array.from([258, -2])), idxBytes(0x0b, [2], [0x01, 0x02, 0xff, 0xfe]));
  });

  it('detects gzip by content, whatever the name', () => {
    const p = file('named-plain.idx', zlib.gzipSync(idxBytes(0x08, [3], [1, 2, 3])));
    assert.deepEqual(Array.from(readIdx(p).data), [1, 2, 3]);
  });

  it('empty dims and zero-size arrays', () => {
    assert.deepEqual(Array.from(parseIdx(idxBytes(0x08, [0, 5], [])).data), []);
    const scalar = parseIdx(idxBytes(0x08, [], [7]));
    assert.deepEqual(scalar.dims, []);
    assert.deepEqual(Array.from(scalar.data), [7]);
  });

  it('a missing file is ERR_BLASNET_IO naming the path', () => {
    const p = path.join(tmp, 'does-not-exist.idx');
    throwsCode(() => readIdx(p), 'ERR_BLASNET_IO', undefined, p);
  });

  const malformed: [string, () => Buffer, string][] = [
    ['empty file', () => Buffer.alloc(0), 'truncated'],
    ['shorter than the magic', () => Buffer.from([0, 0, 8]), 'truncated'],
    ['wrong magic', () => Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), 'wrong magic'],
    ['unknown type 0x0a', () => idxBytes(0x0a, [1], [0]), 'unknown IDX type code 0x0a'],
    ['unknown type 0x07', () => idxBytes(0x07, [1], [0]), 'unknown IDX type'],
    ['truncated header', () => idxBytes(0x08, [2, 3], []).subarray(0, 9), 'truncated'],
    ['truncated payload', () => idxBytes(0x08, [2, 3], [1, 2, 3, 4, 5]), 'truncated'],
    ['truncated multi-byte payload', () => idxBytes(0x0c, [2], [0, 0, 0, 1, 0, 0, 0]), 'truncated'],
    ['payload longer than the dims', () => idxBytes(0x08, [2, 2], [1, 2, 3, 4, 5]), 'do not match'],
    ['dims product overflowing the payload', () => idxBytes(0x08, [65536, 65536], [1]), 'truncated'],
    ['corrupt gzip', () => zlib.gzipSync(idxBytes(0x08, [100], new Array(100).fill(3))).subarray(0, 20), 'gzip'],
    ['gzip of a truncated file', () => zlib.gzipSync(idxBytes(0x08, [4], [1, 2])), 'truncated'],
  ];
  for (const [what, bytes, mention] of malformed) {
    it(`${what}: ERR_BLASNET_DATA naming the file and the fault`, () => {
      const p = file(`bad-${what.replace(/\W+/g, '-')}.idx`, bytes());
      throwsCode(() => readIdx(p), 'ERR_BLASNET_DATA', undefined, p);
      throwsCode(() => readIdx(p), 'ERR_BLASNET_DATA', undefined, mention);
    });
  }

  it('argument errors', () => {
    throwsCode(() => readIdx(42 as unknown as string), 'ERR_BLASNET_ARG_TYPE');
    throwsCode(() => parseIdx([0, 0, 8, 0] as unknown as Uint8Array), 'ERR_BLASNET_ARG_TYPE');
    throwsCode(() => encodeIdx(Uint8Array.from([1, 2, 3]), [2, 2]), 'ERR_BLASNET_SHAPE');
    throwsCode(() => encodeIdx([1, 2] as unknown as Uint8Array), 'ERR_BLASNET_ARG_TYPE');
    throwsCode(() => encodeIdx(Uint16Array.from([1]) as unknown as Uint8Array), 'ERR_BLASNET_ARG_TYPE');
    throwsCode(() => writeIdx(path.join(tmp, 'no-such-dir', 'x.idx'), Uint8Array.of(1)), 'ERR_BLASNET_IO');
  });
});

describe('data: MNIST-like loaders (synthetic)', () => {
  /** A set of n images of h x w in dir, pixels (i * 7 + j) mod 256, labels i mod 10. */
  function writeSet(dir: string, prefix: string, n: number, h: number, w: number, gzip: boolean): void {
    fs.mkdirSync(dir, { recursive: true });
    const px = Uint8Array.from({ length: n * h * w }, (_, k) => (k * 7) % 256);
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    const ext = gzip ? '.gz' : '';
    writeIdx(path.join(dir, `${prefix}-images-idx3-ubyte${ext}`), px, [n, h, w], { gzip });
    writeIdx(path.join(dir, `${prefix}-labels-idx1-ubyte${ext}`), labels, [n], { gzip });
  }

  for (const gzip of [false, true]) {
    it(`reads train and test (${gzip ? 'gzip' : 'plain'}), normalised and raw`, () => {
      const dir = path.join(tmp, `mnist-${gzip}`);
      writeSet(dir, 'train', 13, 2, 3, gzip);
      writeSet(dir, 't10k', 4, 2, 3, gzip);
      const train = loadMnistLike(dir, { split: 'train' });
      assert.equal(train.x.rows, 13);
      assert.equal(train.x.cols, 6);
      assert.deepEqual(train.imageShape, [2, 3]);
      const ext = gzip ? '.gz' : '';
      assert.deepEqual(train.files, { images: path.join(dir, `train-images-idx3-ubyte${ext}`), labels: path.join(dir, `train-labels-idx1-ubyte${ext}`) });
      assert.equal(train.classes, 10);
      assert.ok(train.labels instanceof Int32Array);
      assert.deepEqual(Array.from(train.labels), Array.from({ length: 13 }, (_, i) => i % 10));
      for (let k = 0; k < 13 * 6; k++) assert.equal(train.x.data[k], Math.fround(((k * 7) % 256) / 255));
      const raw = loadMnistLike(dir, { split: 'test', normalize: false });
      assert.equal(raw.x.rows, 4);
      for (let k = 0; k < 4 * 6; k++) assert.equal(raw.x.data[k], (k * 7) % 256);
      assert.equal(loadMnistLike(dir).x.rows, 13, "split defaults to 'train'");
    });
  }

  it('malformed sets: ERR_BLASNET_DATA; missing files: ERR_BLASNET_IO', () => {
    const dir = path.join(tmp, 'mnist-bad');
    fs.mkdirSync(dir, { recursive: true });
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_IO', undefined, 'train-images-idx3-ubyte');
    const images = path.join(dir, 'train-images-idx3-ubyte');
    const labels = path.join(dir, 'train-labels-idx1-ubyte');
    writeIdx(images, new Uint8Array(3 * 4), [3, 2, 2]);
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_IO', undefined, 'train-labels-idx1-ubyte');
    writeIdx(labels, Uint8Array.from([1, 2]), [2]);
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_DATA', undefined, '2 labels for the 3 images');
    writeIdx(labels, Uint8Array.from([1, 10, 2]), [3]);
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_DATA', undefined, 'label 10 at row 2 is outside 0..9');
    writeIdx(labels, Int32Array.from([1, 2, 3]), [3]);
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_DATA', undefined, 'expected uint8 labels');
    writeIdx(labels, Uint8Array.from([1, 2, 3]), [3]);
    writeIdx(images, new Int8Array(12), [3, 2, 2]);
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_DATA', undefined, 'expected uint8 images');
    writeIdx(images, new Uint8Array(12), [3, 4]);
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_DATA', undefined, images);
    fs.writeFileSync(images, Buffer.from([0, 0, 8]));
    throwsCode(() => loadMnistLike(dir), 'ERR_BLASNET_DATA', undefined, 'truncated');
  });

  it('argument errors', () => {
    throwsCode(() => loadMnistLike(''), 'ERR_BLASNET_ARG_TYPE');
    throwsCode(() => loadMnistLike(tmp, { split: 'val' as 'train' }), 'ERR_BLASNET_ARG_RANGE', undefined, 'options.split');
    throwsCode(() => loadMnistLike(tmp, { normalize: 1 as unknown as boolean }), 'ERR_BLASNET_ARG_TYPE', undefined, 'options.normalize');
    throwsCode(() => loadFashionMnist({ dir: path.join(tmp, 'nothing-here') }), 'ERR_BLASNET_IO');
  });
});

const haveFashion = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
  .every((f) => fs.existsSync(path.join(FASHION_MNIST_DIR, f)) || fs.existsSync(path.join(FASHION_MNIST_DIR, `${f}.gz`)));

(haveFashion ? describe : describe.skip)('data: Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  it('train: 60000 x 784 in [0, 1], 6000 of each class', () => {
    const train = loadFashionMnist({ split: 'train' });
    assert.equal(train.x.rows, 60000);
    assert.equal(train.x.cols, 784);
    assert.deepEqual(train.imageShape, [28, 28]);
    assert.equal(train.classes, 10);
    assert.deepEqual(train.classNames, FASHION_MNIST_CLASSES);
    assert.equal(train.classNames[0], 'T-shirt/top');
    assert.equal(train.classNames[9], 'Ankle boot');
    checkSet(train.x, train.labels, 6000);
  });

  it('test: 10000 x 784 in [0, 1], 1000 of each class', () => {
    const test = loadFashionMnist({ split: 'test' });
    assert.equal(test.x.rows, 10000);
    assert.equal(test.x.cols, 784);
    checkSet(test.x, test.labels, 1000);
  });

  it('PCA on 784 dimensions: fit on train, apply to test', () => {
    const train = loadFashionMnist({ split: 'train' });
    const test = loadFashionMnist({ split: 'test' });
    // The covariance is O(n d^2) on the backend's gemm: the whole set natively, a part in JavaScript.
    const b = defaultBackend();
    const rows = b.name === 'native' ? 60000 : 5000;
    const x = new Matrix(train.x.data.subarray(0, rows * 784), rows, 784);
    const pca = new PCA({ components: 50 }).fit(x);
    const r = pca.explainedVarianceRatio as Float64Array;
    // The well-known figures for Fashion-MNIST: the first two axes carry about 29% and 18%.
    assert.ok(Math.abs(r[0] - 0.29) < 0.015 && Math.abs(r[1] - 0.177) < 0.015, `ratios ${r[0]}, ${r[1]}`);
    assert.ok(r.reduce((a, b) => a + b, 0) < 1);
    for (let j = 1; j < 50; j++) assert.ok(r[j] <= r[j - 1]);
    const z = pca.transform(test.x);
    assert.equal(z.rows, 10000);
    assert.equal(z.cols, 50);
    assert.ok(z.data.every(Number.isFinite));
  });

  function checkSet(x: Matrix, labels: Int32Array, perClass: number): void {
    assert.equal(labels.length, x.rows);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < labels.length; i++) {
      assert.ok(labels[i] >= 0 && labels[i] <= 9);
      counts[labels[i]]++;
    }
    assert.deepEqual(counts, new Array(10).fill(perClass));
    let lo = Infinity, hi = -Infinity;
    const data = x.data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    assert.equal(lo, 0);
    assert.equal(hi, 1);
  }
});

describe('data: CSV', () => {
  const text = 'sepal,petal,width,species\n5.1,1.4,0.2,setosa\n7.0,4.7,1.4,versicolor\n6.3,6.0,2.5,virginica\n4.9,1.5,0.1,setosa\n';

  it('header, every column, no label', () => {
    const r = readCsv('a,b\n1,2\n3,-4.5e1\n');
    assert.deepEqual(r.columns, ['a', 'b']);
    assert.deepEqual(r.x.toArray(), [[1, 2], [3, -45]]);
    assert.equal(r.labels, undefined);
    assert.equal(r.classNames, undefined);
    assert.equal(r.skipped, 0);
  });

  it('label column with class names (sorted), the rest as features', () => {
    const r = readCsv(text, { label: 'species' });
    assert.deepEqual(r.columns, ['sepal', 'petal', 'width']);
    assert.equal(r.labelColumn, 'species');
    assert.equal(r.x.rows, 4);
    assert.deepEqual(r.x.row(1), [7, 4.7, 1.4].map(Math.fround));
    assert.ok(r.labels instanceof Int32Array);
    assert.deepEqual(r.classNames, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(Array.from(r.labels), [0, 1, 2, 0]);
  });

  it('feature selection by name and index, in the order given; label by index', () => {
    const r = readCsv(text, { columns: ['width', 0], label: 3 });
    assert.deepEqual(r.columns, ['width', 'sepal']);
    assert.deepEqual(r.x.row(2), [2.5, 6.3].map(Math.fround));
    assert.deepEqual(Array.from(r.labels as Int32Array), [0, 1, 2, 0]);
  });

  it('a labelMap fixes the class numbers and names', () => {
    const r = readCsv(text, { label: 'species', labelMap: { virginica: 0, versicolor: 1, setosa: 2 } });
    assert.deepEqual(Array.from(r.labels as Int32Array), [2, 1, 0, 2]);
    assert.deepEqual(r.classNames, ['virginica', 'versicolor', 'setosa']);
    throwsCode(() => readCsv(text, { label: 'species', labelMap: { setosa: 0, versicolor: 1 } }), 'ERR_BLASNET_LABEL', RangeError, '"virginica" at data row 3 (line 4)');
  });

  it('numeric labels: targets by default, classes on request', () => {
    const csv = 'x,y\n1,0.5\n2,-1.5\n3,2\n';
    const t = readCsv(csv, { label: 'y' });
    assert.ok(t.labels instanceof Float32Array);
    assert.deepEqual(Array.from(t.labels), [0.5, -1.5, 2]);
    assert.equal(t.classNames, undefined);
    const c = readCsv('x,y\n1,2\n2,0\n3,2\n', { label: 'y', classes: true });
    assert.ok(c.labels instanceof Int32Array);
    assert.deepEqual(Array.from(c.labels), [2, 0, 2]);
    assert.deepEqual(c.classNames, ['0', '1', '2']);
    const auto = readCsv(csv, { label: 'y', labelMap: 'auto' });
    assert.ok(auto.labels instanceof Int32Array);
    assert.deepEqual(auto.classNames, ['-1.5', '0.5', '2']);
    assert.deepEqual(Array.from(auto.labels), [1, 0, 2]);
    throwsCode(() => readCsv(text, { label: 'species', classes: false }), 'ERR_BLASNET_DATA', undefined, '"setosa" at data row 1 (line 2)');
    // Label values too large to index classes by are numbered in numeric order instead.
    const big = readCsv('x,id\n1,5000000\n2,10\n3,5000000\n4,10.0\n', { label: 'id', classes: true });
    assert.deepEqual(big.classNames, ['10', '5000000']);
    assert.deepEqual(Array.from(big.labels as Int32Array), [1, 0, 1, 0]);
  });

  it('class labels are told apart by their exact decimal value, not by the double they round to', () => {
    // Integers past 2^53 that round to one double stay two classes, named by every digit.
    const ids = readCsv('a,y\n1,9007199254740993\n2,9007199254740992\n3,9007199254740993\n', { label: 'y', classes: true });
    assert.deepEqual(ids.classNames, ['9007199254740992', '9007199254740993']);
    assert.deepEqual(Array.from(ids.labels as Int32Array), [1, 0, 1]);
    // A label past the double range is its own class, named as written, not "Infinity".
    const huge = readCsv('a,y\n1,1e400\n2,1\n3,2e400\n4,-1e400\n', { label: 'y', classes: true });
    assert.deepEqual(huge.classNames, ['-1e400', '1', '1e400', '2e400']);
    assert.deepEqual(Array.from(huge.labels as Int32Array), [2, 1, 3, 0]);
    // Decimals that round to one double are two classes; spellings of one value are one class.
    const close = readCsv('a,y\n1,0.1\n2,0.10000000000000001\n3,1e-1\n4,0.100\n5,-0\n6,0.0\n', { label: 'y', classes: true });
    assert.deepEqual(close.classNames, ['0', '0.1', '0.10000000000000001']);
    assert.deepEqual(Array.from(close.labels as Int32Array), [1, 2, 1, 1, 0, 0]);
    // A label just off an integer is not that integer's class.
    const near = readCsv('a,y\n1,1\n2,1.0000000000000001\n3,2\n', { label: 'y', classes: true });
    assert.deepEqual(near.classNames, ['1', '1.0000000000000001', '2']);
    assert.deepEqual(Array.from(near.labels as Int32Array), [0, 1, 2]);
    // Integers in range keep their value as the class, in any spelling.
    const small = readCsv('a,y\n1,+2\n2,007\n3,1e1\n4,0.0\n', { label: 'y', classes: true });
    assert.deepEqual(Array.from(small.labels as Int32Array), [2, 7, 10, 0]);
    assert.equal(small.classNames?.length, 11);
  });

  it('no header, delimiter, quotes, CRLF, BOM, blank lines and spaces', () => {
    const r = readCsv('\ufeff 1 ;"2"; a\r\n\r\n3;4;"b;c"\r\n', { header: false, delimiter: ';', label: 2 });
    assert.deepEqual(r.columns, ['0', '1']);
    assert.equal(r.labelColumn, '2');
    assert.deepEqual(r.x.toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(r.classNames, ['a', 'b;c']);
    const q = readCsv('"a, b",c\n"1",2\n');
    assert.deepEqual(q.columns, ['a, b', 'c']);
  });

  it('reads files and bytes; a missing file is ERR_BLASNET_IO', () => {
    const p = file('iris.csv', Buffer.from(text));
    const r = readCsv(p, { label: 'species' });
    assert.equal(r.x.rows, 4);
    assert.deepEqual(readCsv(Buffer.from(text), { label: 'species' }).x.toArray(), r.x.toArray());
    const missing = path.join(tmp, 'missing.csv');
    throwsCode(() => readCsv(missing), 'ERR_BLASNET_IO', undefined, missing);
  });

  it('bytes that are not UTF-8 (a Latin-1 file) are ERR_BLASNET_DATA naming the line, not merged into U+FFFD', () => {
    // Latin-1 "Müller" and "Möller": read as UTF-8, both would be "M\ufffdller", one class.
    const latin1 = Buffer.from('name,x\nM\xfcller,1\nSmith,2\nM\xf6ller,3\n', 'latin1');
    const p = file('latin1.csv', latin1);
    for (const read of [() => readCsv(p, { label: 'name' }), () => readTable(p), () => readTable(latin1)]) {
      throwsCode(read, 'ERR_BLASNET_DATA', undefined, 'line 2 is not UTF-8 text');
    }
    // UTF-8 in every length, and UTF-16 with its byte-order mark, read as before.
    const good = readTable(Buffer.from('a,b\n\u00fc,\u20ac\n\u{1f600},\u00e9\n'));
    assert.deepEqual(good.rows, [['\u00fc', '\u20ac'], ['\u{1f600}', '\u00e9']]);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\n\u00fc,1\n', 'utf16le')]);
    assert.deepEqual(readTable(utf16).rows, [['\u00fc', '1']]);
    // Big-endian too, with its mark; a file that is not UTF-16 past its mark is refused.
    const be = Buffer.from(utf16).swap16();
    assert.deepEqual([be[0], be[1]], [0xfe, 0xff]);
    assert.deepEqual(readTable(be).columns, ['a', 'b']);
    assert.deepEqual(readTable(be).rows, [['\u00fc', '1']]);
    throwsCode(() => readTable(Buffer.from([0xfe, 0xff, 0x00, 0x61, 0xd8, 0x00, 0x00, 0x0a])), 'ERR_BLASNET_DATA', undefined, 'not UTF-16 text throughout');
    // Overlong forms, surrogates, code points past U+10FFFF and a sequence cut by the end are not UTF-8.
    for (const bad of [[0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      throwsCode(() => readTable(Buffer.concat([Buffer.from('a\n1\n'), Buffer.from(bad), Buffer.from('\n')])), 'ERR_BLASNET_DATA', undefined, 'line 3 is not UTF-8');
    }
  });

  it('reads any line ending on any line, as Python\'s csv does: a CRLF header over LF rows, a CR line, a CRLF inside quotes kept', () => {
    const t = readTable('a,b,y\r\n1,2,x\n3,"4\r\n5",z\r5,6,x\n');
    assert.deepEqual(t.columns, ['a', 'b', 'y']);
    assert.deepEqual(t.rows, [['1', '2', 'x'], ['3', '4\r\n5', 'z'], ['5', '6', 'x']]);
  });

  it('header only: zero rows', () => {
    const r = readCsv('a,b,c\n', { label: 'c' });
    assert.equal(r.x.rows, 0);
    assert.equal(r.x.cols, 2);
    assert.equal((r.labels as Float32Array).length, 0);
  });

  it('missing cells: ERR_BLASNET_DATA, or skipRow', () => {
    const csv = 'a,b,y\n1,2,p\n,3,q\n4,NaN,p\n5,6,\n7,8,q\n9,NA,p\n';
    throwsCode(() => readCsv(csv, { label: 'y' }), 'ERR_BLASNET_DATA', undefined, 'data row 2 (line 3), column "a"');
    throwsCode(() => readCsv(csv, { label: 'y', missing: 'error' }), 'ERR_BLASNET_DATA', undefined, 'missing value');
    throwsCode(() => readCsv('a\nnan\n'), 'ERR_BLASNET_DATA', undefined, 'missing value "nan"');
    const r = readCsv(csv, { label: 'y', missing: 'skipRow' });
    assert.equal(r.skipped, 4);
    assert.deepEqual(r.x.toArray(), [[1, 2], [7, 8]]);
    assert.deepEqual(Array.from(r.labels as Int32Array), [0, 1]);
    // Missing cells in columns that are not used do not matter.
    const s = readCsv(csv, { columns: ['a'], missing: 'skipRow' });
    assert.equal(s.skipped, 1);
    assert.equal(s.x.rows, 5);
  });

  it('malformed cells and rows name the line and column', () => {
    throwsCode(() => readCsv('a,b\n1,2\n3,x4\n'), 'ERR_BLASNET_DATA', undefined, '"x4" at data row 2 (line 3), column "b" is not a number');
    throwsCode(() => readCsv('a,b\n1,2\n3,4,5\n'), 'ERR_BLASNET_DATA', undefined, 'data row 2 (line 3) has 3 fields but the header has 2');
    throwsCode(() => readCsv('a,b\n1\n'), 'ERR_BLASNET_DATA', undefined, 'data row 1 (line 2) has 1 fields');
    throwsCode(() => readCsv('1,2\n3\n', { header: false }), 'ERR_BLASNET_DATA', undefined, 'the first row has 2');
    throwsCode(() => readCsv('a\n1,5\n'), 'ERR_BLASNET_DATA', undefined, 'line 2');
    throwsCode(() => readCsv('a\nInfinity\n'), 'ERR_BLASNET_DATA', undefined, 'not a number');
    throwsCode(() => readCsv('a\n1e39\n'), 'ERR_BLASNET_DATA', undefined, 'does not fit a float32');
    throwsCode(() => readCsv('a\n0x10\n'), 'ERR_BLASNET_DATA', undefined, 'not a number');
    throwsCode(() => readCsv('a,b\n1,"2\n'), 'ERR_BLASNET_DATA', undefined, 'Quote Not Closed');
    throwsCode(() => readCsv('\n\n'), 'ERR_BLASNET_DATA', undefined, 'no header');
    throwsCode(() => readCsv(Buffer.alloc(0), { header: false }), 'ERR_BLASNET_DATA', undefined, 'no rows');
    const p = file('bad.csv', Buffer.from('a,b\n1,2\n3,?\n'));
    throwsCode(() => readCsv(p), 'ERR_BLASNET_DATA', undefined, p);
  });

  it('columns the file lacks', () => {
    throwsCode(() => readCsv(text, { columns: ['sepal', 'height'] }), 'ERR_BLASNET_DATA', undefined, 'column "height" does not exist');
    throwsCode(() => readCsv(text, { columns: [7] }), 'ERR_BLASNET_DATA', undefined, 'column 7 does not exist: the file has 4 columns');
    // A line of more fields than a table can be read with is refused before csv-parse gathers
    // them into one array (past V8's limit for one, a fatal error no handler catches).
    throwsCode(() => readCsv(`a,b\n1,2\n${'1,'.repeat(2 ** 24)}1\n`), 'ERR_BLASNET_DATA', undefined, 'line 3 holds more than 16777216 fields');
    // A wide file's message names the first columns and counts the rest (not a megabyte of names).
    const wide = `${Array.from({ length: 1000 }, (_, i) => `c${i}`).join(',')}\n${new Array(1000).fill(1).join(',')}\n`;
    for (const f of [() => readCsv(wide, { label: 'nope' }), () => TabularPreprocessor.fit(readTable(wide), { label: 'nope' })]) {
      assert.throws(f, (e: Error & { code?: string }) => e.code === 'ERR_BLASNET_DATA' && e.message.endsWith('"c18", "c19" and 980 more') && e.message.length < 400);
    }
    throwsCode(() => readCsv(text, { label: 'kind' }), 'ERR_BLASNET_DATA', undefined, 'label column "kind"');
    throwsCode(() => readCsv('a,a,b\n1,2,3\n', { columns: ['a'] }), 'ERR_BLASNET_DATA', undefined, 'ambiguous');
    assert.deepEqual(readCsv('a,a,b\n1,2,3\n', { columns: [1, 'b'] }).x.toArray(), [[2, 3]]);
  });

  it('argument errors', () => {
    throwsCode(() => readCsv(text, { label: 'species', columns: ['sepal', 'species'] }), 'ERR_BLASNET_ARG_RANGE', undefined, 'label column');
    throwsCode(() => readCsv(text, { missing: 'drop' as 'error' }), 'ERR_BLASNET_ARG_RANGE', undefined, 'options.missing');
    throwsCode(() => readCsv(text, { header: 'yes' as unknown as boolean }), 'ERR_BLASNET_ARG_TYPE', undefined, 'options.header');
    throwsCode(() => readCsv(text, { columns: 'sepal' as unknown as string[] }), 'ERR_BLASNET_ARG_TYPE', undefined, 'options.columns');
    throwsCode(() => readCsv(text, { label: 'species', labelMap: { setosa: -1 } }), 'ERR_BLASNET_ARG_RANGE', undefined, 'labelMap["setosa"]');
    throwsCode(() => readCsv(text, { label: 'species', labelMap: { setosa: 2 ** 20 } }), 'ERR_BLASNET_ARG_RANGE', undefined, 'labelMap["setosa"]');
    throwsCode(() => readCsv(text, { label: 'species', labelMap: { setosa: 0 }, classes: false }), 'ERR_BLASNET_ARG_RANGE');
    throwsCode(() => readCsv(text, { delimiter: '' }), 'ERR_BLASNET_ARG_TYPE', undefined, 'options.delimiter');
    // A line break or quote as the delimiter reads every line as one column: refused, as the CLI refuses it.
    for (const delimiter of ['\n', '\r', '"', '\r\n', ',\n']) {
      throwsCode(() => readCsv('a,b\n1,2\n', { delimiter }), 'ERR_BLASNET_ARG_RANGE', RangeError,
        `readCsv: Expected a delimiter without a quote or line break for options.delimiter but received ${JSON.stringify(delimiter)}`);
      throwsCode(() => readTable('a,b\n1,2\n', { delimiter }), 'ERR_BLASNET_ARG_RANGE', RangeError,
        `readTable: Expected a delimiter without a quote or line break for options.delimiter but received ${JSON.stringify(delimiter)}`);
    }
    assert.deepEqual(readCsv('a\tb\n1\t2\n', { delimiter: '\t' }).x.toArray(), [[1, 2]]);
    throwsCode(() => readCsv(5 as unknown as string), 'ERR_BLASNET_ARG_TYPE');
  });
});

/** Float64 column means and population standard deviations of a matrix. */
function columnStats(m: Matrix, ddof = 0): { mean: number[]; std: number[] } {
  const mean = new Array(m.cols).fill(0), std = new Array(m.cols).fill(0);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) mean[j] += m.get(i, j) / m.rows;
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) std[j] += (m.get(i, j) - mean[j]) ** 2;
  return { mean, std: std.map((s) => Math.sqrt(s / (m.rows - ddof))) };
}

function randomMatrix(rows: number, cols: number, seed: number, scale = 1, shift = 0): Matrix {
  const r = new Rng(seed);
  return new Matrix(Float32Array.from({ length: rows * cols }, (_, k) => shift + (k % cols) + scale * (k % cols + 1) * r.normal()), rows, cols);
}

function sameMatrix(a: Matrix, b: Matrix): void {
  assert.equal(a.rows, b.rows);
  assert.equal(a.cols, b.cols);
  assert.deepEqual(a.data.subarray(0, a.rows * a.cols), b.data.subarray(0, b.rows * b.cols));
}

describe('data: Matrix.from', () => {
  it('copies rows of numbers, and names a bad row or value by its index in the rows given', () => {
    const m = Matrix.from([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual([m.rows, m.cols, Array.from(m.data)], [2, 3, [1, 2, 3, 4, 5, 6]]);
    throwsCode(() => Matrix.from([[1, 2], [3]]), 'ERR_BLASNET_SHAPE', RangeError, 'Matrix.from: rows[1] has 1 values but rows[0] has 2');
    throwsCode(() => Matrix.from([[1, 2], 5 as never]), 'ERR_BLASNET_ARG_TYPE', TypeError, 'for rows[1] but received');
    throwsCode(() => Matrix.from([[1, 2], [3, '4' as never]]), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Expected a number at rows[1][1]');
  });
});

describe('data: oneHot', () => {
  it('encodes labels, into out when given', () => {
    assert.deepEqual(oneHot(Int32Array.from([2, 0, 1]), 3).toArray(), [[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
    const out = new Matrix(new Float32Array(6).fill(9), 2, 3);
    assert.equal(oneHot([1, 1], 3, out), out);
    assert.deepEqual(out.toArray(), [[0, 1, 0], [0, 1, 0]]);
    assert.equal(oneHot(new Int32Array(0), 4).rows, 0);
  });

  it('errors', () => {
    throwsCode(() => oneHot(Int32Array.from([0, 3]), 3), 'ERR_BLASNET_LABEL', RangeError, 'labels[1] = 3');
    throwsCode(() => oneHot(Int32Array.from([-1]), 3), 'ERR_BLASNET_LABEL', RangeError, 'labels[0] = -1');
    throwsCode(() => oneHot([0.5], 3), 'ERR_BLASNET_LABEL');
    throwsCode(() => oneHot([0], 0), 'ERR_BLASNET_ARG_RANGE', undefined, 'classes');
    throwsCode(() => oneHot('01' as unknown as number[], 2), 'ERR_BLASNET_ARG_TYPE');
    throwsCode(() => oneHot([0], 2, Matrix.zeros(1, 3)), 'ERR_BLASNET_SHAPE', undefined, 'out');
  });
});

describe('data: Standardizer and MinMaxScaler', () => {
  it('standardised columns have mean 0 and (population) std 1', () => {
    const x = randomMatrix(500, 4, 1, 3, 100);
    const s = new Standardizer();
    const z = s.fitTransform(x);
    const { mean, std } = columnStats(z);
    for (let j = 0; j < 4; j++) {
      assert.ok(Math.abs(mean[j]) < 1e-5, `mean ${mean[j]}`);
      assert.ok(Math.abs(std[j] - 1) < 1e-5, `std ${std[j]}`);
    }
    const ref = columnStats(x);
    for (let j = 0; j < 4; j++) {
      assert.ok(Math.abs((s.mean as Float64Array)[j] - ref.mean[j]) < 1e-9 * Math.abs(ref.mean[j]));
      assert.ok(Math.abs((s.std as Float64Array)[j] - ref.std[j]) < 1e-9 * ref.std[j]);
    }
  });

  it('a constant column is centred, not divided by zero', () => {
    const x = Matrix.from([[1, 5], [2, 5], [3, 5]]);
    const z = new Standardizer().fitTransform(x);
    assert.deepEqual(z.toArray().map((r) => r[1]), [0, 0, 0]);
    const t = new Standardizer().fit(x).transform(Matrix.from([[0, 7]]));
    assert.equal(t.get(0, 1), 2);
  });

  it('a column whose std is within the rounding error of its mean is only centred, in fit and from JSON', () => {
    const one = (v: number): Matrix => new Matrix(new Float32Array([v]), 1, 1);
    // 1000 rows of 0.1: the float32 values sum exactly in float64, so the std is 0 and 0.11 -> 0.01.
    const flat = new Standardizer().fit(new Matrix(new Float32Array(1000).fill(0.1), 1000, 1));
    assert.equal((flat.std as Float64Array)[0], 0);
    assert.ok(Math.abs(flat.transform(one(0.11)).data[0] - 0.01) < 1e-7);
    // 2^20 rows of 1 but one a float32 step above: std 2^-33 (1.2e-10) is under the bound
    // n * eps * |mean| = 2^-32 that the float64 mean of 2^20 rows can carry, so the column is
    // constant (as TabularPreprocessor and scikit-learn's StandardScaler decide), and the odd row
    // maps to its distance from the mean, not to 1024.
    const n = 2 ** 20;
    const x = new Matrix(new Float32Array(n).fill(1), n, 1);
    x.data[7] = 1 + 2 ** -23;
    for (const ddof of [0, 1] as const) {
      const s = new Standardizer({ ddof }).fit(x);
      assert.equal((s.std as Float64Array)[0], 0, `ddof ${ddof}`);
      assert.ok(Math.abs(s.transform(one(1 + 2 ** -23)).data[0] - 2 ** -23) < 1e-12);
      assert.equal(s.toJSON().rows, n);
    }
    // A column with a real small spread keeps its std: a float32 step (2^17) around 1.7e12.
    const big = new Matrix(Float32Array.from({ length: 1000 }, (_, i) => 1.7e12 + (i % 2) * 2 ** 17), 1000, 1);
    const spread = new Standardizer().fit(big);
    assert.equal((spread.std as Float64Array)[0], 2 ** 16);
    assert.equal(spread.transform(one(Math.fround(1.7e12) + 2 ** 17)).data[0], 1);
    // A file from before rows was recorded: 1000 rows of 0.1 fitted in float64 (mean
    // 0.09999999999999859, std about 1e-15) is read with the bound of 2^24 rows, so 0.11 is
    // centred to about 0.01 (divided by that std it was about 7e12); the other column keeps its std,
    // and so does a real spread of 4e-8 of the mean.
    const old = { type: 'Standardizer', cols: 3, mean: [0.09999999999999859, 5, 1.7e12], std: [1.4e-15, 2, 65536], ddof: 0 };
    for (const s of [Standardizer.fromJSON(JSON.parse(JSON.stringify(old))), preprocessorFromJSON(old) as Standardizer]) {
      assert.deepEqual(Array.from(s.std as Float64Array), [0, 2, 65536]);
      const z = s.transform(new Matrix(new Float32Array([0.11, 8, Math.fround(1.7e12) + 2 ** 17]), 1, 3)).data;
      assert.ok(Math.abs(z[0] - 0.01) < 1e-7, `0.11 -> ${z[0]}`);
      assert.equal(z[1], 1.5);
      assert.ok(Math.abs(z[2] - (Math.fround(1.7e12) + 2 ** 17 - 1.7e12) / 65536) < 1e-6, `1.7e12 + 2^17 -> ${z[2]}`);
    }
    // With its row count recorded, a file's bound is that of its rows: 1e-15 against 0.1 from
    // 10 rows (bound 2.2e-16) is a real spread.
    const recorded = Standardizer.fromJSON({ ...old, rows: 10 });
    assert.equal((recorded.std as Float64Array)[0], 1.4e-15);
    throwsCode(() => Standardizer.fromJSON({ ...old, rows: 0 }), 'ERR_BLASNET_FORMAT', undefined, 'rows');
    throwsCode(() => Standardizer.fromJSON({ ...old, rows: 2.5 }), 'ERR_BLASNET_FORMAT', undefined, 'rows');
  });

  it('fit on train, apply to test; out and in place', () => {
    const train = Matrix.from([[0, 10], [2, 30]]);
    const s = new Standardizer().fit(train);
    assert.deepEqual(s.transform(Matrix.from([[1, 20], [4, 0]])).toArray(), [[0, 0], [3, -2]]);
    const x = Matrix.from([[4, 0]]);
    assert.equal(s.transform(x, x), x);
    assert.deepEqual(x.toArray(), [[3, -2]]);
    const out = Matrix.zeros(1, 2);
    assert.equal(s.transform(Matrix.from([[2, 30]]), out), out);
    assert.deepEqual(out.toArray(), [[1, 1]]);
  });

  it('min-max to [0, 1] and to a given range; constant columns go to the low end', () => {
    const x = randomMatrix(200, 3, 2, 5, -7);
    const m = new MinMaxScaler().fitTransform(x);
    for (let j = 0; j < 3; j++) {
      const col = Array.from({ length: 200 }, (_, i) => m.get(i, j));
      assert.equal(Math.min(...col), 0);
      assert.ok(Math.abs(Math.max(...col) - 1) < 1e-6);
    }
    const s = new MinMaxScaler({ range: [-1, 3] }).fit(Matrix.from([[0, 4], [10, 4], [5, 4]]));
    assert.deepEqual(s.transform(Matrix.from([[0, 4], [10, 9], [5, 0], [20, 4]])).toArray(), [[-1, -1], [3, -1], [1, -1], [7, -1]]);
  });

  it('toJSON / fromJSON round trips are exact (through JSON text)', () => {
    const x = randomMatrix(50, 5, 3, 0.37, 1e3);
    const t = randomMatrix(20, 5, 4, 0.5, 1e3);
    for (const p of [new Standardizer().fit(x), new MinMaxScaler({ range: [-2, 0.5] }).fit(x)]) {
      const json = JSON.parse(JSON.stringify(p));
      const q = p instanceof Standardizer ? Standardizer.fromJSON(json) : MinMaxScaler.fromJSON(json);
      sameMatrix(q.transform(t), p.transform(t));
      const r = preprocessorFromJSON(json);
      assert.equal(r.constructor, p.constructor);
      sameMatrix(r.transform(t), p.transform(t));
      assert.deepEqual(JSON.parse(JSON.stringify(q)), json);
    }
  });

  it('errors: shapes, non-finite data, state, options, malformed JSON', () => {
    for (const make of [() => new Standardizer(), () => new MinMaxScaler()]) {
      const p = make();
      throwsCode(() => p.transform(Matrix.zeros(1, 2)), 'ERR_BLASNET_STATE');
      throwsCode(() => p.toJSON(), 'ERR_BLASNET_STATE');
      throwsCode(() => p.fit(Matrix.zeros(0, 2)), 'ERR_BLASNET_SHAPE', RangeError);
      throwsCode(() => p.fit(Matrix.zeros(3, 0)), 'ERR_BLASNET_SHAPE', RangeError);
      throwsCode(() => p.fit([[1, 2]] as unknown as Matrix), 'ERR_BLASNET_ARG_TYPE', TypeError, 'x');
      throwsCode(() => p.fit(Matrix.from([[1, 2], [3, NaN]])), 'ERR_BLASNET_DATA', undefined, 'x has NaN at row 2, column 2');
      throwsCode(() => p.fit(Matrix.from([[Infinity, 2]])), 'ERR_BLASNET_DATA', undefined, 'x has Infinity at row 1, column 1');
      p.fit(Matrix.from([[1, 2], [3, 4]]));
      throwsCode(() => p.transform(Matrix.zeros(2, 3)), 'ERR_BLASNET_SHAPE', RangeError, 'Expected x with 2 columns');
      throwsCode(() => p.transform(Matrix.zeros(2, 2), Matrix.zeros(1, 2)), 'ERR_BLASNET_SHAPE', RangeError, 'out');
    }
    throwsCode(() => new MinMaxScaler({ range: [1, 1] }), 'ERR_BLASNET_ARG_RANGE', undefined, 'options.range');
    throwsCode(() => new MinMaxScaler({ range: [0, NaN] }), 'ERR_BLASNET_ARG_RANGE', undefined, 'options.range[1]');
    throwsCode(() => Standardizer.fromJSON({ type: 'MinMaxScaler' }), 'ERR_BLASNET_FORMAT');
    throwsCode(() => Standardizer.fromJSON({ type: 'Standardizer', cols: 2, mean: [0], std: [1, 1] }), 'ERR_BLASNET_FORMAT', undefined, 'mean');
    throwsCode(() => Standardizer.fromJSON({ type: 'Standardizer', cols: 1, mean: [0], std: [-1] }), 'ERR_BLASNET_FORMAT', undefined, 'negative');
    throwsCode(() => MinMaxScaler.fromJSON({ type: 'MinMaxScaler', cols: 1, range: [0, 1], min: [2], max: [1] }), 'ERR_BLASNET_FORMAT');
    throwsCode(() => MinMaxScaler.fromJSON({ type: 'MinMaxScaler', cols: 1, range: [0, 1], min: ['0'], max: [1] }), 'ERR_BLASNET_FORMAT', undefined, 'min[0]');
    throwsCode(() => preprocessorFromJSON({ type: 'Scaler' }), 'ERR_BLASNET_FORMAT', undefined, 'Scaler');
    throwsCode(() => preprocessorFromJSON(null), 'ERR_BLASNET_FORMAT');
  });
});

describe('data: symmetricEigen', () => {
  function check(a: Float64Array, n: number): void {
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 1; i < n; i++) assert.ok(values[i] <= values[i - 1]);
    let scale = 1;
    for (const v of a) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rec = 0, dot = 0;
        for (let m = 0; m < n; m++) {
          rec += vectors[m * n + i] * values[m] * vectors[m * n + j];
          dot += vectors[i * n + m] * vectors[j * n + m];
        }
        assert.ok(Math.abs(rec - a[i * n + j]) < 1e-12 * scale * n, `reconstruction (${i}, ${j})`);
        assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-12 * n, `orthonormality (${i}, ${j})`);
      }
    }
  }
  it('random symmetric matrices: A = V^T diag(values) V with orthonormal V', () => {
    for (const n of [1, 2, 3, 10, 40]) {
      const r = new Rng(n);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = r.normal() * 10;
      check(a, n);
    }
  });
  it('diagonal, repeated and zero eigenvalues; only the lower triangle is read', () => {
    check(Float64Array.from([3, 0, 0, 0, 1, 0, 0, 0, 2]), 3);
    const id = new Float64Array(25);
    for (let i = 0; i < 5; i++) id[i * 6] = 1;
    check(id, 5);
    check(new Float64Array(16), 4);
    const lower = Float64Array.from([2, 99, 1, 2]); // [[2, 1], [1, 2]] with junk above the diagonal
    assert.deepEqual(Array.from(symmetricEigen(lower, 2).values).map((v) => Math.round(v * 1e12) / 1e12), [3, 1]);
    assert.equal(symmetricEigen(new Float64Array(0), 0).values.length, 0);
  });
  it('errors', () => {
    throwsCode(() => symmetricEigen(Float64Array.from([1, NaN, NaN, 1]), 2), 'ERR_BLASNET_DATA');
    throwsCode(() => symmetricEigen(new Float64Array(3), 2), 'ERR_BLASNET_ARG_LENGTH');
    throwsCode(() => symmetricEigen(new Float32Array(4) as unknown as Float64Array, 2), 'ERR_BLASNET_ARG_TYPE');
  });
});

describe('data: PCA', () => {
  it('finds the same axes and ratios at any scale of finite data (1e-25, 1, 1e20: its float32 products neither underflow nor overflow)', () => {
    const rng = new Rng(5);
    const base = Float64Array.from({ length: 200 * 3 }, (_, i) => rng.normal() * [1, 3, 0.5][i % 3] + (i % 3 === 1 ? 0.5 * rng.normal() : 0));
    const fit = (s: number) => new PCA({ components: 2 }).fit(new Matrix(Float32Array.from(base, (v) => v * s), 200, 3));
    const ref = fit(1);
    for (const s of [1e-25, 1e-21, 1e20, 2 ** 40]) {
      const p = fit(s);
      const ratio = p.explainedVarianceRatio as Float64Array, want = ref.explainedVarianceRatio as Float64Array;
      assert.ok(Math.abs(ratio[0] - want[0]) < 1e-5 && Math.abs(ratio[1] - want[1]) < 1e-5, `scale ${s}: ratios ${Array.from(ratio)} against ${Array.from(want)}`);
      const axes = (p.components as Matrix).data, refAxes = (ref.components as Matrix).data;
      for (let i = 0; i < axes.length; i++) assert.ok(Math.abs(axes[i] - refAxes[i]) < 1e-4, `scale ${s}: axis value ${i}: ${axes[i]} against ${refAxes[i]}`);
    }
    // A power of two changes no bit.
    assert.deepEqual(Array.from((fit(2 ** -30).components as Matrix).data), Array.from((ref.components as Matrix).data));
  });

  const d = 6;
  const lambdas = [10, 5, 2, 1, 0.5, 0.1];
  const n = 64;

  /** A random orthogonal d x d matrix (Gram-Schmidt on Gaussian columns); column j is axis j. */
  function orthogonal(seed: number): number[][] {
    const r = new Rng(seed);
    const cols: number[][] = [];
    while (cols.length < d) {
      const v = Array.from({ length: d }, () => r.normal());
      for (const u of cols) {
        const p = u.reduce((s, x, i) => s + x * v[i], 0);
        for (let i = 0; i < d; i++) v[i] -= p * u[i];
      }
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      cols.push(v.map((x) => x / norm));
    }
    return cols;
  }

  /**
   * Data whose sample covariance is exactly Q diag(lambdas) Q^T: scores from columns of a 64 x 64
   * Sylvester-Hadamard matrix (orthogonal, zero-mean +-1 columns), scaled so that their sample
   * variance is lambda_j, rotated by Q and shifted.
   */
  function knownData(axes: number[][]): { x: Matrix; scores: number[][] } {
    let h = [[1]];
    while (h.length < n) h = [...h.map((r) => [...r, ...r]), ...h.map((r) => [...r, ...r.map((v) => -v)])];
    const scores = Array.from({ length: n }, (_, i) => lambdas.map((l, j) => h[i][j + 1] * Math.sqrt((l * (n - 1)) / n)));
    const shift = [3, -2, 100, 0.5, 7, -40];
    const x = Matrix.from(scores.map((s) => shift.map((c, k) => c + axes.reduce((acc, q, j) => acc + q[k] * s[j], 0))));
    return { x, scores };
  }

  for (const b of backends()) {
    it(`recovers known principal axes and eigenvalues [${b.name}]`, () => {
      const axes = orthogonal(7);
      const { x, scores } = knownData(axes);
      const pca = new PCA({ backend: b }).fit(x);
      const total = lambdas.reduce((a, c) => a + c, 0);
      const comps = pca.components as Matrix;
      assert.equal(comps.rows, d);
      for (let j = 0; j < d; j++) {
        const ev = (pca.explainedVariance as Float64Array)[j];
        assert.ok(Math.abs(ev - lambdas[j]) < 2e-4 * lambdas[0], `eigenvalue ${j}: ${ev} vs ${lambdas[j]}`);
        assert.ok(Math.abs((pca.explainedVarianceRatio as Float64Array)[j] - lambdas[j] / total) < 2e-5);
        const dot = comps.row(j).reduce((s, v, k) => s + v * axes[j][k], 0);
        assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-4, `axis ${j}: |cos| = ${Math.abs(dot)}`);
      }
      // Projections are the scores, up to each axis's sign.
      const z = new PCA({ components: 3, backend: b }).fit(x).transform(x);
      assert.equal(z.cols, 3);
      for (let j = 0; j < 3; j++) {
        const sign = Math.sign(z.get(0, j)) * Math.sign(scores[0][j]);
        for (let i = 0; i < n; i++) assert.ok(Math.abs(z.get(i, j) - sign * scores[i][j]) < 2e-3, `score (${i}, ${j})`);
      }
    });

    it(`whitened output has identity covariance [${b.name}]`, () => {
      const { x } = knownData(orthogonal(8));
      for (const [eps, tol] of [[0, 2e-4], [1e-5, 3e-4]]) {
        const z = new PCA({ whiten: true, eps, backend: b }).fitTransform(x);
        const { mean } = columnStats(z);
        for (let p = 0; p < d; p++) {
          assert.ok(Math.abs(mean[p]) < 1e-4);
          for (let q = 0; q < d; q++) {
            let c = 0;
            for (let i = 0; i < n; i++) c += (z.get(i, p) - mean[p]) * (z.get(i, q) - mean[q]);
            c /= n - 1;
            assert.ok(Math.abs(c - (p === q ? 1 : 0)) < tol, `cov(${p}, ${q}) = ${c} with eps ${eps}`);
          }
        }
      }
    });
  }

  it('fit on train, apply to test: (x - mean_train) projected on the train axes', () => {
    const train = randomMatrix(300, 5, 11, 1, 10);
    const test = randomMatrix(40, 5, 12, 2, -3);
    const pca = new PCA({ components: 2 }).fit(train);
    const z = pca.transform(test);
    const mean = pca.mean as Float64Array, axes = pca.components as Matrix;
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 2; j++) {
        let s = 0;
        for (let k = 0; k < 5; k++) s += (test.get(i, k) - mean[k]) * axes.get(j, k);
        assert.ok(Math.abs(z.get(i, j) - s) < 1e-4 * (1 + Math.abs(s)));
      }
    }
    const out = Matrix.zeros(40, 2);
    assert.equal(pca.transform(test, out), out);
    sameMatrix(out, z);
  });

  it('native and js fits agree', function () {
    const bs: Backend[] = backends();
    if (bs.length < 2) this.skip();
    const x = randomMatrix(500, 20, 13, 1, 0);
    const [p, q] = bs.map((b) => new PCA({ components: 5, backend: b }).fit(x));
    for (let j = 0; j < 5; j++) {
      assert.ok(Math.abs((p.explainedVariance as Float64Array)[j] / (q.explainedVariance as Float64Array)[j] - 1) < 1e-4);
    }
    const a = (p.components as Matrix).data, c = (q.components as Matrix).data;
    for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k] - c[k]) < 1e-3);
  });

  it('toJSON / fromJSON round trip is exact, whitened or not', () => {
    const x = randomMatrix(100, 8, 14, 1, 5);
    const t = randomMatrix(30, 8, 15, 1, 5);
    for (const whiten of [false, true]) {
      const p = new PCA({ components: 4, whiten }).fit(x);
      const json = JSON.parse(JSON.stringify(p));
      assert.equal(json.type, 'PCA');
      const q = PCA.fromJSON(json);
      sameMatrix(q.transform(t), p.transform(t));
      assert.deepEqual(Array.from(q.explainedVarianceRatio as Float64Array), Array.from(p.explainedVarianceRatio as Float64Array));
      assert.equal(q.nComponents, 4);
      assert.deepEqual(JSON.parse(JSON.stringify(q)), json);
      sameMatrix((preprocessorFromJSON(json) as PCA).transform(t), p.transform(t));
    }
  });

  it('constant data: zero variance, no NaN', () => {
    const x = new Matrix(new Float32Array(30).fill(2), 10, 3);
    const p = new PCA({ whiten: true }).fit(x);
    assert.deepEqual(Array.from(p.explainedVariance as Float64Array), [0, 0, 0]);
    assert.deepEqual(Array.from(p.explainedVarianceRatio as Float64Array), [0, 0, 0]);
    assert.ok(p.transform(x).data.every((v) => v === 0));
    assert.ok(new PCA({ whiten: true, eps: 0 }).fit(x).transform(x).data.every((v) => v === 0));
  });

  it('errors', () => {
    const x = randomMatrix(10, 4, 16);
    throwsCode(() => new PCA({ components: 5 }).fit(x), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.components');
    throwsCode(() => new PCA({ components: 0 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.components');
    throwsCode(() => new PCA({ eps: -1 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.eps');
    throwsCode(() => new PCA({ whiten: 1 as unknown as boolean }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'options.whiten');
    throwsCode(() => new PCA().fit(Matrix.zeros(1, 4)), 'ERR_BLASNET_SHAPE', RangeError, '2 rows');
    throwsCode(() => new PCA().fit(Matrix.from([[1, 2], [NaN, 1]])), 'ERR_BLASNET_DATA', undefined, 'x has NaN at row 2, column 1');
    throwsCode(() => new PCA().transform(x), 'ERR_BLASNET_STATE');
    const p = new PCA({ components: 2 }).fit(x);
    throwsCode(() => p.transform(Matrix.zeros(3, 5)), 'ERR_BLASNET_SHAPE', RangeError, 'Expected x with 4 columns');
    throwsCode(() => p.transform(x, Matrix.zeros(10, 4)), 'ERR_BLASNET_SHAPE', RangeError, 'out');
    throwsCode(() => p.transform(x, new Matrix(x.data, 10, 2)), 'ERR_BLASNET_ALIAS');
    throwsCode(() => PCA.fromJSON({ ...p.toJSON(), components: 5 }), 'ERR_BLASNET_FORMAT', undefined, 'components');
    throwsCode(() => PCA.fromJSON({ ...p.toJSON(), axes: [1] }), 'ERR_BLASNET_FORMAT', undefined, 'axes');
  });
});

describe('data: splits', () => {
  const n = 103;
  const x = new Matrix(Float32Array.from({ length: n * 3 }, (_, k) => k), n, 3); // row i holds 3i, 3i+1, 3i+2
  const labels = Int32Array.from({ length: n }, (_, i) => (i < 50 ? 0 : i < 80 ? 1 : i < 100 ? 2 : 3));

  function checkPart(part: { x: Matrix; y: Targets | null; index: Int32Array }, width = 1): void {
    assert.equal(part.x.rows, part.index.length);
    part.index.forEach((src, i) => {
      assert.deepEqual(part.x.row(i), [3 * src, 3 * src + 1, 3 * src + 2]);
      if (part.y instanceof Int32Array) assert.equal(part.y[i], labels[src]);
      else if (part.y instanceof Float32Array) for (let w = 0; w < width; w++) assert.equal(part.y[i * width + w], src * 10 + w);
      else if (part.y instanceof Matrix) assert.deepEqual(part.y.row(i), [src, -src]);
    });
  }

  function checkCover(parts: Int32Array[]): void {
    const seen = new Set<number>();
    for (const p of parts) for (const i of p) {
      assert.ok(!seen.has(i), `row ${i} in two parts`);
      seen.add(i);
    }
    assert.equal(seen.size, n);
  }

  it('trainTestSplit: sizes, disjoint, covering, aligned copies', () => {
    const { train, test } = trainTestSplit(x, labels, { testFraction: 0.2, seed: 1 });
    assert.equal(test.index.length, Math.round(0.2 * n));
    assert.equal(train.index.length, n - test.index.length);
    checkCover([train.index, test.index]);
    checkPart(train);
    checkPart(test);
    assert.notEqual(train.x.data.buffer, x.data.buffer);
    assert.equal(trainTestSplit(x, labels, { testSize: 10 }).test.index.length, 10);
    assert.equal(trainTestSplit(x, null).test.index.length, Math.round(0.25 * n), 'default 0.25');
    assert.equal(trainTestSplit(x, null).test.y, null);
  });

  it("the command line's stratified split keeps the rows of one-row classes in training", () => {
    const plain = stratifiedSplitKeepingSingletons(x, labels, { testFraction: 0.2, seed: 1 });
    const same = trainTestSplit(x, labels, { testFraction: 0.2, seed: 1, stratify: true });
    assert.equal(plain.singletons, 0);
    assert.deepEqual([plain.train.index, plain.test.index], [same.train.index, same.test.index], 'no singletons: trainTestSplit exactly');
    // Rows 100, 101 and 102 alone in their classes 3, 4, 5.
    const rare = Int32Array.from(labels, (c, i) => (i < 100 ? c : 3 + i - 100));
    for (const seed of [1, 2, 3]) {
      const { train, test, singletons } = stratifiedSplitKeepingSingletons(x, rare, { testFraction: 0.2, seed });
      assert.equal(singletons, 3);
      assert.equal(test.index.length, Math.round(0.2 * 100));
      checkCover([train.index, test.index]);
      for (const i of [100, 101, 102]) assert.ok(train.index.includes(i), `row ${i} in training (seed ${seed})`);
      checkPart({ ...train, y: null });
      checkPart({ ...test, y: null });
      for (const part of [train, test]) part.index.forEach((src, i) => assert.equal((part.y as Int32Array)[i], rare[src]));
    }
    const alone = stratifiedSplitKeepingSingletons(new Matrix(x.data.subarray(0, 6), 2, 3), Int32Array.from([0, 1]), { testFraction: 0.5, seed: 1 });
    assert.deepEqual([Array.from(alone.train.index), alone.test.index.length, alone.singletons], [[0, 1], 0, 2]);
  });

  it('targets of every kind travel with their rows', () => {
    const flat = Float32Array.from({ length: n * 2 }, (_, k) => Math.floor(k / 2) * 10 + (k % 2));
    const mat = Matrix.from(Array.from({ length: n }, (_, i) => [i, -i]));
    const a = trainTestSplit(x, flat, { seed: 3 });
    checkPart(a.train, 2);
    checkPart(a.test, 2);
    assert.ok(a.test.y instanceof Float32Array);
    const b = split(x, mat, { fractions: [0.5, 0.25, 0.25], seed: 3 });
    for (const p of [b.train, b.val, b.test]) checkPart(p);
    assert.ok(b.val.y instanceof Matrix);
  });

  it('seeded: same seed same split, another seed another', () => {
    const a = trainTestSplit(x, labels, { seed: 5 });
    const b = trainTestSplit(x, labels, { seed: 5 });
    const c = trainTestSplit(x, labels, { seed: 6 });
    assert.deepEqual(a.test.index, b.test.index);
    assert.notDeepEqual(a.test.index, c.test.index);
    const s1 = split(x, labels, { fractions: [0.6, 0.2, 0.2], seed: 9, stratify: true });
    const s2 = split(x, labels, { fractions: [0.6, 0.2, 0.2], seed: 9, stratify: true });
    assert.deepEqual(s1.val.index, s2.val.index);
  });

  it('three-way split: largest-remainder sizes, disjoint, covering', () => {
    const { train, val, test } = split(x, labels, { fractions: [0.7, 0.15, 0.15], seed: 2 });
    const sizes = [train, val, test].map((p) => p.index.length);
    assert.equal(sizes[0] + sizes[1] + sizes[2], n);
    [0.7, 0.15, 0.15].forEach((f, p) => assert.ok(Math.abs(sizes[p] - f * n) < 1, `part ${p}: ${sizes[p]}`));
    checkCover([train.index, val.index, test.index]);
    for (const p of [train, val, test]) checkPart(p);
    const empty = split(x, labels, { fractions: [1, 0, 0] });
    assert.equal(empty.val.index.length, 0);
    assert.equal(empty.val.x.rows, 0);
  });

  /** Every class's count in every part is the floor or ceil of its share; part sizes as unstratified. */
  function checkStratified(y: Int32Array, parts: Int32Array[], sizes: number[]): void {
    const total = y.length;
    const counts = new Map<number, number>();
    for (const l of y) counts.set(l, (counts.get(l) ?? 0) + 1);
    parts.forEach((part, p) => {
      assert.equal(part.length, sizes[p], `size of part ${p}`);
      const inPart = new Map<number, number>();
      for (const i of part) inPart.set(y[i], (inPart.get(y[i]) ?? 0) + 1);
      for (const [c, nc] of counts) {
        const share = (nc * sizes[p]) / total;
        const got = inPart.get(c) ?? 0;
        assert.ok(got === Math.floor(share) || got === Math.ceil(share), `class ${c} part ${p}: ${got} for share ${share}`);
      }
    });
  }

  it('stratified: each class keeps its proportion within one sample, sizes unchanged', () => {
    const tt = trainTestSplit(x, labels, { testFraction: 0.3, seed: 4, stratify: true });
    const plain = trainTestSplit(x, labels, { testFraction: 0.3, seed: 4 });
    checkStratified(labels, [tt.train.index, tt.test.index], [plain.train.index.length, plain.test.index.length]);
    checkCover([tt.train.index, tt.test.index]);
    checkPart(tt.test);
    const s = split(x, labels, { fractions: [0.6, 0.25, 0.15], seed: 4, stratify: true });
    const u = split(x, labels, { fractions: [0.6, 0.25, 0.15], seed: 4 });
    checkStratified(labels, [s.train.index, s.val.index, s.test.index], [u.train.index.length, u.val.index.length, u.test.index.length]);
    checkCover([s.train.index, s.val.index, s.test.index]);
  });

  it('stratified: random class structures and fractions (200 cases)', () => {
    const r = new Rng(77);
    for (let t = 0; t < 200; t++) {
      const m = 1 + r.int(60);
      const classes = 1 + r.int(9);
      const y = Int32Array.from({ length: m }, () => r.int(classes) * 3); // sparse label values
      const xm = Matrix.zeros(m, 1);
      const a = r.uniform(), b = r.uniform() * (1 - a);
      const fractions: [number, number, number] = [a, b, 1 - a - b];
      const s = split(xm, y, { fractions, seed: t, stratify: true });
      const u = split(xm, y, { fractions, seed: t });
      checkStratified(y, [s.train.index, s.val.index, s.test.index], [u.train.index.length, u.val.index.length, u.test.index.length]);
      const size = r.int(m + 1);
      const tt = trainTestSplit(xm, y, { testSize: size, seed: t, stratify: true });
      checkStratified(y, [tt.train.index, tt.test.index], [m - size, size]);
    }
  });

  it('errors', () => {
    throwsCode(() => trainTestSplit(x, labels, { testFraction: 1.5 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.testFraction');
    throwsCode(() => trainTestSplit(x, labels, { testSize: n + 1 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.testSize');
    throwsCode(() => trainTestSplit(x, labels, { testSize: 2, testFraction: 0.5 }), 'ERR_BLASNET_ARG_RANGE');
    throwsCode(() => trainTestSplit(x, labels, { seed: 0.5 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.seed');
    throwsCode(() => trainTestSplit(x, labels.subarray(1)), 'ERR_BLASNET_SHAPE', RangeError, 'y');
    throwsCode(() => trainTestSplit(x, new Float32Array(n), { stratify: true }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'stratify');
    throwsCode(() => trainTestSplit(x, Int32Array.from({ length: n }, (_, i) => i - 1), { stratify: true }), 'ERR_BLASNET_LABEL', RangeError, 'y[0] = -1');
    throwsCode(() => trainTestSplit([[1]] as unknown as Matrix, null), 'ERR_BLASNET_ARG_TYPE', TypeError, 'x');
    throwsCode(() => split(x, labels, { fractions: [0.5, 0.5, 0.5] }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.fractions');
    throwsCode(() => split(x, labels, { fractions: [0.5, 0.5] as unknown as [number, number, number] }), 'ERR_BLASNET_ARG_RANGE');
    throwsCode(() => split(x, labels, { fractions: [1.5, -0.5, 0] }), 'ERR_BLASNET_ARG_RANGE');
    throwsCode(() => split(x, 'y' as unknown as Int32Array, { fractions: [1, 0, 0] }), 'ERR_BLASNET_ARG_TYPE');
  });
});

describe('data: Rng seeds', () => {
  it('seeds that differ only above bit 31 give different streams; those inside 32 bits keep theirs', () => {
    const first = (seed: number) => Array.from({ length: 4 }, ((r) => () => r.uniform())(new Rng(seed)));
    // As they always were: a seed in [-2^31, 2^32) is its low 32 bits.
    assert.deepEqual(first(-1), first(2 ** 32 - 1));
    assert.deepEqual(first(7), first(7));
    for (const [a, b] of [[1, 2 ** 32 + 1], [0, 2 ** 32], [5, 2 ** 40 + 5], [1700000000000, 1700000000000 + 2 ** 32], [1e20, 1e20 + 2 ** 70]]) {
      assert.notDeepEqual(first(a), first(b), `${a} and ${b}`);
    }
    // A model's initial weights and dropout stream follow the same rule.
    const weights = (seed: number) => new Sequential({ inputSize: 3, seed, layers: [dense(4)] }).params.slice();
    assert.notDeepEqual(weights(1), weights(2 ** 32 + 1));
    assert.deepEqual(weights(3), weights(3));
  });
});

describe('data: Rng.shuffle', () => {
  // The reference: Fisher-Yates from the end with one int() draw per swap.
  function reference(a: Int32Array, n: number, rng: Rng): void {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  it('draws what the int() loop draws and leaves the generator where it would', () => {
    for (const seed of [0, 1, 7, 0x7fffffff, -5]) {
      for (const n of [0, 1, 2, 3, 17, 1000, 54000]) {
        const fast = new Rng(seed), slow = new Rng(seed);
        // A cached normal sample must survive the shuffle.
        fast.normal();
        slow.normal();
        const a = Int32Array.from({ length: n + 3 }, (_, i) => i * 3 - 1);
        const b = a.slice();
        fast.shuffle(a, n);
        reference(b, n, slow);
        assert.deepEqual(a, b, `seed ${seed}, n ${n}`);
        assert.deepEqual(fast.getState(), slow.getState(), `seed ${seed}, n ${n}`);
        assert.equal(fast.normal(), slow.normal());
        assert.equal(fast.nextUint32(), slow.nextUint32());
      }
    }
  });

  it('permutes: every entry once, the entries past n untouched', () => {
    const a = Int32Array.from({ length: 500 }, (_, i) => i);
    new Rng(3).shuffle(a, 400);
    assert.deepEqual(Array.from(a.subarray(0, 400)).sort((x, y) => x - y), Array.from({ length: 400 }, (_, i) => i));
    assert.notDeepEqual(Array.from(a.subarray(0, 400)), Array.from({ length: 400 }, (_, i) => i));
    assert.deepEqual(Array.from(a.subarray(400)), Array.from({ length: 100 }, (_, i) => 400 + i));
  });

  it('errors', () => {
    const rng = new Rng(1);
    throwsCode(() => rng.shuffle([1, 2] as unknown as Int32Array), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Int32Array for a');
    throwsCode(() => rng.shuffle(new Int32Array(3), 4), 'ERR_BLASNET_ARG_RANGE', RangeError, 'integer in [0, 3] for n but received 4');
    throwsCode(() => rng.shuffle(new Int32Array(3), 1.5), 'ERR_BLASNET_ARG_RANGE', RangeError, 'received 1.5');
    throwsCode(() => rng.shuffle(new Int32Array(3), Infinity), 'ERR_BLASNET_ARG_RANGE', RangeError, 'received Infinity');
  });
});

describe('data: BatchIterator', () => {
  const n = 103, cols = 4;
  const x = new Matrix(Float32Array.from({ length: n * cols }, (_, k) => k), n, cols);
  const labels = Int32Array.from({ length: n }, (_, i) => i * 2);

  function epochRows(it: BatchIterator<Targets>): number[] {
    const rows: number[] = [];
    for (const b of it.epoch()) rows.push(...b.index);
    return rows;
  }

  for (const b of backends()) {
    it(`covers every row once per epoch, with its targets [${b.name}]`, () => {
      const it = new BatchIterator(x, labels, { batchSize: 10, seed: 1, backend: b });
      assert.equal(it.batchesPerEpoch, 11);
      for (let e = 0; e < 3; e++) {
        const seen: number[] = [];
        let batches = 0;
        for (const batch of it.epoch()) {
          batches++;
          assert.equal(batch.rows, batches < 11 ? 10 : 3);
          assert.equal(batch.x.rows, batch.rows);
          assert.equal(batch.x.data.length, batch.rows * cols);
          assert.equal((batch.y as Int32Array).length, batch.rows);
          for (let r = 0; r < batch.rows; r++) {
            const src = batch.index[r];
            assert.deepEqual(batch.x.row(r), x.row(src));
            assert.equal((batch.y as Int32Array)[r], labels[src]);
            seen.push(src);
          }
        }
        assert.equal(batches, 11);
        assert.deepEqual(seen.sort((p, q) => p - q), Array.from({ length: n }, (_, i) => i));
      }
    });

    it(`epoch({ checkFinite }) reports each batch's first NaN or infinity; other epochs report -1 [${b.name}]`, () => {
      const bad = new Matrix(x.data.slice(), n, cols);
      bad.data[57 * cols + 2] = NaN;
      bad.data[90 * cols] = -Infinity;
      const it = new BatchIterator(bad, labels, { batchSize: 10, seed: 4, backend: b });
      const found = new Map<number, number>();
      for (const batch of it.epoch({ checkFinite: true })) {
        const want = b.firstNonFinite(batch.rows * cols, batch.x.data);
        assert.equal(batch.nonFinite, want);
        if (want >= 0) found.set(batch.index[Math.floor(want / cols)], want % cols);
      }
      assert.deepEqual([...found.entries()].sort((p, q) => p[0] - q[0]), [[57, 2], [90, 0]]);
      for (const batch of it.epoch()) assert.equal(batch.nonFinite, -1);
      throwsCode(() => it.epoch({ checkFinite: 1 as unknown as boolean }).next(), 'ERR_BLASNET_ARG_TYPE', undefined, 'checkFinite');
    });

    it(`float targets and matrices; dropLast; no shuffle [${b.name}]`, () => {
      const flat = Float32Array.from({ length: n * 2 }, (_, k) => k);
      const it = new BatchIterator(x, flat, { batchSize: 8, dropLast: true, backend: b, seed: 3 });
      assert.equal(it.batchesPerEpoch, 12);
      let count = 0;
      const seen = new Set<number>();
      for (const batch of it) {
        assert.equal(batch.rows, 8);
        const y = batch.y as Float32Array;
        assert.equal(y.length, 16);
        for (let r = 0; r < 8; r++) {
          const src = batch.index[r];
          assert.ok(!seen.has(src));
          seen.add(src);
          assert.deepEqual([y[2 * r], y[2 * r + 1]], [2 * src, 2 * src + 1]);
        }
        count++;
      }
      assert.equal(count, 12);
      assert.equal(seen.size, 96);
      const mat = Matrix.from(Array.from({ length: n }, (_, i) => [i, i + 0.5, -i]));
      const ordered = new BatchIterator(x, mat, { batchSize: 50, shuffle: false, backend: b });
      const rows = epochRows(ordered);
      assert.deepEqual(rows, Array.from({ length: n }, (_, i) => i));
      const last = Array.from(ordered.epoch()).pop();
      assert.ok(last && last.y instanceof Matrix && last.y.rows === 3 && last.y.data.length === 9);
      assert.deepEqual(last.y.row(2), [102, 102.5, -102]);
    });
  }

  it('a new order every epoch; the same orders for the same seed', () => {
    const a = new BatchIterator(x, labels, { batchSize: 7, seed: 42 });
    const b = new BatchIterator(x, null, { batchSize: 7, seed: 42 });
    const c = new BatchIterator(x, labels, { batchSize: 7, seed: 43 });
    const a1 = epochRows(a), a2 = epochRows(a);
    assert.notDeepEqual(a1, a2);
    assert.deepEqual(epochRows(b), a1);
    assert.deepEqual(epochRows(b), a2);
    assert.notDeepEqual(epochRows(c), a1);
    a.reset();
    assert.deepEqual(epochRows(a), a1);
    for (const batch of b) assert.equal(batch.y, null);
  });

  it('small and empty sources', () => {
    const small = new BatchIterator(Matrix.from([[1], [2], [3]]), null, { batchSize: 10 });
    const batches = Array.from(small.epoch(), (bt) => bt.rows);
    assert.deepEqual(batches, [3]);
    assert.equal(Array.from(new BatchIterator(Matrix.from([[1], [2], [3]]), null, { batchSize: 10, dropLast: true }).epoch()).length, 0);
    assert.equal(Array.from(new BatchIterator(Matrix.zeros(0, 3), new Int32Array(0), { batchSize: 4 }).epoch()).length, 0);
    const exact = new BatchIterator(Matrix.zeros(8, 2), null, { batchSize: 4 });
    assert.deepEqual(Array.from(exact.epoch(), (bt) => bt.rows), [4, 4]);
  });

  it('allocates no typed arrays per batch after the first epoch', () => {
    const iterators = backends().flatMap((b) => [
      new BatchIterator(x, labels, { batchSize: 16, seed: 5, backend: b }),
      new BatchIterator(x, new Float32Array(n * 3), { batchSize: 16, seed: 5, backend: b }),
      new BatchIterator(x, Matrix.zeros(n, 2), { batchSize: 16, seed: 5, backend: b, dropLast: true }),
      new BatchIterator(x, null, { batchSize: 16, shuffle: false, backend: b }),
    ]);
    const drain = (): number => {
      let s = 0;
      for (const it of iterators) for (const batch of it.epoch()) s += batch.rows + batch.x.data[0];
      return s;
    };
    drain();
    const f32 = globalThis.Float32Array, i32 = globalThis.Int32Array;
    let created = 0;
    class CountingF32 extends f32 {
      constructor(...args: unknown[]) {
        super(...(args as unknown as [number]));
        created++;
      }
    }
    class CountingI32 extends i32 {
      constructor(...args: unknown[]) {
        super(...(args as unknown as [number]));
        created++;
      }
    }
    globalThis.Float32Array = CountingF32 as unknown as typeof Float32Array;
    globalThis.Int32Array = CountingI32 as unknown as typeof Int32Array;
    let s = 0;
    try {
      for (let e = 0; e < 3; e++) s += drain();
    } finally {
      globalThis.Float32Array = f32;
      globalThis.Int32Array = i32;
    }
    assert.ok(s > 0);
    assert.equal(created, 0);
  });

  it('errors', () => {
    throwsCode(() => new BatchIterator(x, labels, { batchSize: 0 }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.batchSize');
    throwsCode(() => new BatchIterator(x, labels, {} as { batchSize: number }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.batchSize');
    throwsCode(() => new BatchIterator(x, labels.subarray(2), { batchSize: 4 }), 'ERR_BLASNET_SHAPE', RangeError, 'y');
    throwsCode(() => new BatchIterator(x, new Float32Array(n + 1), { batchSize: 4 }), 'ERR_BLASNET_SHAPE', RangeError, 'y');
    throwsCode(() => new BatchIterator(x, Matrix.zeros(3, 1), { batchSize: 4 }), 'ERR_BLASNET_SHAPE', RangeError, 'y');
    throwsCode(() => new BatchIterator(x.data as unknown as Matrix, null, { batchSize: 4 }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'x');
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, seed: NaN }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.seed');
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, shuffle: 'yes' as unknown as boolean }), 'ERR_BLASNET_ARG_TYPE');
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, backend: 'gpu' as 'js' }), 'ERR_BLASNET_UNKNOWN_NAME');
    type Shard = { rank: number; size: number };
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, shard: 2 as unknown as Shard }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'options.shard');
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, shard: { rank: 0, size: 0 } }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.shard.size');
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, shard: { rank: 3, size: 3 } }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.shard.rank');
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, shard: { rank: -1, size: 3 } }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.shard.rank');
    throwsCode(() => new BatchIterator(x, null, { batchSize: 4, shard: { rank: 0.5, size: 3 } }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.shard.rank');
  });

  for (const shuffle of [true, false]) {
    it(`shards: rank r of size s visits positions r, r + s, ... of the unsharded order, padded by wrapping (shuffle ${shuffle})`, () => {
      const size = 3, per = Math.ceil(n / size);
      const whole = new BatchIterator(x, labels, { batchSize: n, seed: 7, shuffle });
      const shards = [0, 1, 2].map((rank) => new BatchIterator(x, labels, { batchSize: 5, seed: 7, shuffle, shard: { rank, size } }));
      for (const it of shards) assert.equal(it.batchesPerEpoch, Math.ceil(per / 5));
      for (let e = 0; e < 3; e++) {
        const order = epochRows(whole);
        const seen = new Set<number>();
        shards.forEach((it, rank) => {
          const rows: number[] = [];
          for (const batch of it.epoch()) {
            for (let r = 0; r < batch.rows; r++) {
              assert.deepEqual(batch.x.row(r), x.row(batch.index[r]));
              assert.equal((batch.y as Int32Array)[r], labels[batch.index[r]]);
            }
            rows.push(...batch.index);
          }
          assert.deepEqual(rows, Array.from({ length: per }, (_, i) => order[(i * size + rank) % n]), `epoch ${e} rank ${rank}`);
          rows.forEach((i) => seen.add(i));
        });
        assert.equal(seen.size, n, 'the shards together visit every row');
      }
      const single = new BatchIterator(x, labels, { batchSize: 5, seed: 7, shuffle, shard: { rank: 0, size: 1 } });
      const plain = new BatchIterator(x, labels, { batchSize: 5, seed: 7, shuffle });
      assert.deepEqual(epochRows(single), epochRows(plain));
    });
  }
});
