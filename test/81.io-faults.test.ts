/**
 * Model files under faults and hostile input: full disks, special files, killed writers, crafted
 * files that try to cost time or memory, and metadata that looks like the format's own markers.
 */
import { strict as assert } from 'assert';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { activation, batchNorm, createOptimizer, csvLogger, dense, exportOnnx, readIdx, Rng, saveSafetensors, Sequential, writeIdx } from '../lib';
import { checkWritable, crc32, decode, encode, FORMAT_VERSION, temporaryName, writerNamespace } from '../lib/io/format';
import { decodeModel, encodeModel, loadModel, saveModel } from '../lib/io/model-file';
import { throwsCode } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-io-faults-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const lib = path.resolve(__dirname, '..', 'lib');
const modelFile = path.join(lib, 'io', 'model-file');

function small(seed = 1): Sequential {
  return new Sequential({ inputSize: 4, seed, backend: 'js', layers: [dense(3), batchNorm(), dense(2)] });
}

/** About 2 MB of parameters. */
const BIG = 'new Sequential({ inputSize: 256, seed: 2, backend: "js", layers: [dense(2048)] })';

/** Files in `dir` that look like temporaries of any save. */
function temporaries(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.blasnet-tmp-') || f.endsWith('.tmp'));
}

/** The pid of a child that has exited: a pid no process in this namespace holds (for now). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid as number;
  await new Promise((r) => child.once('exit', r));
  return pid;
}

/** Runs `code` (with dense, Sequential, saveModel in scope) in a child node; its stdout, parsed. */
function inChild(code: string, shellPrefix = ''): { ok?: boolean; code?: string; message?: string } {
  const script = `
    const { dense, activation, Sequential } = require(${JSON.stringify(lib)});
    const { saveModel, loadModel } = require(${JSON.stringify(modelFile)});
    try { ${code}; console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const quoted = `'${script.replace(/'/g, `'\\''`)}'`;
  const r = spawnSync('bash', ['-c', `${shellPrefix} exec ${JSON.stringify(process.execPath)} -e ${quoted}`], { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as { ok?: boolean; code?: string; message?: string };
}

/** A blasnet container around an arbitrary header text and payload, built by the format's rules. */
function container(headerText: string, payload = Buffer.alloc(0), version = FORMAT_VERSION): Buffer {
  const header = Buffer.from(headerText, 'utf8');
  const pad = (4 - (header.length % 4)) % 4;
  const out = Buffer.alloc(32 + header.length + pad + payload.length);
  out.write('BLASNET\0', 0, 'latin1');
  out.writeUInt32LE(version, 8);
  out.writeUInt32LE(header.length, 12);
  out.writeUInt32LE(crc32(header), 16);
  out.writeUInt32LE(crc32(payload), 20);
  out.writeBigUInt64LE(BigInt(payload.length), 24);
  header.copy(out, 32);
  payload.copy(out, 32 + header.length + pad);
  return out;
}


/**
 * Runs `body` with `args` mounted over a fresh directory (a tmpfs of a given size, a bind mount),
 * unmounting `target` after; skips the test where mount is not allowed (not root, no privileges).
 */
function withMount(ctx: Mocha.Context, args: string[], target: string, body: () => void, skipNote = ''): void {
  try {
    execFileSync('mount', args, { stdio: 'pipe' });
  } catch (e) {
    // eslint-disable-next-line no-console
    console.log(`      (skipped: cannot mount here: ${String((e as Error).message).split('\n')[0]}${skipNote})`);
    ctx.skip();
  }
  try {
    body();
  } finally {
    execFileSync('umount', [target]);
  }
}

describe('saving on a full disk', () => {
  it('under a file size limit (ulimit -f) fails with ERR_BLASNET_IO, the old file byte-identical, no temporary left', function () {
    this.timeout(30000);
    const dir = fs.mkdtempSync(path.join(tmp, 'ulimit-'));
    const file = path.join(dir, 'model.blasnet');
    saveModel(file, small());
    const before = fs.readFileSync(file);
    // 64 blocks of 512 bytes: the 2 MB model cannot fit. Node ignores SIGXFSZ, so the write fails with EFBIG.
    const r = inChild(`saveModel(${JSON.stringify(file)}, ${BIG})`, 'ulimit -f 64;');
    assert.equal(r.code, 'ERR_BLASNET_IO', JSON.stringify(r));
    assert.ok(fs.readFileSync(file).equals(before), 'the old file changed');
    assert.deepEqual(temporaries(dir), []);
    assert.equal(loadModel(file).model.params.length, small().params.length);
  });

  it('modelCheckpoint under a file size limit stops fit with ERR_BLASNET_IO and keeps the old checkpoint', function () {
    this.timeout(30000);
    const dir = fs.mkdtempSync(path.join(tmp, 'ulimit-ckpt-'));
    const file = path.join(dir, 'ckpt.blasnet');
    saveModel(file, small());
    const before = fs.readFileSync(file);
    const r = inChild(`
      const { modelCheckpoint } = require(${JSON.stringify(path.join(lib, 'train', 'callbacks'))});
      const m = new Sequential({ inputSize: 256, seed: 2, backend: 'js', layers: [dense(2048), dense(1)] }).compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.01 } });
      const x = new Float32Array(8 * 256).fill(0.5), y = new Float32Array(8).fill(1);
      m.fit(x, y, { epochs: 1, batchSize: 8, callbacks: [modelCheckpoint(${JSON.stringify(file)}, { every: 1 })] })`, 'ulimit -f 64;');
    assert.equal(r.code, 'ERR_BLASNET_IO', JSON.stringify(r));
    assert.ok(fs.readFileSync(file).equals(before), 'the old checkpoint changed');
    assert.deepEqual(temporaries(dir), []);
  });

  it('on a full filesystem (1 MB tmpfs) fails with ERR_BLASNET_IO, the old file byte-identical, no temporary left', function () {
    this.timeout(30000);
    const dir = fs.mkdtempSync(path.join(tmp, 'tmpfs-'));
    withMount(this, ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], dir, () => {
      const file = path.join(dir, 'model.blasnet');
      saveModel(file, small());
      const before = fs.readFileSync(file);
      const big = new Sequential({ inputSize: 256, seed: 2, backend: 'js', layers: [dense(2048)] });
      throwsCode(() => saveModel(file, big), 'ERR_BLASNET_IO', undefined, 'model.blasnet');
      assert.ok(fs.readFileSync(file).equals(before), 'the old file changed');
      assert.deepEqual(temporaries(dir), []);
    }, '; the ulimit test covers short writes');
  });
});

