/**
 * The data module's files under faults and hostile input: writes that fail part-way, special
 * files (FIFOs, devices, directories) given to every reader and writer, and compressed files that
 * declare little and inflate to much. Anything that could hang or exhaust memory runs in a child
 * process with a timeout.
 */
import { strict as assert } from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { csvLogger, dense, Matrix, readCsv, readIdx, readTable, Sequential, writeIdx } from '../lib';
import { throwsCode } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-data-files-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const lib = path.resolve(__dirname, '..', 'lib');

/** Files in `dir` that look like temporaries of any save. */
function temporaries(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.blasnet-tmp-'));
}

interface ChildResult {
  ok?: boolean;
  code?: string;
  message?: string;
  /** Set when the child was killed by the timeout. */
  hung?: boolean;
  ms?: number;
}

/**
 * Runs `code` in a child node with the library as `b`, after `shellPrefix` (ulimit ...); what it
 * threw (code and message) or { ok: true }, or { hung: true } when it outlived `timeoutMs`.
 */
function inChild(code: string, { shellPrefix = '', timeoutMs = 20000 } = {}): ChildResult {
  const script = `
    const b = require(${JSON.stringify(lib)});
    try { ${code}; console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const quoted = `'${script.replace(/'/g, `'\\''`)}'`;
  const started = Date.now();
  const r = spawnSync('bash', ['-c', `${shellPrefix} exec ${JSON.stringify(process.execPath)} -e ${quoted}`],
    { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  const ms = Date.now() - started;
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { hung: true, ms };
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop() as string) as ChildResult), ms };
}

describe('data files: writes that fail', () => {
  it('writeIdx under a file size limit fails with ERR_BLASNET_IO and leaves the old file byte for byte, no temporary', function () {
    this.timeout(30000);
    const dir = fs.mkdtempSync(path.join(tmp, 'ulimit-'));
    const file = path.join(dir, 'labels.idx');
    writeIdx(file, new Uint8Array(1000).fill(7));
    const before = fs.readFileSync(file);
    // 16 blocks of 512 bytes: 100000 labels cannot fit. Node ignores SIGXFSZ, so the write fails with EFBIG.
    const r = inChild(`b.writeIdx(${JSON.stringify(file)}, new Uint8Array(100000).fill(9))`, { shellPrefix: 'ulimit -f 16;' });
    assert.equal(r.code, 'ERR_BLASNET_IO', JSON.stringify(r));
    assert.ok(r.message?.includes(file), r.message);
    assert.ok(fs.readFileSync(file).equals(before), 'the old file changed');
    assert.deepEqual(temporaries(dir), []);
    assert.deepEqual(Array.from(readIdx(file).data.subarray(0, 3)), [7, 7, 7]);
  });

  it('writeIdx replaces a file atomically and keeps its permission bits', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'replace-'));
    const file = path.join(dir, 'x.idx');
    writeIdx(file, Uint8Array.of(1, 2, 3));
    fs.chmodSync(file, 0o600);
    const inode = fs.statSync(file).ino;
    writeIdx(file, Int16Array.of(-4, 5), [2], { gzip: true });
    const r = readIdx(file);
    assert.equal(r.type, 'int16');
    assert.deepEqual(Array.from(r.data), [-4, 5]);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    // A new file took the name: a reader holding the old one kept reading complete data.
    assert.notEqual(fs.statSync(file).ino, inode);
    assert.deepEqual(temporaries(dir), []);
  });
});

