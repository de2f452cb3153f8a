/**
 * Backend selection and the js fallback, each in a fresh process so that the environment decides.
 */
import { strict as assert } from 'assert';
import * as os from 'os';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { nativeAvailable } from '../lib';
import { addonPath } from '../lib/backend/native';

const LIB = path.resolve(__dirname, '..', 'lib');

function run(env: Record<string, string>, code: string, flags: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...flags, '-e', `const bn = require(${JSON.stringify(LIB)});\n${code}`], {
    env: { ...process.env, BLASNET_BACKEND: '', BLASNET_ADDON_PATH: '', ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

/**
 * Distinct (package, core) pairs among the CPUs this process may run on, from /proc and sysfs:
 * SMT siblings count once. Without a Cpus_allowed_list, CPUs 0..n-1 with n =
 * os.availableParallelism() are taken; without topology files, every CPU counts.
 */
function physicalCores(): number {
  const allowed = os.availableParallelism();
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? `0-${allowed - 1}`;
  const cpus = list.split(',').flatMap((r) => {
    const [a, b] = r.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
  const cores = new Set<string>();
  for (const cpu of cpus) {
    const dir = `/sys/devices/system/cpu/cpu${cpu}/topology`;
    try {
      cores.add(`${fs.readFileSync(`${dir}/physical_package_id`, 'utf8').trim()}:${fs.readFileSync(`${dir}/core_id`, 'utf8').trim()}`);
    } catch {
      return cpus.length;
    }
  }
  return cores.size;
}

describe('backend selection', () => {
  it('BLASNET_BACKEND=js forces the js backend, silently', () => {
    const r = run({ BLASNET_BACKEND: 'js' }, 'console.log(bn.defaultBackend().name)');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'js');
    assert.ok(!r.stderr.includes('BLASNET_JS_FALLBACK'), r.stderr);
  });

  it('an unknown BLASNET_BACKEND is a coded error', () => {
    const r = run({ BLASNET_BACKEND: 'gpu' }, 'try { bn.defaultBackend() } catch (e) { console.log(e.code) }');
    assert.equal(r.stdout, 'ERR_BLASNET_UNKNOWN_NAME');
  });

  it('falls back to js, and says so once, when the addon cannot be loaded', () => {
    const r = run({ BLASNET_ADDON_PATH: '/nonexistent/blasnet.node' },
      'const a = bn.defaultBackend(); const b = bn.defaultBackend(); const c = new Float32Array(1);\n' +
      'a.gemm(false, false, 1, 1, 1, 1, new Float32Array([2]), new Float32Array([3]), 0, c);\n' +
      'console.log(a.name, b.name, c[0], bn.nativeAvailable())');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'js js 6 false');
    assert.equal(r.stderr.split('BLASNET_JS_FALLBACK').length - 1, 1, r.stderr);
  });

  it('the fallback warning says why (the load error) and how to fix it (npm rebuild blasnet)', () => {
    const r = run({ BLASNET_ADDON_PATH: '/nonexistent/blasnet.node' }, 'bn.defaultBackend()');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /BLASNET_JS_FALLBACK/);
    assert.match(r.stderr, /Cannot find module '\/nonexistent\/blasnet\.node'/);
    assert.match(r.stderr, /`npm rebuild blasnet`/);
    assert.match(r.stderr, /BLASNET_ADDON_PATH names \/nonexistent\/blasnet\.node: point it at a blasnet\.node that loads/);
    assert.ok(!r.stderr.includes('build:native'), r.stderr);
  });

  (nativeAvailable() ? it : it.skip)('a relative BLASNET_ADDON_PATH is read from the working directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-addon-path-'));
    try {
      fs.mkdirSync(path.join(dir, 'mybuild'));
      fs.copyFileSync(addonPath(), path.join(dir, 'mybuild', 'blasnet.node'));
      // Resolved once: a worker thread started after a change of directory loads the same file.
      const code = `const bn = require(${JSON.stringify(LIB)}); console.log(bn.defaultBackend().name); process.chdir('/');
        const m = new bn.Sequential({ inputSize: 2, layers: [bn.dense(2)] }).compile({ loss: 'mse', optimizer: 'adam' });
        m.fitAsync(new Float32Array(8), new Float32Array(8), { epochs: 1 }).then((h) => console.log('fitAsync', h.epochs.length), (e) => console.log('fitAsync', e.code, e.message));`;
      const r = spawnSync(process.execPath, ['-e', code], {
        cwd: dir, env: { ...process.env, BLASNET_BACKEND: '', BLASNET_ADDON_PATH: 'mybuild/blasnet.node' }, encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'native\nfitAsync 1', r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the fallback warning shows the end of a failed install-time build\'s log', () => {
    // The install script leaves build/blasnet-build.log only when the build failed.
    const log = path.resolve(LIB, '..', '..', 'build', 'blasnet-build.log');
    const saved = fs.existsSync(log) ? fs.readFileSync(log) : null;
    fs.mkdirSync(path.dirname(log), { recursive: true });
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    fs.writeFileSync(log, `${lines.join('\n')}\nCMake Error: Could NOT find BLAS (missing: BLAS_LIBRARIES)\n`);
    try {
      const r = run({ BLASNET_ADDON_PATH: '/nonexistent/blasnet.node' }, 'bn.defaultBackend()');
      assert.match(r.stderr, /install-time build failed/);
      assert.match(r.stderr, /Could NOT find BLAS/);
      assert.match(r.stderr, /line 30/);
      assert.ok(!/line 1\b/.test(r.stderr), 'only the last lines');
      assert.match(r.stderr, /`npm rebuild blasnet`/);
    } finally {
      if (saved) fs.writeFileSync(log, saved);
      else fs.rmSync(log, { force: true });
    }
  });

  it('BLASNET_BACKEND=native fails clearly when the addon cannot be loaded', () => {
    const r = run({ BLASNET_BACKEND: 'native', BLASNET_ADDON_PATH: '/nonexistent/blasnet.node' },
      'try { bn.defaultBackend() } catch (e) { console.log(e.code, e instanceof bn.BlasnetError) }');
    assert.equal(r.stdout, 'ERR_BLASNET_BACKEND true');
  });

  (nativeAvailable() ? it : it.skip)('uses native by default when it loads, and BLASNET_BACKEND=native forces it', () => {
    assert.equal(run({}, 'console.log(bn.defaultBackend().name)').stdout, 'native');
    assert.equal(run({ BLASNET_BACKEND: 'native' }, 'console.log(bn.defaultBackend().name)').stdout, 'native');
  });

  (nativeAvailable() ? it : it.skip)('native kernel threads default to the physical cores the process may use, or BLASNET_NUM_THREADS', () => {
    const threads = (env: Record<string, string>) =>
      Number(run({ BLASNET_NUM_THREADS: '', ...env }, 'console.log(bn.getBackend("native").getNumThreads())').stdout);
    const cpus = Math.min(physicalCores(), 64);
    assert.equal(threads({}), cpus);
    assert.equal(threads({ BLASNET_NUM_THREADS: '1' }), 1);
    assert.equal(threads({ BLASNET_NUM_THREADS: '3' }), 3);
    // Empty is unset; more than the pool's 64 is 64, as setNumThreads takes it; anything but a
    // whole number from 1 stops the native backend from loading, naming the variable.
    assert.equal(threads({ BLASNET_NUM_THREADS: '' }), cpus);
    assert.equal(threads({ BLASNET_NUM_THREADS: '65' }), 64);
    for (const bad of ['0', 'two', '2x', '-1', '1.5']) {
      const r = run({ BLASNET_NUM_THREADS: bad }, 'try { bn.getBackend("native"); console.log("loaded"); } catch (e) { console.log(e.code + " " + e.message); }');
      assert.match(r.stdout, new RegExp(`^ERR_BLASNET_BACKEND .*BLASNET_NUM_THREADS=${JSON.stringify(JSON.stringify(bad)).slice(1, -1).replace(/[.]/g, '\\.')} is not a thread count`), bad);
    }
    // The affinity mask counts, not the machine's CPUs: one CPU under taskset means one thread.
    const pinned = spawnSync('taskset', ['-c', '0', process.execPath, '-e',
      `console.log(require(${JSON.stringify(LIB)}).getBackend("native").getNumThreads())`],
    { env: { ...process.env, BLASNET_NUM_THREADS: '' }, encoding: 'utf8' });
    assert.equal(pinned.status, 0, `taskset (util-linux) failed: ${pinned.error?.message ?? pinned.stderr}`);
    assert.equal(pinned.stdout.trim(), '1');
    // setNumThreads caps at 64 and takes effect at once.
    assert.equal(run({}, 'const b = bn.getBackend("native"); b.setNumThreads(1000); console.log(b.getNumThreads())').stdout, '64');
  });

  (nativeAvailable() ? it : it.skip)('the addon loads OpenBLAS without worker threads, unless OPENBLAS_NUM_THREADS asks for them', () => {
    // Threads of this process before and after the native backend loads and runs a few GEMMs
    // (OpenBLAS starts its workers when it loads), not counting the addon's own, and the variable
    // as the process sees it after.
    const code = `const fs = require('fs');
const count = () => fs.readdirSync('/proc/self/task').length;
const before = count();
const b = bn.getBackend('native');
const n = 128, x = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
for (let i = 0; i < 20; i++) b.gemm(false, false, n, n, n, 1, x, x, 0, c);
// The addon's own threads (its pool, and its warm-up while that runs) are named blasnet-*; a
// thread may end between the listing and the read of its name.
const name = (t) => { try { return fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim(); } catch { return 'ended'; } };
// A thread the addon has just started carries the process's name until it names itself, so the
// count is taken again for up to 2 s until it settles; OpenBLAS's workers would stay.
const others = () => fs.readdirSync('/proc/self/task').filter((t) => !/^blasnet-|^ended$/.test(name(t))).length;
const t0 = Date.now();
while (others() > before && Date.now() - t0 < 2000);
console.log(JSON.stringify({ added: others() - before, env: process.env.OPENBLAS_NUM_THREADS ?? null }));`;
    const load = (env: Record<string, string | undefined>) => {
      const e: Record<string, string> = { ...process.env as Record<string, string>, BLASNET_BACKEND: '', BLASNET_ADDON_PATH: '' };
      delete e.OPENBLAS_NUM_THREADS;
      for (const [k, v] of Object.entries(env)) if (v !== undefined) e[k] = v;
      const r = spawnSync(process.execPath, ['-e', `const bn = require(${JSON.stringify(LIB)});\n${code}`], { env: e, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim()) as { added: number; env: string | null };
    };
    const plain = load({});
    assert.deepEqual(plain, { added: 0, env: null }, 'no OpenBLAS worker, and the variable unset again after the load');
    // OMP_NUM_THREADS, which OpenBLAS would otherwise read, does not bring workers either.
    assert.deepEqual(load({ OMP_NUM_THREADS: '2' }), { added: 0, env: null });
    // A value the user set is theirs: it stays, and OpenBLAS starts the workers it asks for.
    const asked = load({ OPENBLAS_NUM_THREADS: '2' });
    assert.equal(asked.env, '2');
    if (os.availableParallelism() >= 2) assert.ok(asked.added >= 1, `expected an OpenBLAS worker, got ${asked.added} new threads`);
  });

  (nativeAvailable() ? it : it.skip)('the addon warms its kernels up on a thread of its own that ends; a process may exit at once after loading it', () => {
    // Processes that exit while the warm-up runs end cleanly (it is waited for at exit, before
    // OpenBLAS frees its buffers).
    for (let i = 0; i < 10; i++) {
      const r = run({}, "bn.getBackend('native'); process.exit(3)");
      assert.equal(r.status, 3, r.stderr);
    }
    // The warm-up runs and ends. After it, the process's first GEMM finds OpenBLAS's buffer
    // and code mapped: the main thread takes far fewer page faults in it than with
    // BLASNET_WARM_UP=0. One thread, so that only the main thread's own call counts. A full
    // collection first: a scavenge of V8's young generation inside the window faults in 40-75
    // pages of its own (seen with --trace-gc in about 1 process of 30), which is not the GEMM's.
    const code = `const fs = require('fs');
const names = () => fs.readdirSync('/proc/self/task').map((t) => { try { return fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim(); } catch { return ''; } });
const faults = () => { const s = fs.readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[7]); };
const b = bn.getBackend('native');
b.setNumThreads(1);
const t0 = Date.now();
while (names().includes('blasnet-warmup') && Date.now() - t0 < 10000);
const x = new Float32Array(128 * 784).fill(1), w = new Float32Array(256 * 784).fill(1), c = new Float32Array(128 * 256).fill(1);
gc();
faults();
const f0 = faults();
b.gemm(false, true, 128, 256, 784, 1, x, w, 0, c);
console.log(JSON.stringify({ running: names().includes('blasnet-warmup'), faults: faults() - f0 }));`;
    const warmed = JSON.parse(run({}, code, ['--expose-gc']).stdout) as { running: boolean; faults: number };
    const cold = JSON.parse(run({ BLASNET_WARM_UP: '0' }, code, ['--expose-gc']).stdout) as { running: boolean; faults: number };
    assert.equal(warmed.running, false);
    assert.ok(cold.faults >= 20 && warmed.faults < cold.faults / 2, `first GEMM's page faults: ${warmed.faults} after the warm-up, ${cold.faults} without`);
  });

  (nativeAvailable() ? it : it.skip)('native info names OpenBLAS and its thread count; setNumThreads changes it', () => {
    const r = run({}, 'const b = bn.getBackend("native"); b.setNumThreads(1); const i = b.info(); console.log(JSON.stringify(i))');
    const info = JSON.parse(r.stdout);
    assert.equal(info.backend, 'native');
    assert.equal(info.library, 'OpenBLAS');
    assert.match(info.config, /OpenBLAS/);
    assert.equal(info.numThreads, 1);
  });
});