describe('a target a rename cannot replace', () => {
  it('a file mounted over its name: checked up front, and a save keeps its new file beside it, named in the error', function () {
    this.timeout(30000);
    const dir = fs.mkdtempSync(path.join(tmp, 'bind-'));
    const host = path.join(dir, 'host.blasnet'), app = path.join(dir, 'app.blasnet');
    saveModel(host, small(1));
    fs.writeFileSync(app, '');
    withMount(this, ['--bind', host, app], app, () => {
      throwsCode(() => checkWritable(app), 'ERR_BLASNET_IO', undefined, 'is a mount point');
      const before = fs.readFileSync(app);
      let kept = '';
      try {
        saveModel(app, small(2));
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'ERR_BLASNET_IO');
        kept = (e as { keptAside: string }).keptAside;
        assert.match((e as Error).message, /the new contents are kept in .*app\.blasnet\.unsaved-/);
      }
      assert.ok(kept, 'the save failed and named where its file is');
      assert.deepEqual(loadModel(kept).model.params, small(2).params);
      assert.ok(fs.readFileSync(app).equals(before), 'the mounted file is as it was');
      assert.deepEqual(temporaries(dir), []);
    });
  });
});

describe('csvLogger on a disk that fills', () => {
  it('stops fit with ERR_BLASNET_IO and leaves no half row: the file keeps the rows it had', function () {
    this.timeout(30000);
    const dir = fs.mkdtempSync(path.join(tmp, 'csvlog-'));
    withMount(this, ['-t', 'tmpfs', '-o', 'size=12k', 'tmpfs', dir], dir, () => {
      // One 4 KiB page stays free, and the log so far ends 40 bytes before it is full.
      fs.writeFileSync(path.join(dir, 'filler'), Buffer.alloc(8192));
      const log = path.join(dir, 'log.csv');
      const before = `epoch,loss,lr,seconds,samplesPerSecond\n${'x'.repeat(4056 - 40)}\n`;
      fs.writeFileSync(log, before);
      const m = new Sequential({ inputSize: 2, seed: 1, backend: 'js', layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
      throwsCode(() => m.fit(new Float32Array([0, 1, 1, 0]), new Int32Array([0, 1]), { epochs: 1, batchSize: 2, callbacks: [csvLogger(log, { append: true })] }),
        'ERR_BLASNET_IO', undefined, 'log.csv');
      assert.equal(fs.readFileSync(log, 'utf8'), before);
    });
  });
});

describe('saving to what is not a regular file', () => {
  it('follows a symbolic link and replaces its target; the link stays', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'link-'));
    const target = path.join(dir, 'real.blasnet');
    const link = path.join(dir, 'link.blasnet');
    saveModel(target, small(1));
    fs.symlinkSync('real.blasnet', link);
    saveModel(link, small(2));
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.deepEqual(loadModel(target).model.params, small(2).params);
    // A dangling link names the file to create.
    const dangling = path.join(dir, 'dangling.blasnet');
    fs.symlinkSync('created.blasnet', dangling);
    saveModel(dangling, small(3));
    assert.ok(fs.lstatSync(dangling).isSymbolicLink());
    assert.deepEqual(loadModel(path.join(dir, 'created.blasnet')).model.params, small(3).params);
    assert.deepEqual(temporaries(dir), []);
  });

  it('resolves ".." after a symbolic link as the kernel does, not by dropping both', () => {
    // other/link -> sub/../m.blasnet, other/sub -> ../real/inner: the kernel reads real/m.blasnet.
    const dir = fs.mkdtempSync(path.join(tmp, 'dotdot-'));
    fs.mkdirSync(path.join(dir, 'real', 'inner'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'other'));
    fs.symlinkSync('../real/inner', path.join(dir, 'other', 'sub'));
    fs.writeFileSync(path.join(dir, 'other', 'm.blasnet'), 'an unrelated file');
    saveModel(path.join(dir, 'real', 'm.blasnet'), small(1));
    fs.symlinkSync('sub/../m.blasnet', path.join(dir, 'other', 'link'));
    saveModel(path.join(dir, 'other', 'link'), small(2));
    assert.equal(fs.readFileSync(path.join(dir, 'other', 'm.blasnet'), 'utf8'), 'an unrelated file');
    assert.deepEqual(loadModel(path.join(dir, 'other', 'link')).model.params, small(2).params);
    // The same in the path itself: other/sub/../n.blasnet is real/n.blasnet.
    saveModel(path.join(dir, 'other', 'sub') + '/../n.blasnet', small(3));
    assert.deepEqual(loadModel(path.join(dir, 'real', 'n.blasnet')).model.params, small(3).params);
    assert.ok(!fs.existsSync(path.join(dir, 'other', 'n.blasnet')));
  });

  it('refuses a path that names a directory by its ending ("/", "/.", "/.."), leaving a file of that name as it was', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'slash-'));
    const notes = path.join(dir, 'notes');
    fs.writeFileSync(notes, 'my notes');
    for (const p of [`${notes}/`, `${path.join(dir, 'new')}/`, `${dir}/.`, `${dir}/..`]) {
      throwsCode(() => saveModel(p, small()), 'ERR_BLASNET_IO', undefined, 'names a directory');
      throwsCode(() => exportOnnx(small(), p), 'ERR_BLASNET_IO', undefined, 'names a directory');
    }
    fs.symlinkSync('notes/', path.join(dir, 'to-dir'));
    throwsCode(() => saveModel(path.join(dir, 'to-dir'), small()), 'ERR_BLASNET_IO', undefined, 'symbolic link\'s target "notes/" names a directory');
    assert.equal(fs.readFileSync(notes, 'utf8'), 'my notes');
    assert.ok(!fs.existsSync(path.join(dir, 'new')));
    assert.deepEqual(temporaries(dir), []);
  });

  it('refuses a FIFO and a directory with ERR_BLASNET_IO naming the kind, leaving them as they were', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'special-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    throwsCode(() => saveModel(fifo, small()), 'ERR_BLASNET_IO', undefined, 'FIFO');
    assert.ok(fs.lstatSync(fifo).isFIFO());
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    throwsCode(() => saveModel(sub, small()), 'ERR_BLASNET_IO', undefined, 'directory');
    assert.ok(fs.lstatSync(sub).isDirectory());
    assert.deepEqual(temporaries(dir), []);
  });

  it('refuses a character device (a private null device first, then /dev/null) and leaves it a device', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'device-'));
    const node = path.join(dir, 'null');
    let made = false;
    try {
      execFileSync('mknod', [node, 'c', '1', '3'], { stdio: 'pipe' });
      made = true;
    } catch {
      // Not permitted here: /dev/null alone, which only root could replace.
    }
    if (made) {
      throwsCode(() => saveModel(node, small()), 'ERR_BLASNET_IO', undefined, 'character device');
      assert.ok(fs.lstatSync(node).isCharacterDevice());
    }
    // Only reached when the private device survived, so a regression cannot replace the real one.
    throwsCode(() => saveModel('/dev/null', small()), 'ERR_BLASNET_IO', undefined, 'character device');
    assert.ok(fs.lstatSync('/dev/null').isCharacterDevice());
    assert.deepEqual(temporaries(dir), []);
    assert.deepEqual(fs.readdirSync('/dev').filter((f) => f.includes('blasnet')), []);
  });
});

