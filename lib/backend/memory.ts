/**
 * Float32Arrays whose first element starts on a 64-byte boundary (a cache line, an AVX-512
 * vector), for the arrays the native kernels stream through every training step: a model's
 * parameter and gradient arenas, its layers' workspaces, the batch buffers and the optimiser's
 * state. OpenBLAS's small-matrix kernels read their operands in place, and with operands 16 or 32
 * bytes off a cache line (where V8 puts a large buffer: just past the allocator's 16-byte header)
 * every vector load splits across two lines; a batch-32 forward GEMM 32x256x784 took 120-126 us
 * on one core that way against 85 us aligned (bench/RESULTS.md, run V).
 *
 * JavaScript cannot see an address, so the native addon reports where a buffer starts once it has
 * loaded (setAddressProbe); until then, and with the js backend alone, arrays are allocated as
 * usual. An aligned array is a view 0-60 bytes into a buffer 60 bytes longer than it needs.
 */
import { BlasnetError, ErrorCode } from '../errors';

let probe: ((x: Float32Array) => number) | null = null;

/** The native backend registers its addon's addressOffset here when it loads. @internal */
export function setAddressProbe(addressOffset: (x: Float32Array) => number): void {
  probe = addressOffset;
}

/** What an allocation that failed was for, in memoryError's message. */
export interface AllocationContext {
  /** The function the user called: the message starts with it. */
  where?: string;
  /** What the buffer was to hold ("its copy of x"). */
  what?: string;
  /** The element type, of 4 bytes each; float32 when not given. */
  type?: 'float32' | 'int32';
}

/**
 * ERR_BLASNET_MEMORY for an allocation of n 4-byte values that failed with `cause` (V8's
 * RangeError: "Array buffer allocation failed", or a length past the largest array).
 */
