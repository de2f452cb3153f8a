/**
 * Search over a BullMQ queue on a real Redis (test/redis.ts): `blasnet worker` processes give the
 * same table and model as the local run for the same seed, a worker killed mid-trial loses its job
 * to another, and bad queues are coded errors before any trial.
 */
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import type { ChildProcess } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { logUniform, Matrix, Rng, search, startQueueWorker } from '../lib';
import type { SearchOptions, SearchResult, TrialResult } from '../lib';
import { decodeTrialData, encodeTrialData } from '../lib/search/queue';
import { forEachBackend, normError, rejectsCode } from './helpers';
import { ownRedis, stopTestRedis, testRedis } from './redis';

const CLI = path.resolve(__dirname, '..', 'lib', 'cli.js');

/** A seeded 3-class table: the class is decided by two of four features. */
function table(rows: number, seed = 1): { x: Matrix; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Matrix(new Float32Array(rows * 4).map(() => rng.normal()), rows, 4);
  const y = new Int32Array(rows).map((_, i) => (x.data[i * 4] > 0 ? 1 : 0) + (x.data[i * 4 + 1] > 0.5 ? 1 : 0));
  return { x, y };
}

function rowsOf(r: SearchResult): Omit<TrialResult, 'seconds'>[] {
  return r.trials.map(({ seconds: _s, ...rest }) => rest);
}


/** A `blasnet worker` process on the queue, resolved once it listens; `lines` collects its output. */
interface WorkerProcess { child: ChildProcess; lines: string[]; onLine?: (line: string) => void }
const running: WorkerProcess[] = [];
function startWorker(url: string, name: string, extra: string[] = []): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--queue-name', name, '--threads', '1', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const w: WorkerProcess = { child, lines: [] };
  running.push(w);
  let buffered = '';
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      buffered += b.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() as string;
      for (const line of parts) {
        w.lines.push(line);
        w.onLine?.(line);
        if (line.startsWith('worker: listening')) resolve(w);
      }
    });
    child.once('exit', (code) => reject(new Error(`the worker exited with code ${code}: ${stderr}`)));
  });
}

/** A directory for one test's files, removed after the file's tests. */
const temps: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-queue-'));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

const data = table(150);
// With dropout, so that a retrained model's dropout stream has moved from its seed.
const space = { lr: logUniform(1e-3, 1e-1), hidden: 16, dropout: 0.2 };