describe('temporary files', () => {
  it('a save killed at any moment leaves the old or the new model, and the next save removes its temporary', async function () {
    this.timeout(120000);
    const dir = fs.mkdtempSync(path.join(tmp, 'killed-'));
    const file = path.join(dir, 'model.blasnet');
    const mk = (seed: number) => new Sequential({ inputSize: 512, seed, backend: 'js', layers: [dense(2048)] });
    saveModel(file, mk(1));
    // The child builds one model and saves it with a new seed in its metadata until killed.
    const code = `
      const { dense, Sequential } = require(${JSON.stringify(lib)});
      const { saveModel } = require(${JSON.stringify(modelFile)});
      const m = new Sequential({ inputSize: 512, seed: 2, backend: 'js', layers: [dense(2048)] });
      process.stdout.write('ready\\n');
      for (let s = 2; ; s++) saveModel(${JSON.stringify(file)}, m, { metadata: { s } });
    `;
    const rng = new Rng(11);
    let strays = 0;
    for (let run = 0; run < 20; run++) {
      const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise((r) => child.stdout.once('data', r));
      if (run % 2 === 0) {
        // Half the runs kill the writer as soon as its k-th temporary appears: mid-write for sure.
        const k = 1 + rng.int(3);
        await new Promise<void>((resolve) => {
          let seen = 0;
          const done = () => {
            watcher.close();
            clearTimeout(timer);
            resolve();
          };
          const watcher = fs.watch(dir, (_event, name) => {
            if (name && String(name).includes('.blasnet-tmp-') && fs.existsSync(path.join(dir, String(name))) && ++seen >= k) done();
          });
          const timer = setTimeout(done, 5000);
        });
      } else {
        await new Promise((r) => setTimeout(r, rng.int(300)));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // Checksums verified: a complete model, the old one or one the child wrote.
      const loaded = loadModel(file, { backend: 'js' });
      assert.equal(loaded.model.params.length, 512 * 2048 + 2048);
      strays += temporaries(dir).length;
      saveModel(file, mk(1));
      assert.deepEqual(temporaries(dir), [], `run ${run}: a temporary survived the next save`);
    }
    // The runs must have met the case they test.
    assert.ok(strays > 0, 'no run was killed mid-save');
  });

  it('the next save removes the temporaries of dead writers of the same file in this PID namespace, at once', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'stale-'));
    const file = path.join(dir, 'm.blasnet');
    const dead = await deadPid();
    const ns = writerNamespace();
    assert.ok(ns !== null, 'this Linux process has a PID namespace and a boot id');
    const names = {
      dead: temporaryName('m.blasnet', dead, ns),
      oldStyle: `.m.blasnet.${dead}.1700000000000.k3j4.tmp`,
      live: temporaryName('m.blasnet', process.ppid, ns),
      own: temporaryName('m.blasnet', process.pid, ns),
      other: temporaryName('n.blasnet', dead, ns),
      unrelated: `.m.blasnet.blasnet-tmp-notes`,
    };
    for (const n of Object.values(names)) fs.writeFileSync(path.join(dir, n), 'x');
    // The old style carries no namespace: it is removed once it is old as well.
    fs.utimesSync(path.join(dir, names.oldStyle), new Date(Date.now() - 3600e3), new Date(Date.now() - 3600e3));
    saveModel(file, small());
    const left = new Set(fs.readdirSync(dir));
    assert.ok(!left.has(names.dead), 'the dead writer\'s temporary is still there');
    assert.ok(!left.has(names.oldStyle), 'the old-style temporary is still there');
    for (const k of ['live', 'own', 'other', 'unrelated'] as const) assert.ok(left.has(names[k]), `${k} was removed`);
  });

  it('a temporary from another PID namespace, or without one, is removed only once it has not changed for 15 minutes', async () => {
    // Two containers sharing a volume: a pid that cannot be signalled here may be a live writer there.
    const dir = fs.mkdtempSync(path.join(tmp, 'foreign-'));
    const file = path.join(dir, 'm.blasnet');
    const dead = await deadPid();
    const foreign = 'f0f0f0f0f0f0' === writerNamespace() ? '0f0f0f0f0f0f' : 'f0f0f0f0f0f0';
    const names = {
      freshForeign: temporaryName('m.blasnet', dead, foreign),
      oldForeign: temporaryName('m.blasnet', dead, foreign),
      // A live pid here means nothing for another namespace's writer: age alone decides.
      oldForeignLivePid: temporaryName('m.blasnet', process.ppid, foreign),
      // Temporaries of earlier releases name no namespace: a dead pid and an age are both needed.
      freshUntagged: `.m.blasnet.blasnet-tmp-${dead}-0a1b2c3d4e5f`,
      oldUntagged: `.m.blasnet.blasnet-tmp-${dead}-0a1b2c3d4e60`,
      oldUntaggedLive: `.m.blasnet.blasnet-tmp-${process.ppid}-0a1b2c3d4e5f`,
      almostOldForeign: temporaryName('m.blasnet', dead, foreign),
    };
    for (const n of Object.values(names)) fs.writeFileSync(path.join(dir, n), 'x');
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60e3);
    for (const n of [names.oldForeign, names.oldForeignLivePid, names.oldUntagged, names.oldUntaggedLive]) fs.utimesSync(path.join(dir, n), ago(16), ago(16));
    fs.utimesSync(path.join(dir, names.almostOldForeign), ago(14), ago(14));
    saveModel(file, small());
    const left = new Set(fs.readdirSync(dir));
    for (const k of ['oldForeign', 'oldForeignLivePid', 'oldUntagged'] as const) assert.ok(!left.has(names[k]), `${k} was kept`);
    for (const k of ['freshForeign', 'freshUntagged', 'oldUntaggedLive', 'almostOldForeign'] as const) assert.ok(left.has(names[k]), `${k} was removed`);
    assert.equal(loadModel(file).model.params.length, small().params.length);
  });
});

