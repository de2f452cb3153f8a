/**
 * Search trials over a BullMQ job queue on Redis, for searches that outgrow one machine. The
 * coordinator (search with `queue`) stores the trial data once in Redis as a binary blob keyed by
 * its SHA-256, enqueues each trial as a job of plain data (configuration, epochs, seed, the data's
 * key), and gathers the rows the workers return; `blasnet worker` processes on any number of
 * machines take the jobs and run them in worker threads (so BullMQ's lock renewal keeps running
 * while a trial trains). The best configuration is retrained by a worker too, and its model file
 * comes back through Redis. A worker that dies mid-trial leaves its job locked until the lock
 * expires; another worker's stalled-job check then puts it back in the queue (BullMQ's stalled
 * job retry), so the search still gets every row.
 *
 * bullmq and ioredis are optional dependencies, loaded only here and only when a queue is used.
 */
import { createHash, randomUUID } from 'crypto';
import type { EventEmitter } from 'events';
import type { BackendName } from '../backend/select';
import { checkOptionKeys, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import type { Sequential } from '../model/sequential';
import { sharedArray } from '../typed';
import { modelFromFile, threadsPerWorker, workerRunner } from './runner';
import type { ThreadRunner, TrialRunner } from './runner';
import { failedRow, SEARCH_METRICS } from './trial';
import type { SearchMetric, Trial, TrialData, TrialResult } from './trial';

/**
 * Where the trials go: a Redis URL (`redis://host:port`, `rediss://` for TLS, with
 * `user:password@` and `/db` as Redis URLs have them), or `{ url, name }` to pick the queue's
 * name (default 'blasnet-search'; workers must listen on the same name) and how long to wait for
 * the first connection (`connectTimeoutMs`, default 3000). A search also looks at each job it waits
 * for every `checkMs` (default 5000): one that has ended while its event went unheard is read
 * then, and one that has gone (a Redis server restarted without persistence, a queue emptied by
 * hand) fails its trial instead of being waited for forever.
 */
export type QueueSpec = string | { url: string; name?: string; connectTimeoutMs?: number; checkMs?: number };

/** The queue name used when a QueueSpec gives none. */
export const DEFAULT_QUEUE_NAME = 'blasnet-search';

/** How long the data blob and a returned model file stay in Redis, in seconds. */
const DATA_TTL_SECONDS = 24 * 3600;
const MODEL_TTL_SECONDS = 3600;

interface ResolvedQueue { url: string; name: string; connectTimeoutMs: number; checkMs: number }

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Checks a QueueSpec: a redis:// or rediss:// URL, a queue name BullMQ accepts, a positive timeout. */
export function resolveQueue(where: string, spec: unknown): ResolvedQueue {
  const o = typeof spec === 'string' ? { url: spec } : spec;
  if (!o || typeof o !== 'object' || typeof (o as { url?: unknown }).url !== 'string') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Redis URL or { url, name } for queue but received ${show(spec)}`);
  }
  if (typeof spec !== 'string') checkOptionKeys(where, o, { url: true, name: true, connectTimeoutMs: true, checkMs: true }, 'queue');
  const { url, name = DEFAULT_QUEUE_NAME, connectTimeoutMs = 3000, checkMs = 5000 } = o as { url: string; name?: unknown; connectTimeoutMs?: unknown; checkMs?: unknown };
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || !parsed.hostname) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected a redis://host:port URL for queue but received ${shown(url)}`);
  }
  // BullMQ joins its keys with ':', so a name holding one would collide with other queues' keys.
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected a queue name of letters, digits, '_', '.' or '-' but received ${show(name)}`);
  }
  if (!(typeof connectTimeoutMs === 'number' && connectTimeoutMs > 0 && Number.isFinite(connectTimeoutMs))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive number for queue.connectTimeoutMs but received ${show(connectTimeoutMs)}`);
  }
  if (!(typeof checkMs === 'number' && checkMs >= 10 && checkMs <= 2 ** 31 - 1)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected a number of ms in [10, 2^31 - 1] for queue.checkMs but received ${show(checkMs)}`);
  }
  return { url, name, connectTimeoutMs, checkMs };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type BullMQ = typeof import('bullmq');
type RedisClient = import('ioredis').Redis;
type RedisClass = new (url: string, options: Record<string, unknown>) => RedisClient;

/** bullmq and ioredis, or ERR_BLASNET_DEPENDENCY naming the command that installs them. */
function queuePackages(where: string): { bullmq: BullMQ; Redis: RedisClass } {
  const load = (name: string): any => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return require(name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
      throw new BlasnetError(ErrorCode.DEPENDENCY,
        `${where}: the optional package ${name} is not installed, so trials cannot go through a queue; install it with \`npm install bullmq ioredis\``);
    }
  };
  const bullmq = load('bullmq') as BullMQ;
  const ioredis = load('ioredis');
  return { bullmq, Redis: (ioredis.Redis ?? ioredis.default ?? ioredis) as RedisClass };
}

