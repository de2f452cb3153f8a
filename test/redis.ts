/**
 * A Redis server for the queue tests: BLASNET_TEST_REDIS (a redis:// URL; .ci/run starts one and
 * sets it), else a redis-server this process starts on a free localhost port with no persistence
 * and stops when it exits, else none: the tests then skip, except under CI=true, where a missing
 * Redis fails them.
 */
import { spawn, spawnSync } from 'child_process';
import type { ChildProcess } from 'child_process';
import * as net from 'net';

let started: Promise<string | null> | null = null;
let server: ChildProcess | null = null;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function startServer(): Promise<string | null> {
  if (process.env.BLASNET_TEST_REDIS) return process.env.BLASNET_TEST_REDIS;
  const own = await ownRedis();
  if (!own) return null;
  server = own.child;
  return own.url;
}

/**
 * A redis-server of the caller's own on a free localhost port, with no persistence, killed when
 * this process exits (or by the caller, to take Redis away from a client); null when redis-server
 * is not installed.
 */
export async function ownRedis(): Promise<{ url: string; child: ChildProcess } | null> {
  if (spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status !== 0) return null;
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}: ${out}`));
    });
  });
  child.stdout?.resume();
  child.unref();
  return { url: `redis://127.0.0.1:${port}`, child };
}

/**
 * The test Redis's URL, or null after `ctx.skip()` (with a line saying why) when there is none.
 * Under CI=true no Redis is an error.
 */
export async function testRedis(ctx: Mocha.Context): Promise<string> {
  started ??= startServer();
  const url = await started;
  if (url) return url;
  const why = 'no Redis: set BLASNET_TEST_REDIS=redis://host:port or install redis-server (apt-get install redis-server)';
  if (process.env.CI === 'true') throw new Error(`${why}; the queue tests must run under CI`);
  process.stdout.write(`      skipped: ${why}\n`);
  ctx.skip();
  throw new Error('unreachable');
}

/** Stops the redis-server this process started, if any. */
export function stopTestRedis(): void {
  server?.kill('SIGTERM');
  server = null;
  started = null;
}