describe('data files: what is not a regular file', () => {
  /** A directory holding a FIFO nobody writes to or reads from, `p`. */
  function fifoDir(): string {
    const dir = fs.mkdtempSync(path.join(tmp, 'fifo-'));
    execFileSync('mkfifo', [path.join(dir, 'p')]);
    return dir;
  }
  const J = JSON.stringify;
  const fitWith = (callback: string) => `const m = new b.Sequential({ inputSize: 2, seed: 1, backend: 'js', layers: [b.dense(1)] });
    m.compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1 } });
    m.fit(new b.Matrix(new Float32Array(8), 4, 2), new Float32Array(4), { epochs: 1, batchSize: 4, callbacks: [${callback}] })`;
  const cases: [string, (dir: string) => string][] = [
    ['readIdx', (d) => `b.readIdx(${J(`${d}/p`)})`],
    ['readCsv', (d) => `b.readCsv(${J(`${d}/p`)})`],
    ['readTable', (d) => `b.readTable(${J(`${d}/p`)})`],
    ['loadMnistLike', (d) => `const fs = require('fs'); fs.renameSync(${J(`${d}/p`)}, ${J(`${d}/train-images-idx3-ubyte`)});
      fs.writeFileSync(${J(`${d}/train-labels-idx1-ubyte`)}, Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 0])); b.loadMnistLike(${J(d)})`],
    ['writeIdx', (d) => `b.writeIdx(${J(`${d}/p`)}, new Uint8Array(4))`],
    ['csvLogger', (d) => `b.csvLogger(${J(`${d}/p`)})`],
    ['csvLogger (append)', (d) => `b.csvLogger(${J(`${d}/p`)}, { append: true })`],
    // A regular file when the logger was made, a FIFO when training starts.
    ['csvLogger at onTrainBegin', (d) => `const fs = require('fs'); fs.writeFileSync(${J(`${d}/q`)}, '');
      const logger = b.csvLogger(${J(`${d}/q`)}); fs.unlinkSync(${J(`${d}/q`)}); fs.renameSync(${J(`${d}/p`)}, ${J(`${d}/q`)});
      ${fitWith('logger')}`],
  ];
  for (const [what, code] of cases) {
    it(`${what} refuses a FIFO at once with ERR_BLASNET_IO naming it`, function () {
      this.timeout(30000);
      const dir = fifoDir();
      const r = inChild(code(dir), { timeoutMs: 10000 });
      assert.ok(!r.hung, `hung (killed after ${r.ms} ms)`);
      assert.equal(r.code, 'ERR_BLASNET_IO', JSON.stringify(r));
      assert.ok(/FIFO/.test(r.message ?? ''), r.message);
      assert.ok((r.ms as number) < 8000);
    });
  }

  it('readIdx, readCsv, readTable and loadMnistLike refuse /dev/zero at once, without reading it', function () {
    this.timeout(60000);
    const dir = fs.mkdtempSync(path.join(tmp, 'zero-'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'train-images-idx3-ubyte'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'train-labels-idx1-ubyte'));
    // Under a 2 GB address-space limit: reading the device until memory runs out would abort instead.
    for (const code of [`b.readIdx('/dev/zero')`, `b.readCsv('/dev/zero')`, `b.readTable('/dev/zero')`, `b.loadMnistLike(${J(dir)})`]) {
      const r = inChild(code, { shellPrefix: 'ulimit -v 4000000;', timeoutMs: 20000 });
      assert.ok(!r.hung, `${code} hung`);
      assert.equal(r.code, 'ERR_BLASNET_IO', `${code}: ${JSON.stringify(r)}`);
      assert.ok(r.message?.includes('character device'), r.message);
    }
  });

  it('a directory is ERR_BLASNET_IO naming it, for readers and writers', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'dir-'));
    throwsCode(() => readIdx(dir), 'ERR_BLASNET_IO', undefined, 'directory');
    throwsCode(() => readCsv(dir), 'ERR_BLASNET_IO', undefined, 'directory');
    throwsCode(() => readTable(dir), 'ERR_BLASNET_IO', undefined, 'directory');
    throwsCode(() => writeIdx(dir, Uint8Array.of(1)), 'ERR_BLASNET_IO', undefined, 'directory');
    throwsCode(() => csvLogger(dir), 'ERR_BLASNET_IO', undefined, 'directory');
    assert.ok(fs.statSync(dir).isDirectory());
  });

  it('csvLogger still writes a regular file, through a symbolic link too', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'logger-'));
    const real = path.join(dir, 'h.csv');
    fs.symlinkSync('h.csv', path.join(dir, 'link.csv'));
    const m = new Sequential({ inputSize: 2, seed: 1, backend: 'js', layers: [dense(1)] });
    m.compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1 } });
    const x = new Matrix(new Float32Array(8), 4, 2);
    m.fit(x, new Float32Array(4), { epochs: 2, batchSize: 4, callbacks: [csvLogger(path.join(dir, 'link.csv'))] });
    assert.deepEqual(fs.readFileSync(real, 'utf8').trim().split('\n').map((l) => l.split(',')[0]), ['epoch', '1', '2']);
    m.fit(x, new Float32Array(4), { epochs: 1, batchSize: 4, callbacks: [csvLogger(real, { append: true })] });
    assert.deepEqual(fs.readFileSync(real, 'utf8').trim().split('\n').map((l) => l.split(',')[0]), ['epoch', '1', '2', '1']);
    assert.ok(fs.lstatSync(path.join(dir, 'link.csv')).isSymbolicLink());
  });
});