describe('search over a BullMQ queue', function () {
  this.timeout(120000);
  let url = '';
  before(async function () {
    url = await testRedis(this);
  });
  after(() => {
    for (const w of running) w.child.kill('SIGKILL');
    stopTestRedis();
  });

  it('a URL naming a database the server does not have is ERR_BLASNET_IO before any trial, not database 0', async () => {
    const u = new URL(url);
    u.pathname = '/999';
    let trials = 0;
    const err = await rejectsCode(() => search({ space, data, trials: 2, queue: { url: u.toString(), connectTimeoutMs: 5000 }, onTrial: () => trials++ }), 'ERR_BLASNET_IO');
    assert.match(err.message, /DB index is out of range/);
    assert.equal(trials, 0);
    const w = await rejectsCode(() => startQueueWorker({ queue: u.toString() }), 'ERR_BLASNET_IO');
    assert.match(w.message, /DB index is out of range/);
  });

  it('with no worker listening, the progress note names the worker command with the flag it takes (--queue-name)', async () => {
    const name = `n-${randomUUID()}`;
    const lines: string[] = [];
    const progress = new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } });
    const ac = new AbortController();
    const running = search({ space, data, trials: 1, queue: { url, name }, progress, signal: ac.signal });
    for (let i = 0; i < 200 && !lines.some((l) => l.includes('no worker listens')); i++) await new Promise((r) => setTimeout(r, 25));
    ac.abort();
    await rejectsCode(() => running, 'ERR_BLASNET_ABORTED');
    const note = lines.find((l) => l.includes('no worker listens')) as string;
    const command = /\(blasnet (worker --queue \S+ --queue-name \S+)\)/.exec(note);
    assert.ok(command, note);
    // The CLI takes those flags: the worker starts listening (and is stopped at once).
    const child = spawn(process.execPath, [CLI, ...command[1].split(' '), '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (b: Buffer) => { out += b.toString(); if (out.includes('worker: listening')) resolve(); });
      child.once('exit', (code) => reject(new Error(`the worker exited with code ${code}`)));
    });
    child.kill('SIGKILL');
  });

  it('a job that is gone from the queue (a Redis restart, a queue emptied) fails its trial instead of being waited for', async () => {
    const name = `g-${randomUUID()}`;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { Queue } = require('bullmq') as typeof import('bullmq');
    const other = new Queue(name, { connection: { url } as never });
    try {
      const started = Date.now();
      const running = search({ space, data, trials: 2, queue: { url, name, checkMs: 100 } });
      // No worker listens: the jobs wait until they are emptied out of the queue.
      while ((await other.getJobCounts('waiting')).waiting < 2) await new Promise((r) => setTimeout(r, 20));
      await other.obliterate({ force: true });
      const result = await running;
      assert.deepEqual(result.trials.map((t) => t.status), ['failed', 'failed']);
      for (const t of result.trials) assert.match(t.error as string, /is gone from queue g-/);
      assert.equal(result.model, null);
      assert.ok(Date.now() - started < 20000);
    } finally {
      await other.close();
    }
  });

  it('an abort while the search connects sends no trial: ERR_BLASNET_ABORTED, and no job is left in the queue', async () => {
    const name = `a-${randomUUID()}`;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { Queue } = require('bullmq') as typeof import('bullmq');
    const ac = new AbortController();
    const running = search({ space, data, trials: 3, budget: { epochs: 1 }, signal: ac.signal, queue: { url, name } });
    ac.abort(new Error('user cancelled'));
    await rejectsCode(() => running, 'ERR_BLASNET_ABORTED');
    const other = new Queue(name, { connection: { url } as never });
    try {
      const counts = await other.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
      assert.deepEqual(Object.values(counts).reduce((a, c) => a + c, 0), 0, JSON.stringify(counts));
    } finally {
      await other.close();
    }
  });

  forEachBackend('coordinator and two worker processes', (b) => {
    it('give the same table and retrained model as the local run for the same seed', async function () {
      const name = `t-${randomUUID()}`;
      await Promise.all([startWorker(url, name), startWorker(url, name)]);
      const options: SearchOptions = { space, data, trials: 5, seed: 7, budget: { epochs: 3 }, backend: b.name as 'js' | 'native', threads: 1 };
      const local = await search(options);
      const seen: number[] = [];
      const remote = await search({ ...options, queue: { url, name }, onTrial: (r) => seen.push(r.index) });
      assert.deepEqual(rowsOf(remote), rowsOf(local));
      assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4]);
      assert.ok(remote.trials.every((r) => r.status === 'ok'));
      assert.deepEqual(remote.bestConfig, local.bestConfig);
      assert.ok(remote.model && local.model);
      // The worker retrains at 1 kernel thread, this process at its own count: equal up to rounding.
      assert.ok(normError(remote.model.predict(data.x).data, local.model.predict(data.x).data) < 1e-5);
      assert.deepEqual(remote.model.maskState(), local.model.maskState());
    });

    it('a best model no file carries whole (a loss of the build\'s own) is retrained by the coordinator', async function () {
      const name = `t-${randomUUID()}`;
      await startWorker(url, name);
      const build = { module: path.join(__dirname, 'fixtures', 'search-build.js'), name: 'withOwnLoss' };
      const options: SearchOptions = { space, data, trials: 2, seed: 7, budget: { epochs: 2 }, backend: b.name as 'js' | 'native', threads: 1, build };
      const remote = await search({ ...options, queue: { url, name } });
      assert.equal(remote.refitError, null);
      assert.ok(remote.model);
      assert.equal(remote.model.lossSpec?.custom?.name, 'halfSq');
      const local = await search(options);
      assert.deepEqual(remote.model.params, local.model?.params);
    });
  });

  it('survives a worker killed mid-trial: another takes its job when the lock expires', async function () {
    const name = `t-${randomUUID()}`;
    const short = ['--lock-ms', '1000', '--stalled-ms', '300'];
    const [a, b] = await Promise.all([startWorker(url, name, short), startWorker(url, name, short)]);
    let killed: number | null = null;
    a.onLine = (line) => {
      const m = /: trial (\d+) started/.exec(line);
      if (m && killed === null) {
        killed = Number(m[1]);
        a.child.kill('SIGKILL');
      }
    };
    const options: SearchOptions = { space, data, trials: 4, seed: 3, budget: { epochs: 4 }, backend: 'js', refit: false };
    const local = await search(options);
    const remote = await search({ ...options, queue: { url, name } });
    assert.notEqual(killed, null, 'the first worker never started a trial');
    assert.equal(a.child.signalCode, 'SIGKILL');
    assert.ok(a.lines.every((l) => !l.includes(`trial ${killed} ok`)), 'the killed worker finished its trial');
    assert.ok(b.lines.some((l) => l.includes(`trial ${killed} started`)), `the other worker never took trial ${killed}:\n${b.lines.join('\n')}`);
    assert.deepEqual(rowsOf(remote), rowsOf(local));
  });

  it('blasnet search --queue runs its trials on blasnet worker processes', async function () {
    const name = `t-${randomUUID()}`;
    const w = await startWorker(url, name);
    const tmp = tempDir();
    const lines = ['a,b,c,d,label'];
    for (let i = 0; i < 90; i++) lines.push(`${[0, 1, 2, 3].map((j) => data.x.data[i * 4 + j]).join(',')},${['no', 'yes', 'maybe'][data.y[i]]}`);
    const csv = path.join(tmp, 'd.csv');
    fs.writeFileSync(csv, `${lines.join('\n')}\n`);
    const out = path.join(tmp, 'best.blasnet');
    // Asynchronous: the worker's output is read on this event loop while the search runs.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'search', '--csv', csv, '--trials', '3', '--epochs', '2', '--backend', 'js', '--queue', url, '--queue-name', name,
        '--out-table', path.join(tmp, 't.csv'), '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      c.once('exit', (status) => resolve({ status, stdout, stderr }));
    });
    assert.equal(r.status, 0, r.stderr);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.equal(last.trials, 3);
    assert.equal(last.failed, 0);
    assert.ok(fs.statSync(out).size > 100);
    assert.equal(w.lines.filter((l) => / trial \d+ ok /.test(l)).length, 3);
    assert.ok(w.lines.some((l) => l.includes('refit done')));
  });

  it('blasnet search --queue cancelled by SIGINT removes its waiting trials and writes nothing', async function () {
    const name = `t-${randomUUID()}`;
    const tmp = tempDir();
    const csv = path.join(tmp, 'd.csv');
    fs.writeFileSync(csv, `a,b,label\n${Array.from({ length: 40 }, (_, i) => `${i},${i % 3},${i % 2 ? 'x' : 'y'}`).join('\n')}\n`);
    const table = path.join(tmp, 't.csv');
    // No worker listens: the trials wait in the queue until SIGINT.
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'search', '--csv', csv, '--label', 'label', '--trials', '2', '--epochs', '1', '--queue', url, '--queue-name', name,
        '--out-table', table], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        if (stdout.includes('no worker listens')) c.kill('SIGINT');
      });
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      c.once('exit', (status) => resolve({ status, stderr }));
    });
    assert.equal(r.status, 130, r.stderr);
    assert.match(r.stderr, /search cancelled by SIGINT; nothing was written/);
    assert.equal(fs.existsSync(table), false);
    // A worker started now finds no trial of the cancelled search.
    const w = await startWorker(url, name);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(!w.lines.some((l) => / trial \d+ started/.test(l)), w.lines.join('\n'));
    w.child.kill('SIGKILL');
  });
});

