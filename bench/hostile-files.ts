/**
 * How long loadModel takes to reject crafted model files, and how much memory it touches doing
 * so: a 180-byte file declaring a 25000x10000 layer, 100,000 layers, a 2 GB sparse file with bad
 * magic bytes, a header nested 5000 deep, and /dev/zero. Each is loaded 5 times in this process;
 * the median time and the largest growth of the resident set are reported.
 *
 *   node dist/bench/hostile-files.js
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel } from '../lib';
import { encode } from '../lib/io/format';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-hostile-'));
const file = (name: string, bytes: Uint8Array | string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
};
const model = (inputSize: number, layers: unknown[]) =>
  encode({ format: 'blasnet-model', library: 'x', model: { inputSize, seed: 0, layers, loss: null }, params: new Float32Array(1), buffers: [] });
function nested(depth: number): Buffer {
  const json = `{"format":"blasnet-model","x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  const header = Buffer.from(json);
  const pad = (4 - (header.length % 4)) % 4;
  const out = Buffer.alloc(32 + header.length + pad);
  out.write('BLASNET\0', 0, 'latin1');
  out.writeUInt32LE(2, 8);
  out.writeUInt32LE(header.length, 12);
  out.writeUInt32LE(require('zlib').crc32(header), 16);
  out.writeUInt32LE(require('zlib').crc32(Buffer.alloc(0)), 20);
  header.copy(out, 32);
  return out;
}
const huge = file('huge.blasnet', 'NOTBLASNET');
fs.truncateSync(huge, 2 ** 31);
const cases: [string, string][] = [
  ['one 25000x10000 dense layer, 180 bytes', file('layer.blasnet', model(10000, [{ kind: 'dense', units: 25000 }]))],
  ['100,000 layers (3.4 MB of header)', file('layers.blasnet', model(2, Array.from({ length: 100000 }, () => ({ kind: 'activation', fn: 'relu', param: 0, name: null }))))],
  ['2 GB sparse file, bad magic bytes', huge],
  ['header nested 5000 deep', file('nested.blasnet', nested(5000))],
  ['/dev/zero', '/dev/zero'],
];
process.stdout.write(`| crafted file | rejected with | median ms (min-max) of 5 | largest RSS growth |\n| --- | --- | --- | --- |\n`);
for (const [what, p] of cases) {
  const times: number[] = [];
  let code = '', grow = 0;
  for (let i = 0; i < 5; i++) {
    const r0 = process.memoryUsage().rss;
    const t0 = process.hrtime.bigint();
    try {
      loadModel(p);
    } catch (e) {
      code = `${(e as { code?: string }).code}: ${(e as Error).message.replace(/^.*?: /, '').slice(0, 60)}`;
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    grow = Math.max(grow, process.memoryUsage().rss - r0);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`| ${what} | ${code} | ${times[2].toFixed(1)} (${times[0].toFixed(1)}-${times[4].toFixed(1)}) | ${(grow / 1e6).toFixed(1)} MB |\n`);
}
process.stdout.write(`\n${os.cpus()[0].model}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}\n`);
fs.rmSync(dir, { recursive: true, force: true });