/**
 * A Redis client that has answered PING within the connect timeout, or ERR_BLASNET_IO. Once
 * connected it reconnects after a dropped connection as ioredis does; before, it gives up at once.
 */
async function connectRedis(where: string, q: ResolvedQueue, Redis: RedisClass): Promise<RedisClient> {
  let ready = false;
  const client = new Redis(q.url, {
    // A refused connection's socket never closes after end(): ioredis's wait for it (2 s by
    // default) would keep the process alive that long after the error.
    lazyConnect: true, connectTimeout: q.connectTimeoutMs, maxRetriesPerRequest: null, disconnectTimeout: 100,
    retryStrategy: (times: number) => (ready ? Math.min(times * 200, 2000) : null),
  });
  let lastError: Error | null = null;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    await Promise.race([
      // The database the URL names (redis://host:port/3) is selected on connect, but a number past
      // the server's databases fails there only on 'error', and commands then run on database 0:
      // selected again here, so that the failure rejects.
      client.connect().then(async () => {
        const db = client.options.db ?? 0;
        if (db !== 0) await client.select(db);
        return client.ping();
      }),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${q.connectTimeoutMs} ms`)), q.connectTimeoutMs).unref()),
    ]);
    ready = true;
    return client;
  } catch (e) {
    client.disconnect();
    // ioredis reports the cause (ECONNREFUSED, ENOTFOUND, NOAUTH) on 'error' and only 'Connection is closed' to connect.
    const why = (lastError as Error | null)?.message || (e as Error).message || String(e);
    throw new BlasnetError(ErrorCode.IO, `${where}: cannot reach Redis at ${shown(q.url)}: ${why}`, { cause: e });
  }
}

/** BullMQ connection options for a URL: commands wait for a reconnect instead of failing. */
function connection(q: ResolvedQueue): Record<string, unknown> {
  return { url: q.url, maxRetriesPerRequest: null, connectTimeout: q.connectTimeoutMs };
}

const MAGIC = 'BNSD1';

/**
 * @internal The trial data as one binary blob: magic, a JSON header (the scalar fields and each
 * typed array's name, type and length), then the arrays' bytes, 4-byte aligned.
 */
export function encodeTrialData(data: TrialData): Buffer {
  const fields: Record<string, unknown> = {};
  const arrays: { name: string; type: 'f32' | 'i32'; length: number }[] = [];
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (v instanceof Float32Array || v instanceof Int32Array) {
      arrays.push({ name: k, type: v instanceof Float32Array ? 'f32' : 'i32', length: v.length });
      parts.push(Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)));
    } else {
      fields[k] = v;
    }
  }
  let header = Buffer.from(JSON.stringify({ fields, arrays }));
  header = Buffer.concat([header, Buffer.alloc((4 - ((MAGIC.length + 4 + header.length) % 4)) % 4, 0x20)]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([Buffer.from(MAGIC), length, header, ...parts]);
}

/** @internal The trial data back from encodeTrialData's blob, on shared memory (for worker threads). */
export function decodeTrialData(blob: Buffer, source: string): TrialData {
  const fail = (why: string): never => {
    throw new BlasnetError(ErrorCode.FORMAT, `${source}: not search data: ${why}`);
  };
  if (blob.length < MAGIC.length + 4 || blob.subarray(0, MAGIC.length).toString() !== MAGIC) fail('bad magic');
  const headerLength = blob.readUInt32LE(MAGIC.length);
  let offset = MAGIC.length + 4 + headerLength;
  if (offset > blob.length) fail('truncated header');
  let header: { fields: Record<string, unknown>; arrays: { name: string; type: string; length: number }[] };
  try {
    header = JSON.parse(blob.subarray(MAGIC.length + 4, offset).toString());
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!header || typeof header !== 'object' || !header.fields || typeof header.fields !== 'object' || !Array.isArray(header.arrays)) fail('malformed header');
  const out: Record<string, unknown> = { ...header.fields };
  for (const a of header.arrays) {
    if (!a || typeof a !== 'object' || typeof a.name !== 'string' || !Number.isSafeInteger(a.length) || a.length < 0 || (a.type !== 'f32' && a.type !== 'i32')) {
      fail(`bad array ${show(a?.name)}`);
    }
    const bytes = 4 * a.length;
    if (offset + bytes > blob.length) fail(`truncated array ${show(a.name)}`);
    const array = a.type === 'f32' ? sharedArray('Float32Array', a.length, { where: source }) : sharedArray('Int32Array', a.length, { where: source });
    new Uint8Array(array.buffer).set(blob.subarray(offset, offset + bytes));
    out[a.name] = array;
    offset += bytes;
  }
  const d = out as unknown as TrialData;
  if (!(d.x instanceof Float32Array) || !(d.folds instanceof Int32Array) || !d.y || d.x.length !== d.rows * d.cols || d.folds.length !== d.rows) fail('inconsistent shapes');
  return d;
}

/** What a queue job carries: plain data only (the trial data is referenced by its Redis key). */
interface QueueJob {
  kind: 'trial' | 'refit';
  search: string;
  data: string;
  backend: BackendName;
  build: { module: string; name: string } | null;
  metric: SearchMetric;
  trialTimeMs?: number;
  trial?: Trial;
  best?: TrialResult;
}

/** A row as JSON keeps it (NaN becomes null) and back. */
function rowToJSON(r: TrialResult): Record<string, unknown> {
  return { ...r, score: Number.isFinite(r.score) ? r.score : null };
}
function rowFromJSON(v: unknown, trial: Trial): TrialResult {
  const r = v as Record<string, unknown> | null;
  if (!r || typeof r !== 'object' || r.index !== trial.index) {
    return failedRow(trial, 'the worker returned no row for this trial');
  }
  return { ...(r as unknown as TrialResult), score: typeof r.score === 'number' ? r.score : NaN };
}

/** How long each part of a coordinator's close waits for Redis, in ms. */
const CLOSE_WAIT_MS = 3000;

/** Whether `p` settled within CLOSE_WAIT_MS. */
function withinCloseWait(p: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.then(() => true, () => true), new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS);
  })]).finally(() => clearTimeout(timer));
}

/**
 * @internal The coordinator's runner: connects (ERR_BLASNET_IO when Redis cannot be reached, before any
 * trial), stores the data, and runs each trial as a job. `note` hears when no worker listens yet.
 */
export async function queueRunner(data: TrialData, spec: QueueSpec, options: {
  backend: BackendName; build: { module: string; name: string } | null; metric: SearchMetric; trialTimeMs?: number; note?: (line: string) => void;
}): Promise<TrialRunner> {
  const where = 'search';
  const q = resolveQueue(where, spec);
  const { bullmq, Redis } = queuePackages(where);
  const redis = await connectRedis(where, q, Redis);
  const blob = encodeTrialData(data);
  const dataKey = `blasnet:data:${createHash('sha256').update(blob).digest('hex')}`;
  const searchId = randomUUID();
  let queue: InstanceType<BullMQ['Queue']> | null = null;
  let events: InstanceType<BullMQ['QueueEvents']> | null = null;
  // The queue's own connections' errors (Redis gone while the search runs; BullMQ reconnects):
  // one line each, once a minute at most, rather than BullMQ's report of an unheard 'error' (a
  // stack trace every second or two).
  const heard = new Map<string, number>();
  const onError = (e: Error): void => {
    const now = Date.now(), last = heard.get(e.message);
    if (last !== undefined && now - last < 60000) return;
    heard.set(e.message, now);
    options.note?.(`search: queue ${q.name} at ${shown(q.url)}: ${e.message}; trials wait until Redis answers again (ERR_BLASNET_IO)`);
  };
  try {
    // Identical data (the same rows and folds) is one key, shared by the searches that use it.
    await redis.set(dataKey, blob, 'EX', DATA_TTL_SECONDS);
    queue = new bullmq.Queue(q.name, { connection: connection(q) as never });
    (queue as unknown as EventEmitter).on('error', onError);
    events = new bullmq.QueueEvents(q.name, { connection: connection(q) as never });
    (events as unknown as EventEmitter).on('error', onError);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    if (options.note && (await queue.getWorkersCount()) === 0) {
      options.note(`search: no worker listens on queue ${q.name} at ${shown(q.url)} yet; trials wait until one does (blasnet worker --queue ${shown(q.url)}${q.name === DEFAULT_QUEUE_NAME ? '' : ` --queue-name ${q.name}`})`);
    }
  } catch (e) {
    await Promise.allSettled([queue?.close(), events?.close()]);
    redis.disconnect();
    if (e instanceof BlasnetError) throw e;
    throw new BlasnetError(ErrorCode.IO, `${where}: queue ${q.name} at ${shown(q.url)}: ${(e as Error).message}`, { cause: e });
  }
  const theQueue = queue;
  const theEvents = events;
  // Every trial's wait listens on both for its end: a stage of hundreds of trials is expected.
  theQueue.setMaxListeners(0);
  theEvents.setMaxListeners(0);
  const base: Omit<QueueJob, 'kind'> = {
    search: searchId, data: dataKey, backend: options.backend, build: options.build, metric: options.metric,
    ...(options.trialTimeMs !== undefined ? { trialTimeMs: options.trialTimeMs } : {}),
  };
  const pending = new Set<string>();
  let closed = false;
  // Jobs being added: close() waits for them, so that one added as the search stops is removed too.
  const inFlight = new Set<Promise<unknown>>();
  const adding = <T extends { id?: string }>(p: Promise<T>): Promise<T> => {
    const tracked = p.then((job) => {
      pending.add(job.id as string);
      return job;
    });
    inFlight.add(tracked);
    void tracked.then(() => inFlight.delete(tracked), () => inFlight.delete(tracked));
    return tracked;
  };
  // Kept until read (removed then): a job that finished before its waiter listened is still found.
  // Those of a coordinator that died go after a day.
  const jobOptions = { attempts: 1, removeOnComplete: { age: DATA_TTL_SECONDS }, removeOnFail: { age: DATA_TTL_SECONDS } };
  // A job's result, from the queue's events, or from the job itself when it had ended before they
  // were heard. (BullMQ's job.waitUntilFinished makes that first check inside a promise of its own,
  // whose rejection, when close() ends the connection meanwhile, nothing can catch.)
  const eventsEmitter = theEvents as unknown as EventEmitter, queueEmitter = theQueue as unknown as EventEmitter;
  const waitFor = (id: string): Promise<unknown> => new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | null = null;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      eventsEmitter.off(`completed:${id}`, onCompleted);
      eventsEmitter.off(`failed:${id}`, onFailed);
      queueEmitter.off('closing', onClosing);
      f();
    };
    const onCompleted = (args: { returnvalue?: unknown }) => settle(() => resolve(args.returnvalue));
    const onFailed = (args: { failedReason?: string }) => settle(() => reject(new Error(args.failedReason ?? `job ${id} failed`)));
    const onClosing = () => settle(() => reject(new Error('the queue was closed')));
    eventsEmitter.on(`completed:${id}`, onCompleted);
    eventsEmitter.on(`failed:${id}`, onFailed);
    queueEmitter.on('closing', onClosing);
    // The job as it stands now, and again every checkMs while the wait lasts.
    const check = (): void => {
      void (async () => {
        await theEvents.waitUntilReady();
        // The state first, then the job: a job read first and finished in between would show the
        // state 'completed' with the snapshot's empty return value.
        const state = await theQueue.getJobState(id);
        if (settled) return;
        if (state === 'unknown') {
          settle(() => reject(new Error(`job ${id} is gone from queue ${q.name} (was the Redis server restarted without persistence, or the queue emptied?)`)));
          return;
        }
        if (state === 'completed' || state === 'failed') {
          const job = await theQueue.getJob(id);
          if (settled) return;
          if (!job) settle(() => reject(new Error(`job ${id} is gone from queue ${q.name} (was the Redis server restarted without persistence, or the queue emptied?)`)));
          else if (state === 'completed') onCompleted({ returnvalue: job.returnvalue });
          else onFailed({ failedReason: job.failedReason });
          return;
        }
        timer = setTimeout(check, q.checkMs);
      })().catch((e: unknown) => {
        // A closed connection: 'closing' has settled the wait, or is about to.
        if (!closed) settle(() => reject(e));
      });
    };
    check();
  });
  const finish = async (job: { id?: string; remove(): Promise<void> }): Promise<unknown> => {
    try {
      return await waitFor(job.id as string);
    } finally {
      pending.delete(job.id as string);
      if (!closed) await job.remove().catch(() => undefined);
    }
  };
  return {
    concurrency: Infinity,
    async run(trial) {
      if (closed) throw new BlasnetError(ErrorCode.STATE, 'queueRunner: closed');
      try {
        const job = await adding(theQueue.add('trial', { ...base, kind: 'trial', trial } satisfies QueueJob, { ...jobOptions, jobId: `${searchId}-${trial.index}` }));
        return rowFromJSON(await finish(job), trial);
      } catch (e) {
        return failedRow(trial, `queue: ${(e as Error).message}`);
      }
    },
    async refit(best): Promise<Sequential | null> {
      const job = await adding(theQueue.add('refit', { ...base, kind: 'refit', best: rowToJSON(best) as unknown as TrialResult } satisfies QueueJob, { ...jobOptions, jobId: `${searchId}-refit` }));
      let reply: { model?: string; maskState?: unknown; unsupported?: boolean };
      try {
        reply = (await finish(job)) as typeof reply;
      } catch (e) {
        throw new BlasnetError(ErrorCode.STATE, `search: retraining the best configuration on a worker failed: ${(e as Error).message}`, { cause: e });
      }
      if (reply?.unsupported === true) return null;
      const bytes = reply && typeof reply.model === 'string' ? await redis.getBuffer(reply.model) : null;
      if (!bytes) throw new BlasnetError(ErrorCode.STATE, 'search: the worker that retrained the best configuration returned no model file');
      await redis.del(reply.model as string);
      const sent = reply.maskState;
      const maskState = Array.isArray(sent) && sent.every((v) => v === null || typeof v === 'number') ? sent.map((v) => (v === null ? NaN : v as number)) : [];
      return modelFromFile({ bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), maskState }, options.backend, `${reply.model} (Redis)`);
    },
    async close() {
      closed = true;
      // Jobs no worker has taken yet go (those still being added, once they are); a job a worker
      // runs ends there and is dropped. Each part waits CLOSE_WAIT_MS at most, and once one has
      // not answered in time the rest are not asked: with Redis gone, its commands would wait for
      // it forever (a cancelled search must end); the jobs left then expire with the data.
      const answered = await withinCloseWait(Promise.allSettled([...inFlight])) &&
        await withinCloseWait(Promise.allSettled([...pending].map((id) => theQueue.remove(id)))) &&
        await withinCloseWait(Promise.allSettled([theEvents.close(), theQueue.close()]));
      if (!answered) {
        // Connections still reconnecting, or an events loop not told to close (a server that
        // hangs rather than refuses), would keep the process alive: both are closed without
        // waiting for Redis, then disconnected.
        void theEvents.close().catch(() => undefined);
        void theQueue.close().catch(() => undefined);
        await withinCloseWait(Promise.allSettled([theEvents.disconnect(), theQueue.disconnect()]));
        redis.disconnect();
        return;
      }
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Options of startQueueWorker. */
export interface QueueWorkerOptions {
  /** The queue to take trials from (as search's `queue`). */
  queue: QueueSpec;
  /** Trials run at once, each in its own worker thread. Default 1. */
  concurrency?: number;
  /** Kernel threads per trial (native backend). Default floor(cores / concurrency). */
  threads?: number;
  /**
   * How long a taken job stays locked without renewal (BullMQ's lockDuration), in ms: a worker
   * that dies loses its job to another after about this long. Default 30000.
   */
  lockMs?: number;
  /** How often this worker looks for stalled jobs (BullMQ's stalledInterval), in ms. Default 30000. */
  stalledMs?: number;
  /** Hears a line when a job starts and ends. */
  log?: (line: string) => void;
}

/** A running queue worker. */
export interface QueueWorker {
  /** Stops taking jobs, waits for the running ones, and frees everything. */
  close(): Promise<void>;
}

function positive(where: string, name: string, v: unknown, integer: boolean): number {
  if (!(typeof v === 'number' && v > 0 && Number.isFinite(v) && (!integer || Number.isInteger(v)))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive ${integer ? 'integer' : 'number'} for ${name} but received ${show(v)}`);
  }
  return v;
}

