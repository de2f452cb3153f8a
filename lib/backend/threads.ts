/**
 * The native kernel pool is one per process: the runs that set its thread count while they run
 * (fitAsync workers, searches over worker threads) share one record of who holds it, so that the
 * count the process had before the first of them started comes back when the last one ends,
 * whichever kinds they are and in whatever order they end.
 */

/** The part of the native backend the record sets. */
export interface ThreadPool {
  getNumThreads(): number;
  setNumThreads(n: number): void;
}

/**
 * What a holder wants of the pool: a share (fitAsync: the count the process had, divided among
 * the sharing holders) or a fixed count (a search's threads per worker).
 */
export type ThreadWant = { readonly share: true } | { readonly fixed: number };

/** One run's hold on the pool (its own object, so that two runs wanting the same are two holders). */
interface Holder {
  readonly want: ThreadWant;
}

const holders = new Set<Holder>();
/** The count the pool had when the first holder took it. */
let before = 0;

/**
 * The pool's count while these holders run: the least any of them wants, a share being
 * max(1, floor(before / sharing holders)). With none, the count it had before.
 */
function apply(pool: ThreadPool): void {
  if (holders.size === 0) {
    pool.setNumThreads(before);
    return;
  }
  let sharing = 0;
  for (const h of holders) if ('share' in h.want) sharing++;
  let n = Infinity;
  for (const h of holders) n = Math.min(n, 'share' in h.want ? Math.max(1, Math.floor(before / sharing)) : h.want.fixed);
  pool.setNumThreads(n);
}

/**
 * Takes the pool for one run and returns what gives it back (once; later calls do nothing). While
 * n fitAsync workers run alone, the pool has max(1, floor(t / n)) threads, t being the count when
 * the first of them started; a search's fixed count, while it runs, caps that; the last holder
 * to end restores t.
 * @internal
 */
export function holdThreads(pool: ThreadPool, want: ThreadWant): () => void {
  if (holders.size === 0) before = pool.getNumThreads();
  const h: Holder = { want };
  holders.add(h);
  apply(pool);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders.delete(h);
    apply(pool);
  };
}