describe('search queue: Redis gone mid-search', function () {
  this.timeout(60000);
  // Killed (connections refused) or stopped (a hung server: connections that never answer).
  for (const how of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`blasnet search --queue with its Redis ${how === 'SIGKILL' ? 'killed says so in one coded line (not a stack trace a second)' : 'hung'}, and one SIGINT ends it`, async function () {
      const own = await ownRedis();
      if (!own) {
        if (process.env.CI === 'true') throw new Error('redis-server is not installed; the queue tests must run under CI');
        this.skip();
        return;
      }
      const tmp = tempDir();
      const csv = path.join(tmp, 'd.csv');
      fs.writeFileSync(csv, `a,b,label\n${Array.from({ length: 40 }, (_, i) => `${i},${i % 3},${i % 2 ? 'x' : 'y'}`).join('\n')}\n`);
      const c = spawn(process.execPath, [CLI, 'search', '--csv', csv, '--label', 'label', '--trials', '2', '--epochs', '1', '--queue', own.url,
        '--out-table', path.join(tmp, 't.csv')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      c.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((resolve) => c.once('exit', resolve));
      try {
        // No worker listens: the trials wait; then Redis goes away for 4 s.
        while (!out.includes('no worker listens')) await new Promise((r) => setTimeout(r, 20));
        own.child.kill(how);
        await new Promise((r) => setTimeout(r, 4000));
        const signalled = Date.now();
        c.kill('SIGINT');
        const status = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 20000))]);
        assert.equal(status, 130, out);
        assert.ok(Date.now() - signalled < 15000, `${Date.now() - signalled} ms after one SIGINT`);
        assert.doesNotMatch(out, /\n +at /, 'a stack trace');
        const lines = out.split('\n').filter((l) => l.includes('ERR_BLASNET_IO'));
        assert.ok(lines.length <= 4, out);
        if (how === 'SIGKILL') {
          assert.ok(lines.length >= 1, out);
          assert.match(lines[0], /^search: queue blasnet-search at redis:\/\/127\.0\.0\.1:\d+: .*; trials wait until Redis answers again \(ERR_BLASNET_IO\)$/);
        }
      } finally {
        c.kill('SIGKILL');
        own.child.kill('SIGKILL');
      }
    });
  }
});

