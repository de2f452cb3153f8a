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

let probe: ((x: Float32Array) => number) | null = null;

/** The native backend registers its addon's addressOffset here when it loads. @internal */
export function setAddressProbe(addressOffset: (x: Float32Array) => number): void {
  probe = addressOffset;
}

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
  const buffer = shared ? new SharedArrayBuffer(4 * (n + spare)) : new ArrayBuffer(4 * (n + spare));
  if (probe === null) return new Float32Array(buffer);
  const past = probe(new Float32Array(buffer, 0, 1));
  const skip = ((ALIGNMENT - past) % ALIGNMENT) / 4;
  // A buffer not even 4-byte aligned would leave a fraction of a float; it stays as it is then.
  return new Float32Array(buffer, Number.isInteger(skip) ? 4 * skip : 0, n);
}