export function memoryError(n: number, cause: unknown, context: AllocationContext = {}): BlasnetError {
  const gb = (4 * n) / 2 ** 30;
  const { where, what, type = 'float32' } = context;
  return new BlasnetError(ErrorCode.MEMORY, `${where ? `${where}: ` : ''}cannot allocate ${n} ${type} values ` +
    `(${gb >= 0.1 ? `${gb.toFixed(1)} GB` : `${4 * n} bytes`})${what ? ` for ${what}` : ''}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

/** A zeroed Float32Array of n values; ERR_BLASNET_MEMORY (memoryError) when it cannot be allocated. */
export function newFloat32Array(n: number, context?: AllocationContext): Float32Array<ArrayBuffer> {
  try {
    return new Float32Array(n);
  } catch (e) {
    throw memoryError(n, e, context);
  }
}

/** The most values a typed array holds in this runtime (V8's limit: 2^32 in Node 20). */
export const MAX_TYPED_LENGTH = 2 ** 32;

/** The alignment, in bytes. */
export const ALIGNMENT = 64;

/**
 * A zeroed Float32Array of n values, on a SharedArrayBuffer when `shared`, whose first element
 * is 64-byte aligned once the native addon has loaded.
 */
export function alignedFloat32Array(n: number): Float32Array<ArrayBuffer>;
export function alignedFloat32Array(n: number, shared: true): Float32Array<SharedArrayBuffer>;
export function alignedFloat32Array(n: number, shared = false): Float32Array {
  const spare = probe === null ? 0 : ALIGNMENT / 4 - 1;
  // Past the largest typed array the buffer may still be had (16 GB of shared memory), and the
  // view of it then fails with V8's uncoded RangeError: refused before either.
  if (!(n <= MAX_TYPED_LENGTH)) throw memoryError(n, new RangeError(`more than the ${MAX_TYPED_LENGTH} values a typed array holds`));
  let buffer: ArrayBuffer | SharedArrayBuffer;
  try {
    buffer = shared ? new SharedArrayBuffer(4 * (n + spare)) : new ArrayBuffer(4 * (n + spare));
  } catch (e) {
    throw memoryError(n, e);
  }
  if (probe === null) return new Float32Array(buffer);
  const past = probe(new Float32Array(buffer, 0, 1));
  const skip = ((ALIGNMENT - past) % ALIGNMENT) / 4;
  // A buffer not even 4-byte aligned would leave a fraction of a float; it stays as it is then.
  return new Float32Array(buffer, Number.isInteger(skip) ? 4 * skip : 0, n);
}

/**
 * Maps x's memory now rather than on its first write: writes back one value of every 4 KB page,
 * unchanged. For an arena allocated long before its first use (a model's gradients, which the
 * first training step would otherwise fault in page by page). Not for memory another thread may
 * be writing. prefault does the same in one system call where it can.
 */
export function touchPages(x: Float32Array): void {
  // Through 32-bit integers, so that every bit pattern (a NaN's payload too) is written back as it was.
  const bits = new Int32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < bits.length; i += 1024) bits[i] = bits[i];
  // The last page, which a stride from an offset inside a page can step over.
  if (bits.length > 0) bits[bits.length - 1] = bits[bits.length - 1];
}

/*
 * Large buffers: a data set read from disk, its float32 conversion, a Dataset's shared copy.
 * Filling fresh memory costs a page fault per 4 KB page; on some virtual machines a fault takes
 * 11-15 us, and loading Fashion-MNIST's training set and copying it into a Dataset took 1.7 s
 * and 122,000 faults. With the memory advised for transparent huge pages before its first
 * write, one fault covers 2 MB (bench/RESULTS.md, run X). JavaScript cannot advise memory, so the
 * native addon does (adviseHugePages); it is loaded for that unless BLASNET_BACKEND=js, and
 * BLASNET_HUGE_PAGES=0 turns the advice off (a kernel that compacts memory to find huge pages
 * can stall a fault for longer on a fragmented machine).
 */

let advise: ((x: ArrayBufferView) => number) | null = null;
let loadAdvisor: (() => void) | null = null;

/** The native backend registers its addon's adviseHugePages here when it loads. @internal */
export function setHugePageAdvisor(adviseHugePages: (x: ArrayBufferView) => number): void {
  advise = adviseHugePages;
}

/** lib/backend/select.ts registers how to load the addon when a large buffer wants advice. @internal */
export function setHugePageAdvisorLoader(load: () => void): void {
  loadAdvisor = load;
}

/** Buffers of at least this many bytes are advised: the smallest size that always holds a whole 2 MB page. */
export const LARGE_BUFFER_BYTES = 4 << 20;

/**
 * Advises x's memory for transparent huge pages when x holds at least LARGE_BUFFER_BYTES, the
 * native addon loads and BLASNET_HUGE_PAGES is not 0; call it before x's first write. Returns the
 * bytes advised (0 when none were). A hint: x's contents and use are unchanged.
 */
export function adviseLargeBuffer(x: ArrayBufferView): number {
  if (x.byteLength < LARGE_BUFFER_BYTES || process.env.BLASNET_HUGE_PAGES === '0') return 0;
  if (advise === null && loadAdvisor !== null) {
    const load = loadAdvisor;
    loadAdvisor = null;
    load();
  }
  return advise === null ? 0 : advise(x);
}

/**
 * A zeroed Float32Array of n values, on a SharedArrayBuffer when `shared`, advised as
 * adviseLargeBuffer says and mapped at once (see prefault): for a buffer about to be filled whole.
 */
export function largeFloat32Array(n: number): Float32Array<ArrayBuffer>;
export function largeFloat32Array(n: number, shared: true): Float32Array<SharedArrayBuffer>;
export function largeFloat32Array(n: number, shared = false): Float32Array {
  let out: Float32Array;
  try {
    out = shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
  } catch (e) {
    throw memoryError(n, e);
  }
  adviseLargeBuffer(out);
  prefault(out);
  return out;
}

/*
 * Fresh memory is mapped page by page at its first write, one page fault per 4 KB page; on some
 * virtual machines a fault costs about 10 us. The addon's populatePages maps a buffer's pages in
 * one system call (madvise MADV_POPULATE_WRITE, Linux 5.14 and later): on such a machine 0.8 us a
 * page, and the first write after it about 5 us, against 10.5 us for a faulting write
 * (bench/RESULTS.md, run AB: a reference MLP builds and compiles 1.5x faster). It is used once the
 * addon has loaded (the native backend, or a large buffer's huge-page advice); BLASNET_PREFAULT=0
 * turns it off.
 */

let populate: ((x: ArrayBufferView) => number) | null = null;

/** The native backend registers its addon's populatePages here when it loads. @internal */
export function setPagePopulator(populatePages: (x: ArrayBufferView) => number): void {
  populate = populatePages;
}

/**
 * Maps x's pages now, in one system call, for a buffer about to be written whole (a workspace,
 * a batch buffer, an arena). Returns the bytes mapped: 0 when the addon has not loaded, the kernel
 * cannot, or BLASNET_PREFAULT is 0; the pages are then mapped by their first write, as usual.
 * x's contents are unchanged, and another thread may use x meanwhile.
 */
export function prefault(x: ArrayBufferView): number {
  if (populate === null || x.byteLength < 4096 || process.env.BLASNET_PREFAULT === '0') return 0;
  return populate(x);
}

/*
 * Memory kept for reuse. On such a virtual machine a page costs about 5 us at its first write even
 * when it was mapped ahead, so a buffer that lives for one fit call (the divergence snapshot, the
 * batch buffers) would pay for its pages again in every call: several milliseconds of a small
 * fit's set-up. fit takes those buffers with takeFloat32Array and gives them back with
 * releaseFloat32Array when it returns; the next call that asks for a size a spare buffer holds
 * (up to twice the size asked) gets that buffer, its pages already written. Spare buffers are
 * kept up to SPARE_BYTES in all per thread, the oldest dropped first.
 */

/** The most bytes of spare buffers kept for reuse (per thread: each worker has its own). */
export const SPARE_BYTES = 32 << 20;

const spares: Float32Array<ArrayBuffer>[] = [];
let spareBytes = 0;
/** The whole buffer behind each array takeFloat32Array returned and that is not yet given back. */
const taken = new WeakMap<Float32Array, Float32Array<ArrayBuffer>>();

/**
 * A Float32Array of n values, 64-byte aligned as alignedFloat32Array's, for a buffer its user
 * writes whole before reading: a spare buffer given back earlier when one can hold n values (its
 * contents are then whatever it last held), else a fresh zeroed one, mapped ahead (prefault).
 */
export function takeFloat32Array(n: number): Float32Array<ArrayBuffer> {
  let best = -1;
  for (let i = 0; i < spares.length; i++) {
    const c = spares[i].length;
    if (c >= n && c <= 2 * n && (best < 0 || c < spares[best].length)) best = i;
  }
  let whole: Float32Array<ArrayBuffer>;
  if (best >= 0) {
    whole = spares.splice(best, 1)[0];
    spareBytes -= whole.byteLength;
  } else {
    whole = alignedFloat32Array(n);
    prefault(whole);
  }
  const out = whole.length === n ? whole : whole.subarray(0, n);
  taken.set(out, whole);
  return out;
}

/**
 * Gives back an array takeFloat32Array returned, for a later call to reuse: its user must hold no
 * reference to it any more. Anything else, or an array given back already, is ignored.
 */
export function releaseFloat32Array(x: Float32Array): void {
  const whole = taken.get(x);
  if (whole === undefined) return;
  taken.delete(x);
  if (whole.byteLength > SPARE_BYTES) return;
  spares.push(whole);
  spareBytes += whole.byteLength;
  while (spareBytes > SPARE_BYTES) spareBytes -= (spares.shift() as Float32Array).byteLength;
}

/** Drops every spare buffer: the next takeFloat32Array calls get fresh memory. @internal */
export function dropSpareBuffers(): void {
  spares.length = 0;
  spareBytes = 0;
}

/** A copy of x in an array from takeFloat32Array. */
export function takenCopy(x: Float32Array): Float32Array<ArrayBuffer> {
  const out = takeFloat32Array(x.length);
  out.set(x);
  return out;
}
