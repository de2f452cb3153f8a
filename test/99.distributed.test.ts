/**
 * Data-parallel training over MPI (lib/distributed): two ranks under mpirun against one process,
 * and what a failing rank does to the others. Each case spawns
 * `mpirun --oversubscribe --allow-run-as-root -np 2 node dist/test/mpi/rank.js ...`. Without
 * mpirun or the MPI addon the tests skip with a message; under CI=true that is a failure.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BatchIterator, ErrorCode, mpiAvailable, replicaMaskSeed, Rng } from '../lib';
import type { EpochLogs, Sequential } from '../lib';
import { Matrix } from '../lib/tensor';
import { distributedCases, distributedData, distributedModel } from './mpi/cases';
import type { DistributedCase } from './mpi/cases';
import { backends, throwsCode } from './helpers';
import { loadMpi } from '../lib/distributed/mpi';

const RANK = path.join(__dirname, 'mpi', 'rank.js');

function missing(): string | null {
  if (spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status !== 0) return 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev)';
  if (!mpiAvailable()) return 'the MPI addon build/Release/blasnet_mpi.node is not built (install libopenmpi-dev, then npm run build:native)';
  return null;
}
const why = missing();
if (why && process.env.CI) throw new Error(`distributed tests need Open MPI in CI: ${why}`);
if (why) process.stderr.write(`  99.distributed: ${why}; skipping the MPI tests\n`);
const withMpi = why ? describe.skip : describe;

interface Result { rank: number; code: string | null; message: string }

/** Runs the rank script on 2 ranks; returns each rank's RESULT line and mpirun's exit status. */
function mpirun(args: string[], env: Record<string, string> = {}): { results: Result[]; status: number | null; output: string } {
  const r = spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', '2', process.execPath, RANK, ...args], {
    encoding: 'utf8', env: { ...process.env, OMPI_MCA_rmaps_base_oversubscribe: '1', ...env },
    // A hang guard, not a speed check: a failure must end the job, never leave it waiting.
    timeout: 90_000,
  });
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.error) throw new Error(`mpirun did not finish: ${r.error.message}\n${output}`);
  const results = r.stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)) as Result);
  return { results: results.sort((a, b) => a.rank - b.rank), status: r.status, output };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * The one-process reference for dropout: the same two shards and the same two mask streams as
 * the ranks (replicaMaskSeed), each shard's gradient computed in turn, then averaged and stepped.
 */
function emulateTwoRanks(c: DistributedCase): Sequential {
  const { x, y } = distributedData();
  const m = distributedModel(c);
  const opt = m.optimizer as NonNullable<Sequential['optimizer']>;
  const rows = { x: new Matrix(x, 96, 6), y };
  const order = { batchSize: c.batchSize / 2, shuffle: true, seed: 5, backend: m.backend };
  const shards = [0, 1].map((rank) => new BatchIterator(rows.x, rows.y, { ...order, shard: { rank, size: 2 } }));
  const masks = [m.maskState()];
  m.reseed(replicaMaskSeed(m.seed, 1));
  masks.push(m.maskState());
  const acc = new Float32Array(m.grads.length);
  m.train();
  for (let e = 0; e < c.epochs; e++) {
    const its = shards.map((s) => s.epoch()[Symbol.iterator]());
    for (;;) {
      acc.fill(0);
      let done = false;
      for (let r = 0; r < 2; r++) {
        const b = its[r].next();
        if (b.done) {
          done = true;
          break;
        }
        m.setMaskState(masks[r]);
        m.lossAndGradient(b.value.x, b.value.y as Int32Array);
        masks[r] = m.maskState();
        for (let i = 0; i < acc.length; i++) acc[i] += m.grads[i];
      }
      if (done) break;
      for (let i = 0; i < acc.length; i++) m.grads[i] = acc[i] * 0.5;
      opt.step();
    }
  }
  return m;
}