describe('data files: gzip that inflates past what it declares', () => {
  /** gzip members, one after another: an IDX header, then `mb` MB of zeros in members of 16 MB (about 16 KB each, compressed). */
  function bomb(header: Buffer, mb: number): Buffer {
    const zeros = zlib.gzipSync(Buffer.alloc(16 << 20), { level: 9 });
    return Buffer.concat([zlib.gzipSync(header), ...Array.from({ length: Math.ceil(mb / 16) }, () => zeros)]);
  }

  it('a header declaring 10 labels before 512 MB of zeros is ERR_BLASNET_DATA naming the file and sizes, without inflating it all', function () {
    this.timeout(60000);
    const file = path.join(tmp, 'bomb-idx1-ubyte.gz');
    fs.writeFileSync(file, bomb(Buffer.from([0, 0, 8, 1, 0, 0, 0, 10]), 512));
    assert.ok(fs.statSync(file).size < 1 << 20);
    const r = inChild(`b.readIdx(${JSON.stringify(file)})`);
    assert.equal(r.code, 'ERR_BLASNET_DATA', JSON.stringify(r));
    assert.ok(r.message?.includes(file), r.message);
    assert.match(r.message ?? '', /more than the 18 bytes/);
  });

  it('the same bound holds for parseIdx and loadMnistLike, and peak memory stays far below the inflated size', function () {
    this.timeout(60000);
    const dir = fs.mkdtempSync(path.join(tmp, 'bomb-set-'));
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), bomb(Buffer.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]), 512));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 3]));
    const script = `const fs = require('fs'); const out = {};
      for (const [k, f] of [['load', () => b.loadMnistLike(${JSON.stringify(dir)})],
        ['parse', () => b.parseIdx(fs.readFileSync(${JSON.stringify(path.join(dir, 'train-images-idx3-ubyte.gz'))}))]]) {
        try { f(); out[k] = 'returned'; } catch (e) { out[k] = e.code + ' ' + e.message; }
      }
      // The peak of this process's own memory map (VmHWM). Not resourceUsage().maxRSS: Linux
      // carries the resident size of the process it was forked from into that (a test runner's
      // few hundred MB), whatever this one used.
      out.maxRssMb = Number(/VmHWM:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      throw Object.assign(new Error(JSON.stringify(out)), { code: 'RESULT' })`;
    const r = inChild(script);
    assert.equal(r.code, 'RESULT', JSON.stringify(r));
    const out = JSON.parse(r.message as string) as { load: string; parse: string; maxRssMb: number };
    assert.match(out.load, /^ERR_BLASNET_DATA .*train-images-idx3-ubyte\.gz.*more than the 20 bytes/);
    assert.match(out.parse, /^ERR_BLASNET_DATA .*more than the 20 bytes/);
    // 512 MB inflated whole, then joined, took over 1 GB.
    assert.ok(out.maxRssMb < 300, `peak RSS ${out.maxRssMb} MB`);
  });

  it('gzip IDX files of every size still decode exactly; a wrong magic is found from the first bytes', () => {
    for (const n of [0, 1, 10, 70000, 300000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 7919) % 251);
      const file = path.join(tmp, `round-${n}.idx.gz`);
      writeIdx(file, data, [n], { gzip: true });
      assert.deepEqual(readIdx(file).data, data);
    }
    const wrong = path.join(tmp, 'wrong-magic.gz');
    fs.writeFileSync(wrong, bomb(Buffer.from([0x50, 0x4b, 3, 4]), 64));
    throwsCode(() => readIdx(wrong), 'ERR_BLASNET_DATA', undefined, 'wrong magic');
  });
});