describe('search queue: bad input', function () {
  this.timeout(30000);
  it('an unreachable Redis is ERR_BLASNET_IO before any trial', async () => {
    let trials = 0;
    const err = await rejectsCode(() => search({ space, data, trials: 2, queue: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 2000 }, onTrial: () => trials++ }), 'ERR_BLASNET_IO');
    assert.match(err.message, /search: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    assert.equal(trials, 0);
    await rejectsCode(() => startQueueWorker({ queue: 'redis://127.0.0.1:1' }), 'ERR_BLASNET_IO');
    const cli = spawnSync(process.execPath, [CLI, 'worker', '--queue', 'redis://127.0.0.1:1'], { encoding: 'utf8', timeout: 20000 });
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /cannot reach Redis .*\(ERR_BLASNET_IO\)/);
  });

  it('a malformed queue, a queue with workers, and a build function are coded errors', async () => {
    await rejectsCode(() => search({ space, data, queue: 'http://127.0.0.1:6379' }), 'ERR_BLASNET_ARG_RANGE');
    await rejectsCode(() => search({ space, data, queue: { url: 'redis://127.0.0.1:6379', name: 'a:b' } }), 'ERR_BLASNET_ARG_RANGE');
    await rejectsCode(() => search({ space, data, queue: 42 as never }), 'ERR_BLASNET_ARG_TYPE');
    await rejectsCode(() => search({ space, data, queue: 'redis://127.0.0.1:6379', workers: 2 }), 'ERR_BLASNET_ARG_RANGE');
    await rejectsCode(() => search({ space, data, queue: 'redis://127.0.0.1:6379', build: (c, ctx) => { throw new Error(`${String(c)}${String(ctx)}`); } }), 'ERR_BLASNET_ARG_TYPE');
    await rejectsCode(() => startQueueWorker({ queue: 'redis://127.0.0.1:6379', concurrency: 0 }), 'ERR_BLASNET_ARG_RANGE');
  });

  it('without bullmq installed a queue is ERR_BLASNET_DEPENDENCY naming the install command', () => {
    // A process in which require('bullmq') fails as it does when optional dependencies were omitted.
    const code = `
      const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'bullmq') throw Object.assign(new Error("Cannot find module 'bullmq'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const { search, logUniform, Matrix } = require(${JSON.stringify(path.resolve(__dirname, '..', 'lib'))});
      const x = new Matrix(new Float32Array(40).map((_, i) => i % 7), 10, 4);
      search({ space: { lr: logUniform(1e-3, 1e-1) }, data: { x, y: new Int32Array(10).map((_, i) => i % 2) }, trials: 1, queue: 'redis://127.0.0.1:1' })
        .then(() => console.log('resolved'), (e) => console.log(e.code, e.message));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 20000 });
    assert.match(r.stdout, /^ERR_BLASNET_DEPENDENCY search: the optional package bullmq is not installed.*npm install bullmq ioredis/);
  });

  it('the data blob round-trips and a damaged one is ERR_BLASNET_FORMAT', () => {
    const d = { x: new Float32Array([1, 2, 3, 4, 5, 6]), rows: 3, cols: 2, y: new Int32Array([0, 1, 0]), yCols: 1, task: 'classification' as const, outputSize: 2, folds: new Int32Array([0, -1, -1]), nFolds: 1 };
    const back = decodeTrialData(encodeTrialData(d), 'blob');
    assert.deepEqual({ ...back, x: [...back.x], y: [...back.y], folds: [...back.folds] }, { ...d, x: [...d.x], y: [...d.y], folds: [...d.folds] });
    assert.ok(back.x.buffer instanceof SharedArrayBuffer);
    const blob = encodeTrialData(d);
    assert.throws(() => decodeTrialData(blob.subarray(0, blob.length - 4), 'blob'), { code: 'ERR_BLASNET_FORMAT' });
    assert.throws(() => decodeTrialData(Buffer.from('nonsense'), 'blob'), { code: 'ERR_BLASNET_FORMAT' });
    // A header of the wrong shape, or naming its arrays by anything but short strings.
    const withHeader = (json: string) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(Buffer.byteLength(json));
      return Buffer.concat([Buffer.from('BNSD1'), length, Buffer.from(json)]);
    };
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    for (const json of ['null', '{"fields": {}, "arrays": 5}', '{"fields": {}, "arrays": [null]}', '{"arrays": []}',
      `{"fields": {}, "arrays": [{"name": ${deep}, "type": "f32", "length": -1}]}`,
      `{"fields": {}, "arrays": [{"name": {"toString": 1}, "type": "f32", "length": -1}]}`]) {
      assert.throws(() => decodeTrialData(withHeader(json), 'blob'), { code: 'ERR_BLASNET_FORMAT', message: /^blob: not search data/ }, json.slice(0, 60));
    }
  });
});