describe('long file names', () => {
  // Names as long as a file system allows (255 bytes): the temporary beside the target must fit too.
  const names = {
    '230 ASCII characters': `${'m'.repeat(222)}.blasnet`,
    '255 bytes': `${'n'.repeat(247)}.blasnet`,
    '251 bytes of two-byte characters': `${'\u00e9'.repeat(120)}${'x'.repeat(3)}.blasnet`,
  };
  for (const [what, name] of Object.entries(names)) {
    it(`saveModel, saveSafetensors, exportOnnx and writeIdx write a name of ${what}`, () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'long-'));
      const file = path.join(dir, name);
      assert.ok(Buffer.byteLength(name) <= 255);
      const m = small(3);
      saveModel(file, m);
      assert.deepEqual(loadModel(file).model.params, m.params);
      saveSafetensors(m, file);
      assert.ok(fs.readFileSync(file).readUInt32LE(0) > 0, 'a safetensors header');
      exportOnnx(m, file);
      assert.ok(fs.statSync(file).size > 100);
      writeIdx(file, Uint8Array.of(4, 5));
      assert.deepEqual(Array.from(readIdx(file).data), [4, 5]);
      assert.deepEqual(fs.readdirSync(dir), [name]);
    });
  }

  it('the temporary of a long name stays within 255 bytes, names its target recognisably, and is removed when its writer is dead', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'long-stale-'));
    const long = `${'\u00e9'.repeat(120)}.blasnet`;
    const dead = await deadPid();
    const ns = writerNamespace();
    const tmpName = temporaryName(long, dead, ns);
    assert.ok(Buffer.byteLength(tmpName) <= 255, `${Buffer.byteLength(tmpName)} bytes`);
    assert.ok(tmpName.startsWith(`.${'\u00e9'.repeat(90)}`), tmpName);
    // Two long names that share their first 240 bytes still have temporaries of their own.
    const sibling = `${'\u00e9'.repeat(120)}.other`;
    const siblingTmp = temporaryName(sibling, dead, ns);
    assert.notEqual(tmpName.split('.blasnet-tmp-')[0], siblingTmp.split('.blasnet-tmp-')[0]);
    fs.writeFileSync(path.join(dir, tmpName), 'x');
    fs.writeFileSync(path.join(dir, siblingTmp), 'x');
    saveModel(path.join(dir, long), small());
    assert.deepEqual(fs.readdirSync(dir).sort(), [long, siblingTmp].sort());
  });

  it('a name over 255 bytes fails with ERR_BLASNET_IO naming it, before anything is written', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'too-long-'));
    const file = path.join(dir, `${'z'.repeat(300)}.blasnet`);
    throwsCode(() => saveModel(file, small()), 'ERR_BLASNET_IO', undefined, 'z'.repeat(300));
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('hostile model files', () => {
  it('a layer far larger than the payload is rejected before anything is built', () => {
    // 1e6 x 1e6 weights: building it first would fail to allocate, or take minutes.
    for (const [inputSize, units] of [[10000, 25000], [1e6, 1e6]]) {
      const bytes = encode({ format: 'blasnet-model', library: 'x', model: { inputSize, seed: 0, layers: [{ kind: 'dense', units }], loss: null },
        params: new Float32Array(1), buffers: [] });
      throwsCode(() => decodeModel(bytes), 'ERR_BLASNET_FORMAT', undefined, 'parameters');
      const file = path.join(tmp, `layer-${units}.blasnet`);
      fs.writeFileSync(file, bytes);
      throwsCode(() => loadModel(file), 'ERR_BLASNET_FORMAT', undefined, 'parameters');
    }
    const bn = encode({ format: 'blasnet-model', library: 'x', model: { inputSize: 2e9, seed: 0, layers: [{ kind: 'batchNorm' }], loss: null },
      params: new Float32Array(4), buffers: [] });
    throwsCode(() => decodeModel(bn), 'ERR_BLASNET_FORMAT', undefined, 'parameters');
  });

  it('a layer kind or option that is a long array is ERR_BLASNET_FORMAT with a short message', () => {
    const long = new Array(1000000).fill(7);
    for (const [layer, mentions] of [[{ kind: long }, 'unknown layer kind [7, 7'], [{ kind: 'dense', units: long }, 'units but received [7, 7']] as const) {
      const bytes = encode({ format: 'blasnet-model', library: 'x', model: { inputSize: 2, seed: 0, layers: [layer], loss: null }, params: new Float32Array(0), buffers: [] });
      let message = '';
      try {
        decodeModel(bytes);
      } catch (e) {
        assert.equal((e as Error & { code?: string }).code, 'ERR_BLASNET_FORMAT');
        message = (e as Error).message;
      }
      assert.ok(message.includes(mentions) && message.length < 300, message.slice(0, 400));
    }
  });

  it('too many layers are rejected even when the file is consistent', function () {
    this.timeout(60000);
    const layers = Array.from({ length: 100000 }, () => ({ kind: 'activation', fn: 'relu', param: 0, name: null }));
    const bytes = encode({ format: 'blasnet-model', library: 'x', model: { inputSize: 2, seed: 0, layers, loss: null }, params: new Float32Array(0), buffers: [] });
    throwsCode(() => decodeModel(bytes), 'ERR_BLASNET_FORMAT', undefined, 'layers');
    const many = new Sequential({ inputSize: 2, backend: 'js', layers: Array.from({ length: 4097 }, () => activation('relu')) });
    throwsCode(() => encodeModel(many), 'ERR_BLASNET_ARG_RANGE', RangeError, '4096 layers');
  });

  it('a 2 GB file with bad magic bytes is rejected after reading its prefix', () => {
    const file = path.join(tmp, 'huge.blasnet');
    fs.writeFileSync(file, 'NOTBLASNET');
    fs.truncateSync(file, 2 ** 31);
    try {
      throwsCode(() => loadModel(file), 'ERR_BLASNET_FORMAT', undefined, 'magic');
      // The same with a valid prefix whose sizes disagree with the file's.
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, container('{}'), 0, 32, 0);
      fs.closeSync(fd);
      throwsCode(() => loadModel(file), 'ERR_BLASNET_FORMAT', undefined, 'expected');
    } finally {
      fs.unlinkSync(file);
    }
  });

  it('declared sizes beyond the file or the limits are rejected from the prefix', () => {
    const bytes = container('{"format":"blasnet-model"}');
    const cases: [number, (b: Buffer) => void, string][] = [
      [12, (b) => b.writeUInt32LE(0xffffffff, 12), 'header of'],
      [12, (b) => b.writeUInt32LE(1000, 12), 'expected'],
      [24, (b) => b.writeBigUInt64LE(2n ** 63n, 24), 'expected'],
    ];
    for (const [, edit, mentions] of cases) {
      const b = Buffer.from(bytes);
      edit(b);
      throwsCode(() => decodeModel(b), 'ERR_BLASNET_FORMAT', undefined, mentions);
    }
  });

  it('a header nested 5000 deep fails with ERR_BLASNET_FORMAT; writing one fails with ERR_BLASNET_ARG_TYPE', () => {
    const deep = `{"format":"blasnet-model","metadata":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    throwsCode(() => decodeModel(container(deep)), 'ERR_BLASNET_FORMAT', undefined, 'deeper');
    throwsCode(() => decode(container(deep)), 'ERR_BLASNET_FORMAT', undefined, 'deeper');
    // Brackets inside strings are text, not nesting.
    assert.equal((decode(container(`{"s":"${'['.repeat(5000)}\\"["}`)) as { s: string }).s.length, 5002);
    for (const depth of [300, 5000]) {
      let nested: unknown = 1;
      for (let i = 0; i < depth; i++) nested = { a: [nested] };
      throwsCode(() => saveModel(path.join(tmp, 'deep.blasnet'), small(), { metadata: { nested } }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'saveModel');
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'deep.blasnet')));
  });

  it('/dev/zero, a FIFO and a directory fail fast with ERR_BLASNET_IO', function () {
    this.timeout(30000);
    const fifo = path.join(tmp, 'read-fifo');
    execFileSync('mkfifo', [fifo]);
    // In a child: before this was fixed, /dev/zero aborted the process and the FIFO blocked forever.
    for (const [file, kind] of [['/dev/zero', 'character device'], [fifo, 'FIFO'], [tmp, 'directory']]) {
      const r = inChild(`loadModel(${JSON.stringify(file)})`);
      assert.equal(r.code, 'ERR_BLASNET_IO', JSON.stringify(r));
      assert.ok(r.message?.includes(kind), r.message);
    }
  });
});

