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
import { readIdx, writeIdx } from '../lib';
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