function checkJob(v: unknown): QueueJob {
  const j = v as QueueJob;
  const ok = j && typeof j === 'object' && (j.kind === 'trial' || j.kind === 'refit') && typeof j.search === 'string'
    && typeof j.data === 'string' && j.data.startsWith('blasnet:data:') && (j.backend === 'js' || j.backend === 'native')
    && Object.prototype.hasOwnProperty.call(SEARCH_METRICS, j.metric)
    && (j.kind === 'trial' ? !!j.trial && typeof j.trial === 'object' : !!j.best && typeof j.best === 'object');
  if (!ok) throw new BlasnetError(ErrorCode.FORMAT, 'worker: the job is not a blasnet search job');
  return j;
}

const QUEUE_WORKER_OPTIONS: OptionKeys<QueueWorkerOptions> = { queue: true, concurrency: true, threads: true, lockMs: true, stalledMs: true, log: true };

/**
 * Takes search jobs from a queue until closed: each trial runs in a worker thread on the trial
 * data fetched once from Redis (kept while jobs of that search keep coming); a retrained best
 * model goes back as a model file in Redis (key `blasnet:model:<search id>`, kept an hour or
 * until the search reads it). Connects first: ERR_BLASNET_IO when Redis cannot be reached.
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const where = 'worker';
  if (!options || typeof options !== 'object' || Array.isArray(options)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { queue, ... }`);
  checkOptionKeys(where, options, QUEUE_WORKER_OPTIONS);
  const q = resolveQueue(where, options.queue);
  const concurrency = positive(where, 'concurrency', options.concurrency ?? 1, true);
  const threads = positive(where, 'threads', options.threads ?? threadsPerWorker(concurrency), true);
  const lockMs = positive(where, 'lockMs', options.lockMs ?? 30000, false);
  const stalledMs = positive(where, 'stalledMs', options.stalledMs ?? 30000, false);
  const log = options.log ?? (() => undefined);
  if (typeof log !== 'function') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a function for log but received ${typeName(log)}`);
  const { bullmq, Redis } = queuePackages(where);
  const redis = await connectRedis(where, q, Redis);

  interface Pool { runner: ThreadRunner; running: number; used: number }
  const pools = new Map<string, Pool>();
  const dataCache = new Map<string, Promise<TrialData>>();
  const poolFor = async (job: QueueJob): Promise<Pool> => {
    const key = JSON.stringify([job.data, job.backend, job.build, job.metric, job.trialTimeMs ?? null]);
    let pool = pools.get(key);
    if (!pool) {
      let data = dataCache.get(job.data);
      if (!data) {
        data = redis.getBuffer(job.data).then((blob) => {
          if (!blob) throw new BlasnetError(ErrorCode.IO, `worker: the search data ${job.data} is not in Redis (expired or deleted)`);
          return decodeTrialData(blob, job.data);
        });
        dataCache.set(job.data, data);
        data.catch(() => dataCache.delete(job.data));
      }
      const d = await data;
      pool = pools.get(key);
      if (!pool) {
        pool = {
          runner: workerRunner(d, { workers: concurrency, threads, backend: job.backend, build: job.build, metric: job.metric, ...(job.trialTimeMs !== undefined ? { trialTimeMs: job.trialTimeMs } : {}) }),
          running: 0, used: 0,
        };
        pools.set(key, pool);
      }
    }
    pool.used = Date.now();
    // Threads of searches that no longer send jobs go (their data with them), keeping the newest.
    for (const [k, p] of pools) {
      if (k !== key && p.running === 0 && pools.size > 2) {
        pools.delete(k);
        void p.runner.close();
        const dataKey = JSON.parse(k)[0] as string;
        if (![...pools.keys()].some((other) => JSON.parse(other)[0] === dataKey)) dataCache.delete(dataKey);
      }
    }
    return pool;
  };

  const worker = new bullmq.Worker(q.name, async (bullJob) => {
    const job = checkJob(bullJob.data);
    const what = job.kind === 'trial' ? `trial ${(job.trial as Trial).index}` : 'refit';
    log(`job ${bullJob.id}: ${what} started (attempt ${bullJob.attemptsStarted})`);
    const pool = await poolFor(job);
    pool.running++;
    try {
      if (job.kind === 'trial') {
        const row = await pool.runner.run(job.trial as Trial);
        log(`job ${bullJob.id}: ${what} ${row.status} ${Number.isFinite(row.score) ? row.score.toPrecision(4) : '-'} in ${row.seconds.toFixed(2)} s`);
        return rowToJSON(row);
      }
      const best = job.best as TrialResult;
      let file: Awaited<ReturnType<typeof pool.runner.refitFile>>;
      try {
        file = await pool.runner.refitFile({ ...best, score: typeof best.score === 'number' ? best.score : NaN });
      } catch (e) {
        // A worker lost mid-retrain says so itself; the retrain's own error gets the context.
        throw e instanceof BlasnetError ? e : new BlasnetError(ErrorCode.STATE, `search: retraining the best configuration failed: ${(e as Error).message}`);
      }
      // A model no file carries whole: the coordinator retrains it itself.
      if (!file) {
        log(`job ${bullJob.id}: ${what}: the model holds what a model file does not carry; the coordinator retrains it`);
        return { unsupported: true };
      }
      const modelKey = `blasnet:model:${job.search}`;
      await redis.set(modelKey, Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength), 'EX', MODEL_TTL_SECONDS);
      log(`job ${bullJob.id}: ${what} done, model in ${modelKey}`);
      // As JSON (BullMQ's return values are), the state's NaN (no spare normal) travels as null.
      return { model: modelKey, maskState: file.maskState.map((v) => (Number.isNaN(v) ? null : v)) };
    } finally {
      pool.running--;
    }
  }, { connection: connection(q) as never, concurrency, lockDuration: lockMs, stalledInterval: stalledMs, autorun: true });
  worker.on('error', (e) => log(`worker: ${e.message}`));
  try {
    await worker.waitUntilReady();
  } catch (e) {
    await worker.close(true).catch(() => undefined);
    redis.disconnect();
    throw new BlasnetError(ErrorCode.IO, `${where}: queue ${q.name} at ${shown(q.url)}: ${(e as Error).message}`, { cause: e });
  }
  log(`worker: listening on queue ${q.name} at ${shown(q.url)}, ${concurrency} trial(s) at once, ${threads} kernel thread(s) each`);
  let closing: Promise<void> | null = null;
  return {
    close() {
      closing ??= (async () => {
        await worker.close();
        await Promise.all([...pools.values()].map((p) => p.runner.close()));
        pools.clear();
        dataCache.clear();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