describe('metadata round trips', () => {
  it('keys and values that look like the format\'s markers come back exactly, with no prototype change', () => {
    const metadata = JSON.parse(`{"$tensor": 1, "$number": "NaN", "$$two": 2, "$": "dollar", "__proto__": {"polluted": true}, "constructor": "c",
      "value": {"$tensor": 0, "length": 3}, "num": {"$number": "Infinity"}, "list": [{"$x": [{"$tensor": "y"}]}], "toString": 5}`) as Record<string, unknown>;
    metadata.tensor = new Float32Array([1, NaN, -Infinity]);
    metadata.inf = -Infinity;
    const file = path.join(tmp, 'meta.blasnet');
    saveModel(file, small(), { metadata, optimizer: { $tensor: 'not one', arena: new Float32Array([2]) } });
    const loaded = loadModel(file);
    const back = loaded.metadata as Record<string, unknown>;
    assert.deepStrictEqual(back, metadata);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyNames(back).sort(), Object.keys(metadata).sort());
    assert.equal((back as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    assert.deepStrictEqual(loaded.optimizer, { $tensor: 'not one', arena: new Float32Array([2]) });
    assert.deepStrictEqual(decode(encode(metadata)), metadata);
  });

  it('-0 and boxed numbers come back as the numbers they are', () => {
    // JSON writes -0 as 0 and a boxed NaN or infinity as null.
    const metadata = { zero: -0, list: [-0, 0, 1], boxed: new Number(NaN), boxedInf: new Number(-Infinity), boxedZero: new Number(-0), boxedOne: new Number(1.5) };
    const file = path.join(tmp, 'numbers.blasnet');
    saveModel(file, small(), { metadata });
    const back = loadModel(file).metadata as Record<string, unknown>;
    assert.deepStrictEqual(back, { zero: -0, list: [-0, 0, 1], boxed: NaN, boxedInf: -Infinity, boxedZero: -0, boxedOne: 1.5 });
    assert.ok(Object.is(back.zero, -0) && Object.is((back.list as number[])[0], -0) && Object.is((back.list as number[])[1], 0));
  });

  it('an unknown "$" key or a malformed marker in a current file fails with ERR_BLASNET_FORMAT', () => {
    throwsCode(() => decode(container('{"$other": 1}')), 'ERR_BLASNET_FORMAT', undefined, '$other');
    throwsCode(() => decode(container('{"a": {"$number": "5"}}')), 'ERR_BLASNET_FORMAT', undefined, 'malformed');
    throwsCode(() => decode(container('{"a": {"$tensor": 0, "length": 0, "x": 1}}')), 'ERR_BLASNET_FORMAT', undefined, 'malformed');
  });

  it('files of format version 1 still load exactly', () => {
    // Written by blasnet 0.1.0 (format version 1): parameters (i - 20) / 16, buffer k value k + i / 8.
    const file = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'v1-model.blasnet');
    assert.equal(fs.readFileSync(file).readUInt32LE(8), 1);
    const loaded = loadModel(file);
    const m = loaded.model;
    assert.equal(m.params.length, 35);
    assert.deepEqual(Array.from(m.params), Array.from({ length: 35 }, (_, i) => (i - 20) / 16));
    m.buffers().forEach((b, k) => assert.deepEqual(Array.from(b.data), Array.from(b.data, (_, i) => k + i / 8)));
    assert.equal(m.layers[0].name, 'hidden');
    assert.deepStrictEqual(loaded.metadata, { epochs: 3, note: 'v1', loss: [0.5, NaN, Infinity], nested: { deep: [{ t: new Float32Array([1, 2.5]) }] } });
    assert.deepStrictEqual(loaded.schedule, { count: 2 });
    const opt = createOptimizer({ name: 'adam', lr: 0.5 }, m);
    opt.load(loaded.optimizer as Parameters<typeof opt.load>[0]);
    assert.equal(opt.lr, 0.01);
  });
});