for (const b of backends()) {
  withMpi(`distributed training over MPI [${b.name}]`, function () {
    this.timeout(120_000);
    type Out = Record<string, { params: number[]; epochs: EpochLogs[]; steps: number }>;
    let ranks: Out[] = [];

    before(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-mpi-'));
      const out = path.join(dir, 'weights.json');
      const r = mpirun(['train', out], { BLASNET_BACKEND: b.name });
      assert.deepEqual(r.results.map((x) => x.code), ['OK', 'OK'], r.output);
      ranks = [0, 1].map((k) => JSON.parse(fs.readFileSync(`${out}.rank${k}`, 'utf8')) as Out);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('every rank ends with the same weights, bit for bit', () => {
      for (const c of distributedCases()) assert.deepEqual(ranks[1][c.name].params, ranks[0][c.name].params, c.name);
    });

    it("rank 0's initial weights are broadcast: ranks that built their models from other seeds train as the sgd case", () => {
      assert.deepEqual(ranks[0].seeds.params, ranks[0].sgd.params);
      assert.deepEqual(ranks[1].seeds.params, ranks[0].sgd.params);
    });

    it('BatchNorm running statistics are averaged at epoch end: the same on every rank', () => {
      const [a, c] = [ranks[0].bn as unknown as { buffers: number[][] }, ranks[1].bn as unknown as { buffers: number[][] }];
      assert.ok(a.buffers.length > 0);
      assert.deepEqual(c.buffers, a.buffers);
      assert.deepEqual(ranks[1].bn.params, ranks[0].bn.params);
      // So are those swa and ema recompute for the averaged weights at the end, with dropout masking each rank's rows its own way.
      for (const k of ['bnSwa', 'bnEma']) {
        const [p, q] = [ranks[0][k] as unknown as { buffers: number[][] }, ranks[1][k] as unknown as { buffers: number[][] }];
        assert.deepEqual(q.buffers, p.buffers, k);
        assert.deepEqual(ranks[1][k].params, ranks[0][k].params, k);
      }
    });

    it("resuming from rank 0's checkpoint continues as the uninterrupted run, with rank 0's optimiser state on every rank", () => {
      for (const r of ranks) {
        assert.equal(r.resume.steps, 6);
        assert.deepEqual(r.resume.params, ranks[0].adam.params);
      }
    });

    it('a stop asked for on one rank stops every rank after the same step', () => {
      for (const r of ranks) {
        assert.equal(r.stop.steps, 4);
        assert.equal((r.stop as unknown as { stopReason: string }).stopReason, r === ranks[1] ? 'rank 1 stops' : 'stopped by another replica');
      }
      assert.deepEqual(ranks[1].stop.params, ranks[0].stop.params);
    });

    it('a stop asked for at an epoch end on rank 0 alone stops every rank there', () => {
      for (const r of ranks) {
        assert.equal(r.epochStop.steps, 6);
        assert.equal((r.epochStop as unknown as { stopReason: string }).stopReason, r === ranks[0] ? 'rank 0 stops' : 'stopped by another replica');
      }
      assert.deepEqual(ranks[1].epochStop.params, ranks[0].epochStop.params);
    });

    it('fewer validation rows than ranks count once, under a summed loss too', () => {
      for (const r of ranks) {
        const o = r.oneRow as unknown as { valLoss: number; evaluated: number };
        assert.ok(Math.abs(o.valLoss - o.evaluated) <= 1e-6 * Math.abs(o.evaluated), `valLoss ${o.valLoss}, evaluate ${o.evaluated}`);
      }
    });

    // sgd+sum+penalty: the ranks' summed gradients count the L1/L2 penalty once, as one process does.
    for (const name of ['sgd', 'adam', 'sgd+sum+penalty']) {
      it(`${name}: 2 ranks of batch b/2 match 1 process of batch b after 12 steps (weights, loss, validation)`, () => {
        const c = distributedCases().find((k) => k.name === name) as DistributedCase;
        const { x, y, xVal, yVal } = distributedData();
        const m = distributedModel(c);
        const h = m.fit(x, y, { epochs: c.epochs, batchSize: c.batchSize, seed: 5, validationData: { x: xVal, y: yVal } });
        const d = ranks[0][name];
        assert.equal(d.steps, 12);
        assert.equal(h.steps, 12);
        // Float32 gradients summed in another order (two half-batch GEMMs, then the average).
        const diff = maxDiff(d.params, m.params);
        assert.ok(diff < 2e-5, `${name}: largest weight difference ${diff}`);
        h.epochs.forEach((e, i) => {
          for (const k of ['loss', 'accuracy', 'valLoss', 'valAccuracy']) {
            // Relative to the value: a summed loss is some 16 to 30 times a mean one.
            assert.ok(Math.abs(d.epochs[i][k] - e[k]) < 1e-4 * Math.max(1, Math.abs(e[k])), `${name} epoch ${i} ${k}: ${d.epochs[i][k]} against ${e[k]}`);
          }
        });
      });
    }

    for (const name of ['sgd+dropout', 'adam+dropout']) {
      it(`${name}: 2 ranks match one process that draws the same per-rank masks and averages the two half-batch gradients`, () => {
        const c = distributedCases().find((k) => k.name === name) as DistributedCase;
        const m = emulateTwoRanks(c);
        const diff = maxDiff(ranks[0][name].params, m.params);
        assert.ok(diff < 1e-6, `${name}: largest weight difference ${diff}`);
        // The masks matter: a single-stream run of batch b ends elsewhere.
        const plain = distributedModel(c);
        const { x, y } = distributedData();
        plain.fit(x, y, { epochs: c.epochs, batchSize: c.batchSize, seed: 5 });
        assert.ok(maxDiff(ranks[0][name].params, plain.params) > 1e-4);
      });
    }
  });
}

withMpi('the MPI addon checks its arguments before MPI is touched', () => {
  // Loaded but never initialised here: every call below must fail in its guards.
  const mpi = () => loadMpi();
  it('bad timeouts, buffers, roots and exit codes are coded errors', () => {
    throwsCode(() => mpi().allreduce(0, new Float32Array(2)), ErrorCode.ARG_RANGE, RangeError, 'timeoutMs');
    throwsCode(() => mpi().allreduce(NaN, new Float32Array(2)), ErrorCode.ARG_RANGE, RangeError, 'timeoutMs');
    throwsCode(() => mpi().allreduce(10, [1, 2] as unknown as Float32Array), ErrorCode.ARG_TYPE, TypeError, 'Float32Array or Float64Array');
    throwsCode(() => mpi().allreduce(10, new Int32Array(2) as unknown as Float32Array), ErrorCode.ARG_TYPE, TypeError, 'buffer');
    throwsCode(() => (mpi().allreduce as (...a: unknown[]) => void)(10), ErrorCode.ARG_COUNT, TypeError);
    throwsCode(() => mpi().broadcast(-1, 10, new Float64Array(1)), ErrorCode.ARG_RANGE, RangeError, 'root');
    throwsCode(() => mpi().barrier('x' as unknown as number), ErrorCode.ARG_TYPE, TypeError, 'timeoutMs');
    throwsCode(() => mpi().abort(300), ErrorCode.ARG_RANGE, RangeError, 'exitCode');
  });
  it('collectives before init are ERR_BLASNET_STATE', () => {
    throwsCode(() => mpi().allreduce(10, new Float32Array(2)), ErrorCode.STATE, Error, 'init');
    throwsCode(() => mpi().rank(), ErrorCode.STATE, Error, 'init');
  });
});

withMpi('blasnet train --distributed', function () {
  this.timeout(120_000);

  it('two ranks train one model: rank 0 alone prints the report and the JSON line and writes the files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-mpi-cli-'));
    const rng = new Rng(3);
    const lines = ['a,b,c,label'];
    for (let i = 0; i < 300; i++) lines.push(`${[0, 1, 2].map((j) => ((j === i % 3 ? 2 : 0) + rng.normal()).toFixed(3)).join(',')},${'xyz'[i % 3]}`);
    fs.writeFileSync(path.join(dir, 't.csv'), `${lines.join('\n')}\n`);
    const cli = path.join(__dirname, '..', 'lib', 'cli.js');
    const r = spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', '2', process.execPath, cli, 'train', '--csv', 't.csv',
      '--epochs', '3', '--threads', '1', '--distributed'], { cwd: dir, encoding: 'utf8', timeout: 90_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const json = r.stdout.split('\n').filter((l) => l.startsWith('{'));
    assert.equal(json.length, 1, r.stdout);
    assert.equal(JSON.parse(json[0]).ranks, 2);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('test loss')).length, 1, r.stdout);
    assert.ok(fs.existsSync(path.join(dir, 't.blasnet')));
    assert.equal(fs.readFileSync(path.join(dir, 't.history.csv'), 'utf8').trim().split('\n').length, 4);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