describe('metadata that cannot be stored', () => {
  it('a cycle, a BigInt, a throwing toJSON, or what JSON would change silently fails with ERR_BLASNET_ARG_TYPE and writes nothing', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'unstorable-'));
    const file = path.join(dir, 'm.blasnet');
    saveModel(file, small());
    const before = fs.readFileSync(file);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cyclicEscaped: Record<string, unknown> = { $a: 1 };
    cyclicEscaped.self = { back: cyclicEscaped };
    const bad: Record<string, unknown>[] = [
      { cyclic }, { cyclicEscaped }, { big: 10n }, { when: { toJSON() { throw new Error('no'); } } },
    ];
    for (const metadata of bad) {
      throwsCode(() => saveModel(file, small(2), { metadata }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'saveModel');
      throwsCode(() => encodeModel(small(2), { metadata }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'encodeModel');
    }
    // JSON would store these as {"0": 3, ...}, {} or nothing at all.
    const changed: [Record<string, unknown>, string][] = [
      [{ counts: new Int32Array([3, 4]) }, '"counts" is a Int32Array; only Float32Arrays are stored'],
      [{ x: new Float64Array(2) }, '"x" is a Float64Array'],
      [{ raw: new Uint8Array(2) }, '"raw" is a Uint8Array'],
      [{ buf: new ArrayBuffer(8) }, '"buf" is a ArrayBuffer'],
      [{ names: new Map([['a', 1]]) }, '"names" is a Map'],
      [{ seen: new Set([1]) }, '"seen" is a Set'],
      // Even with a toJSON of its own (vega-lite gives every Set one, process-wide).
      [{ tagged: new (class extends Set { toJSON() { return 'Set(1)'; } })([1]) }, '"tagged" is a Set'],
      [{ onLoad() { return 1; } }, '"onLoad" is a function'],
      [{ tag: Symbol('t') }, '"tag" is a symbol'],
    ];
    for (const [metadata, message] of changed) {
      throwsCode(() => saveModel(file, small(2), { metadata }), 'ERR_BLASNET_ARG_TYPE', TypeError, message);
    }
    // Float32Arrays, plain arrays and objects, and a Date through its toJSON, are stored.
    const other = path.join(dir, 'kept.blasnet');
    saveModel(other, small(2), { metadata: { w: new Float32Array([1, 2]), list: [1, 'a'], when: new Date(0) } });
    assert.deepEqual(loadModel(other, { backend: 'js' }).metadata, { w: new Float32Array([1, 2]), list: [1, 'a'], when: '1970-01-01T00:00:00.000Z' });
    fs.rmSync(other);
    assert.ok(fs.readFileSync(file).equals(before));
    assert.deepEqual(temporaries(dir), []);
  });
});

describe('optimiser state in model files', () => {
  it('is stored in the binary payload, loads back as a Float32Array and restores the optimiser exactly', () => {
    const m = new Sequential({ inputSize: 20, seed: 3, backend: 'js', loss: 'mse', layers: [dense(50, { activation: 'tanh' }), dense(4)] });
    const opt = createOptimizer({ name: 'adam', lr: 0.01, amsgrad: true }, m);
    const rng = new Rng(6);
    for (let i = 0; i < 3; i++) {
      m.lossAndGradient(rng.uniformArray(8 * 20), rng.uniformArray(8 * 4));
      opt.step();
    }
    const state = opt.state();
    const bytes = encodeModel(m, { optimizer: state });
    const headerLength = bytes.readUInt32LE(12);
    // 3 slots of 1254 floats would take 20 kB of base64 in the header.
    assert.ok(headerLength < 2000, `header of ${headerLength} bytes`);
    assert.equal(bytes.length, 32 + headerLength + ((4 - (headerLength % 4)) % 4) + 4 * (m.params.length + state.slots * state.size));
    const loaded = decodeModel(bytes).optimizer as typeof state;
    assert.ok(loaded.arena instanceof Float32Array);
    assert.deepEqual(loaded.arena, new Float32Array(new Uint8Array(Buffer.from(state.arena as string, 'base64')).buffer));
    const again = createOptimizer({ name: 'adam', lr: 1 }, m);
    again.load(loaded);
    assert.deepStrictEqual(again.state(), state);
    // An arena that does not match its declared size is not taken for one: kept as it is.
    const other = { name: 'x', slots: 1, size: 2, arena: 'AAAAAA==' };
    assert.deepStrictEqual(decodeModel(encodeModel(m, { optimizer: other })).optimizer, other);
  });
});

describe('model file arguments', () => {
  it('wrong argument types fail with ERR_BLASNET_ARG_TYPE; a plain Uint8Array decodes', () => {
    const file = path.join(tmp, 'args.blasnet');
    throwsCode(() => saveModel(123 as unknown as string, small()), 'ERR_BLASNET_ARG_TYPE', TypeError, 'saveModel');
    throwsCode(() => saveModel(file, {} as Sequential), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Sequential');
    throwsCode(() => saveModel(file, small(), null as unknown as object), 'ERR_BLASNET_ARG_TYPE', TypeError, 'extras');
    throwsCode(() => loadModel(undefined as unknown as string), 'ERR_BLASNET_ARG_TYPE', TypeError, 'loadModel');
    throwsCode(() => decodeModel('bytes' as unknown as Buffer), 'ERR_BLASNET_ARG_TYPE', TypeError, 'decodeModel');
    assert.ok(!fs.existsSync(file));
    const m = small(5);
    assert.deepEqual(decodeModel(new Uint8Array(encodeModel(m))).model.params, m.params);
  });
});