withMpi('distributed training: ranks that disagree, and a collective that timed out', function () {
  this.timeout(120_000);
  it('a rank with other options: every rank refuses before the first step, the differing one naming the difference', () => {
    const r = mpirun(['differ']);
    assert.notEqual(r.status, 0, r.output);
    assert.deepEqual(r.results.map((x) => x.code), [ErrorCode.DISTRIBUTED, 'ERR_BLASNET_ARG_RANGE'], r.output);
    assert.match(r.results[0].message, /1 rank differs from rank 0 in their model, data or options/);
    assert.match(r.results[1].message, /rank 1 differs from rank 0 in optimizer .*"lr":0\.5.*\(rank 0: .*"lr":0\.05/);
  });

  it("resuming rank 0's checkpoint on other weights is refused on every rank, as fit refuses it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-mpi-resume-'));
    const r = mpirun(['resumeWeights', path.join(dir, 'run')]);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(r.results.map((x) => x.code), [ErrorCode.STATE, ErrorCode.STATE], r.output);
    assert.match(r.results[0].message, /this model's weights are not the checkpoint's/);
    assert.match(r.results[1].message, /rank 0 refused to resume: .*this model's weights are not the checkpoint's/);
  });

  it('after a collective times out, the next one is a coded error, never a crash', () => {
    const r = spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', '2', process.execPath, '--expose-gc', RANK, 'retry'], {
      encoding: 'utf8', env: { ...process.env, OMPI_MCA_rmaps_base_oversubscribe: '1' }, timeout: 90_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    assert.doesNotMatch(output, /signal 11|Segmentation fault/, output);
    const r0 = r.stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)) as Result).find((x) => x.rank === 0);
    assert.ok(r0, output);
    assert.equal(r0.code, ErrorCode.DISTRIBUTED);
    assert.match(r0.message, /an earlier collective \(allreduce\) did not complete and MPI cannot cancel it/);
  });
});

withMpi('distributed training: a failing rank', function () {
  this.timeout(120_000);
  const cases: [string, string, RegExp][] = [
    ['throw', 'throws in a callback', /injected failure/],
    ['kill', 'is killed (SIGKILL)', /.*/],
    ['stall', 'stops calling collectives without exiting', /.*/],
  ];
  for (const [mode, what, own] of cases) {
    it(`a rank that ${what}: the job ends, the other rank with ${ErrorCode.DISTRIBUTED}`, () => {
      const r = mpirun([mode]);
      assert.notEqual(r.status, 0, r.output);
      const r0 = r.results.find((x) => x.rank === 0);
      assert.ok(r0, `rank 0 printed no result:\n${r.output}`);
      assert.equal(r0.code, ErrorCode.DISTRIBUTED, r.output);
      assert.match(r0.message, mode === 'stall' ? /timed out after 3000 ms/ : /SIGTERM|timed out/);
      const r1 = r.results.find((x) => x.rank === 1);
      if (mode === 'throw') assert.match((r1 as Result).message, own);
      // A killed rank prints nothing; a stalled one is ended by the launcher once rank 0 exits.
      if (mode !== 'throw') assert.equal(r1, undefined, r.output);
    });
  }
});
