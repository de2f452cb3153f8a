/**
 * The IDX format of MNIST and its relatives, and loaders for MNIST-like image sets.
 *
 * An IDX file is: two zero bytes, a type code, the number of dimensions d, then d big-endian
 * uint32 sizes, then the values, big-endian, in row-major order. Files may be gzip-compressed
 * (recognised by their 1f 8b magic, whatever their name).
 */
import { constants as bufferConstants } from 'buffer';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { adviseLargeBuffer, LARGE_BUFFER_BYTES, largeFloat32Array } from '../backend/memory';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { fileBuffer, openRegularFile, writeFileAtomic } from '../io/format';
import { Matrix } from '../tensor';
import { typedArrayTag } from '../typed';
import { bool, options as checkOptions, refuseDetached, show } from './check';

/** The element types of IDX files, by name. */
export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** The typed array that holds each IDX type. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX file: element type, dimensions and values (row-major, native byte order). */
export interface Idx {
  type: IdxType;
  dims: number[];
  data: IdxData;
}

interface TypeDef {
  code: number;
  size: number;
  array: new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => IdxData;
}

/** Type code, element size in bytes and array class of each IDX type (codes from the MNIST page). */
export const IDX_TYPES: Readonly<Record<IdxType, Readonly<TypeDef>>> = Object.freeze({
  uint8: { code: 0x08, size: 1, array: Uint8Array },
  int8: { code: 0x09, size: 1, array: Int8Array },
  int16: { code: 0x0b, size: 2, array: Int16Array },
  int32: { code: 0x0c, size: 4, array: Int32Array },
  float32: { code: 0x0d, size: 4, array: Float32Array },
  float64: { code: 0x0e, size: 8, array: Float64Array },
});

const BY_CODE = new Map<number, IdxType>(
  (Object.keys(IDX_TYPES) as IdxType[]).map((t) => [IDX_TYPES[t].code, t]));

const TYPE_BY_TAG: Record<string, IdxType> = {
  Uint8Array: 'uint8', Int8Array: 'int8', Int16Array: 'int16', Int32Array: 'int32', Float32Array: 'float32',
  Float64Array: 'float64',
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dataError(source: string, message: string): BlasnetError {
  return new BlasnetError(ErrorCode.DATA, `${source}: ${message}`);
}

/**
 * Reads a whole file; a missing or unreadable file, or one that is not a regular file (a FIFO,
 * which would block until a writer comes, or a device such as /dev/zero, which never ends), is
 * ERR_BLASNET_IO naming the path.
 */
export function readBytes(file: string, fn: string): Buffer {
  if (typeof file !== 'string' || file === '') {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a file path (non-empty string) but received ${show(file)}`);
  }
  try {
    return readWhole(file);
  } catch (e) {
    const err = ((e as { cause?: unknown }).cause ?? e) as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new BlasnetError(ErrorCode.IO, `${fn}: cannot read ${file}: no such file`);
    throw new BlasnetError(ErrorCode.IO, e instanceof BlasnetError ? `${fn}: ${e.message}` : `${fn}: cannot read ${file}: ${err.message}`);
  }
}

/** The largest file read whole, as fs.readFileSync allows. */
const MAX_FILE_BYTES = 2 ** 31 - 1;

/**
 * The bytes of a regular file (openRegularFile refuses anything else), a large one in memory
 * advised for huge pages; a file that grows while it is read is read to its end, as
 * fs.readFileSync would.
 */
function readWhole(file: string): Buffer {
  const { fd, size } = openRegularFile(file);
  try {
    if (size > MAX_FILE_BYTES) throw new Error(`it is ${size} bytes, more than the ${MAX_FILE_BYTES} read at once`);
    let bytes: Uint8Array;
    if (size < LARGE_BUFFER_BYTES) {
      bytes = Buffer.allocUnsafe(size);
    } else {
      bytes = new Uint8Array(size);
      adviseLargeBuffer(bytes);
    }
    let got = 0;
    for (let n = 1; got < size && n > 0; got += n) n = fs.readSync(fd, bytes, got, size - got, got);
    const head = Buffer.from(bytes.buffer, bytes.byteOffset, got);
    if (got < size) return head;
    const rest: Buffer[] = [];
    for (let total = got; ;) {
      const piece = Buffer.allocUnsafe(64 * 1024);
      const n = fs.readSync(fd, piece, 0, piece.length, total);
      if (n === 0) break;
      total += n;
      if (total > MAX_FILE_BYTES) throw new Error(`it grew past the ${MAX_FILE_BYTES} bytes read at once while it was read`);
      rest.push(piece.subarray(0, n));
    }
    return rest.length === 0 ? head : Buffer.concat([head, ...rest]);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The most a look at the start of gzip data inflates. A compressed byte inflates to at most about
 * 1 KB (deflate's 1032:1), so between a prefix that gives less than the longest IDX header
 * (4 + 4 x 255 bytes) and one that gives more than this there is always one that gives a header
 * and not more.
 */
const HEAD_BYTES = 64 * 1024;

function gzipError(source: string, e: unknown): BlasnetError {
  return dataError(source, `corrupt or truncated gzip data (${(e as Error).message})`);
}

/** The bytes an IDX header needs, judged from what of it is there: 4 until its dimension count is known. */
function headerNeeds(head: Uint8Array): number {
  return head.length >= 4 && head[0] === 0 && head[1] === 0 ? 4 + 4 * head[3] : 4;
}

/**
 * The start of gzip data inflated: at least the IDX header it begins with (or all there is), at
 * most HEAD_BYTES. Prefixes of the compressed bytes are inflated, longer while they give less
 * than the header, shorter when they give more than HEAD_BYTES.
 */
function inflateHead(bytes: Uint8Array, source: string): Buffer {
  const options = { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: HEAD_BYTES };
  // Inflating bytes[0, lo) gave too little; bytes[0, hi) too much (hi past the end: not seen yet).
  let lo = 0;
  let hi = bytes.length + 1;
  let k = Math.min(bytes.length, 1024);
  for (;;) {
    let head: Buffer | null = null;
    try {
      head = zlib.gunzipSync(bytes.subarray(0, k), options);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw gzipError(source, e);
    }
    if (head === null) hi = k;
    else if (head.length >= headerNeeds(head) || k === bytes.length) return head;
    else lo = k;
    const next = hi > bytes.length ? Math.min(bytes.length, 2 * k) : Math.floor((lo + hi) / 2);
    if (next <= lo || next >= hi) throw dataError(source, `no IDX header within the first ${HEAD_BYTES} bytes the gzip data inflates to`);
    k = next;
  }
}

/**
 * The bytes themselves, or their gunzipped content when they start with the gzip magic 1f 8b.
 * The IDX header is inflated first, and the rest only up to the size it declares: data that
 * inflates past it (a small file that would fill memory) is ERR_BLASNET_DATA before it does.
 */
function maybeGunzip(bytes: Uint8Array, source: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const head = inflateHead(bytes, source);
  const type = BY_CODE.get(head[2]);
  const header = headerNeeds(head);
  // Not a whole, known IDX header: decodeIdx says what is wrong from these bytes alone.
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0 || type === undefined || head.length < header) return head;
  const dims = Array.from({ length: head[3] }, (_, i) => new DataView(head.buffer, head.byteOffset + 4 + 4 * i, 4).getUint32(0, false));
  const total = header + dims.reduce((a, d) => a * d, 1) * IDX_TYPES[type].size;
  const what = `dims [${dims.join(', ')}] of ${type}`;
  if (total >= bufferConstants.MAX_LENGTH) throw dataError(source, `${what} declare ${total} bytes, more than this process can hold`);
  try {
    // In zlib's 16 KB pieces, joined at the end. Inflating into one buffer of the size the gzip
    // trailer records loaded Fashion-MNIST's training set about 0.1 s faster, but the pieces,
    // freed, leave heap memory already mapped, and the next allocations (a model's arenas, fit's
    // batches and workspaces) reuse it. Without them those took about 2,300 more page faults,
    // 27 ms on a VM where a fault costs 11-15 us, and a one-epoch fit ran 6.7% over a steady
    // epoch instead of 3.2% (bench/RESULTS.md, run X).
    return zlib.gunzipSync(bytes, { maxOutputLength: total + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw dataError(source, `the gzip data inflates to more than the ${total} bytes its header declares (${what}: ${header} bytes of header, ${total - header} of data); stopped there`);
    }
    throw gzipError(source, e);
  }
}

/**
 * Decodes IDX bytes (plain or gzip). With copy false the data of a uint8/int8 file may be a view
 * into `bytes` (the loaders convert it at once, so a 47 MB copy is skipped).
 * @internal
 */
export function decodeIdx(input: Uint8Array, source: string, copy = true): Idx {
  const bytes = maybeGunzip(input, source);
  const n = bytes.length;
  if (n < 4) throw dataError(source, `truncated: ${n} bytes, shorter than the 4-byte IDX magic`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw dataError(source, `wrong magic ${magic}; an IDX file starts with 00 00 <type> <dims>`);
  }
  const type = BY_CODE.get(bytes[2]);
  if (type === undefined) {
    throw dataError(source, `unknown IDX type code 0x${bytes[2].toString(16).padStart(2, '0')}; expected 08 (uint8), 09 (int8), 0b (int16), 0c (int32), 0d (float32) or 0e (float64)`);
  }
  const ndims = bytes[3];
  const header = 4 + 4 * ndims;
  if (n < header) throw dataError(source, `truncated: the header declares ${ndims} dimensions (${header} bytes) but the file has ${n} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const def = IDX_TYPES[type];
  const expected = count * def.size;
  const payload = n - header;
  if (payload < expected) {
    throw dataError(source, `truncated: dims [${dims.join(', ')}] need ${expected} bytes of ${type} data but the file has ${payload}`);
  }
  if (payload > expected) {
    throw dataError(source, `dims [${dims.join(', ')}] (${count} values, ${expected} bytes of ${type}) do not match the payload of ${payload} bytes`);
  }
  return { type, dims, data: convert(bytes, header, count, def, copy) };
}

/** The payload as a typed array in native byte order, in one pass. */
function convert(bytes: Uint8Array, offset: number, count: number, def: TypeDef, copy: boolean): IdxData {
  const size = def.size;
  if (size === 1) {
    const src = bytes.subarray(offset, offset + count);
    if (def.array === Uint8Array) return copy ? new Uint8Array(src) : src;
    return new Int8Array(copy ? new Uint8Array(src).buffer : src.buffer, copy ? 0 : src.byteOffset, count);
  }
  const out = new Uint8Array(count * size);
  adviseLargeBuffer(out);
  if (!LITTLE_ENDIAN) {
    out.set(bytes.subarray(offset, offset + count * size));
  } else {
    // Big-endian to little-endian: reverse the bytes of each element into a fresh, aligned buffer.
    for (let i = 0, s = offset, d = 0; i < count; i++, s += size, d += size) {
      for (let b = 0; b < size; b++) out[d + b] = bytes[s + size - 1 - b];
    }
  }
  return new def.array(out.buffer, 0, count);
}

/**
 * Decodes IDX bytes already in memory (plain or gzip), as readIdx does for a file; `source` names
 * them in error messages (default 'IDX data').
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): Idx {
  if (typedArrayTag(bytes) !== 'Uint8Array') {
    throw typeError(ErrorCode.ARG_TYPE, `parseIdx: Expected Uint8Array (or Buffer) for bytes but received ${show(bytes)}`);
  }
  return decodeIdx(bytes, source);
}

/**
 * Reads an IDX file, plain or gzip-compressed (detected by content, not by name), into
 * { type, dims, data } with data in a typed array of the file's type (uint8 -> Uint8Array,
 * int8 -> Int8Array, int16 -> Int16Array, int32 -> Int32Array, float32 -> Float32Array,
 * float64 -> Float64Array) that owns its memory.
 * A missing or unreadable file is ERR_BLASNET_IO; a truncated file, wrong magic, unknown type or
 * dims whose product does not match the payload is ERR_BLASNET_DATA; both messages name the file.
 */
export function readIdx(file: string): Idx {
  return decodeIdx(readBytes(file, 'readIdx'), file);
}

/**
 * Encodes an array as IDX bytes: big-endian, the type taken from the array's class (Uint8Array
 * -> 0x08, Int8Array -> 0x09, Int16Array -> 0x0B, Int32Array -> 0x0C, Float32Array -> 0x0D,
 * Float64Array -> 0x0E). dims default to [data.length]; their product must equal data.length.
 */
export function encodeIdx(data: IdxData, dims?: number[]): Buffer {
  const fn = 'encodeIdx';
  const tag = typedArrayTag(data);
  const type = tag === undefined ? undefined : TYPE_BY_TAG[tag];
  if (type === undefined) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected Uint8Array, Int8Array, Int16Array, Int32Array, Float32Array or Float64Array for data but received ${show(data)}`);
  }
  refuseDetached(fn, 'data', data);
  dims ??= [data.length];
  if (!Array.isArray(dims) || dims.length > 255 || dims.some((d) => !(Number.isInteger(d) && d >= 0 && d <= 0xffffffff))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected dims to be at most 255 integers in [0, 2^32) but received ${show(dims)}`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw rangeError(ErrorCode.SHAPE, `${fn}: dims [${dims.join(', ')}] hold ${count} values but data has ${data.length}`);
  }
  const def = IDX_TYPES[type];
  const header = 4 + 4 * dims.length;
  const out = fileBuffer(fn, header + count * def.size, 'write the data in parts, one file each');
  out[2] = def.code;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  const src = new Uint8Array(data.buffer, data.byteOffset, count * def.size);
  if (!LITTLE_ENDIAN || def.size === 1) {
    out.set(src, header);
  } else {
    for (let i = 0, s = 0, d = header; i < count; i++, s += def.size, d += def.size) {
      for (let b = 0; b < def.size; b++) out[d + b] = src[s + def.size - 1 - b];
    }
  }
  return out;
}

/**
 * Writes an IDX file (gzip-compressed when `gzip` is true; default false). See encodeIdx. The file
 * is replaced atomically, as saveModel replaces a model (writeFileAtomic): a failed write is
 * ERR_BLASNET_IO naming the file and leaves an existing file as it was; only a regular file (or a
 * symbolic link to one) is replaced.
 */
export function writeIdx(file: string, data: IdxData, dims?: number[], options: { gzip?: boolean } = {}): void {
  if (typeof file !== 'string' || file === '') throw typeError(ErrorCode.ARG_TYPE, `writeIdx: Expected a file path for file but received ${show(file)}`);
  const gzip = bool('writeIdx', 'options.gzip', checkOptions('writeIdx', options, { gzip: true }).gzip ?? false);
  const bytes = encodeIdx(data, dims);
  writeFileAtomic(file, gzip ? zlib.gzipSync(bytes) : bytes);
}

/** Options of loadMnistLike and loadFashionMnist. */
export interface MnistOptions {
  /** Which part: 'train' (train-*) or 'test' (t10k-*). Default 'train'. */
  split?: 'train' | 'test';
  /** Scale pixels to [0, 1] (divide by 255). Default true; false keeps the raw 0..255 values. */
  normalize?: boolean;
}

/** An image classification set: one flattened image per row of x. */
export interface MnistLike {
  /** [n, height * width] float32 pixels, row-major within each image. */
  x: Matrix;
  /** The class of each image, in [0, classes). */
  labels: Int32Array;
  /** The number of classes (10). */
  classes: number;
  /** [height, width] of each image (28 x 28 for MNIST). */
  imageShape: [number, number];
  /** The files read, as found (plain or .gz), for messages that name them. */
  files: { images: string; labels: string };
}

/** `dir/name` or `dir/name.gz`, whichever exists (the plain file first). */
function findFile(fn: string, dir: string, name: string): string {
  const plain = path.join(dir, name);
  if (fs.existsSync(plain)) return plain;
  const gz = `${plain}.gz`;
  if (fs.existsSync(gz)) return gz;
  throw new BlasnetError(ErrorCode.IO, `${fn}: neither ${plain} nor ${gz} exists`);
}

// Byte value -> float: a table makes the conversion one load per pixel and the result exactly
// v / 255 (the same float a division gives).
const SCALED = Float32Array.from({ length: 256 }, (_, v) => v / 255);
const RAW = Float32Array.from({ length: 256 }, (_, v) => v);

/**
 * Loads an MNIST-like image set from `dir`: `train-images-idx3-ubyte` and
 * `train-labels-idx1-ubyte` (split 'train') or `t10k-*` (split 'test'), each plain or with `.gz`.
 * Returns x [n, h * w] float32 (pixel / 255 when normalize, the default), labels Int32Array,
 * classes 10, the image shape and the two files' paths. The images must be uint8 [n, h, w] and
 * the labels uint8 [n] in 0..9, else ERR_BLASNET_DATA (a bad label named by its row, numbered from
 * 1 as blasnet predict numbers images); missing files are ERR_BLASNET_IO.
 */
export function loadMnistLike(dir: string, options?: MnistOptions): MnistLike {
  return readMnistLike(dir, options, false);
}

/**
 * loadMnistLike with the pixels on a SharedArrayBuffer, which fitAsync's worker reads in place
 * rather than copying them there first.
 * @internal
 */
export function loadMnistLikeShared(dir: string, options?: MnistOptions): MnistLike {
  return readMnistLike(dir, options, true);
}

function readMnistLike(dir: string, options: MnistOptions | undefined, shared: boolean): MnistLike {
  const fn = 'loadMnistLike';
  if (typeof dir !== 'string' || dir === '') {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a directory path (non-empty string) for dir but received ${show(dir)}`);
  }
  const opts = checkOptions(fn, options, { split: true, normalize: true });
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test') {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected 'train' or 'test' for options.split but received ${show(split)}`);
  }
  const normalize = bool(fn, 'options.normalize', opts.normalize ?? true);
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesFile = findFile(fn, dir, `${prefix}-images-idx3-ubyte`);
  const labelsFile = findFile(fn, dir, `${prefix}-labels-idx1-ubyte`);

  const images = decodeIdx(readBytes(imagesFile, fn), imagesFile, false);
  if (images.type !== 'uint8' || images.dims.length !== 3) {
    throw dataError(imagesFile, `expected uint8 images [n, height, width] but found ${images.type} [${images.dims.join(', ')}]`);
  }
  const labelsIdx = decodeIdx(readBytes(labelsFile, fn), labelsFile, false);
  if (labelsIdx.type !== 'uint8' || labelsIdx.dims.length !== 1) {
    throw dataError(labelsFile, `expected uint8 labels [n] but found ${labelsIdx.type} [${labelsIdx.dims.join(', ')}]`);
  }
  const [n, h, w] = images.dims;
  if (labelsIdx.dims[0] !== n) {
    throw dataError(labelsFile, `${labelsIdx.dims[0]} labels for the ${n} images of ${imagesFile}`);
  }
  const classes = 10;
  const src = labelsIdx.data as Uint8Array;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = src[i];
    if (l >= classes) throw dataError(labelsFile, `label ${l} at row ${i + 1} is outside 0..${classes - 1}`);
    labels[i] = l;
  }
  const pixels = images.data as Uint8Array;
  const table = normalize ? SCALED : RAW;
  const data = shared ? largeFloat32Array(pixels.length, true) : largeFloat32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) data[i] = table[pixels[i]];
  return { x: new Matrix(data, n, h * w), labels, classes, imageShape: [h, w], files: { images: imagesFile, labels: labelsFile } };
}

/** Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The ten Fashion-MNIST classes, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);

/**
 * Loads Fashion-MNIST (Zalando; 60000 training and 10000 test images of 28 x 28, 10 classes) as
 * loadMnistLike does, from `options.dir` (default FASHION_MNIST_DIR, where Debian's
 * `dataset-fashion-mnist` puts it), adding the class names.
 */
export function loadFashionMnist(options?: MnistOptions & { dir?: string }): MnistLike & { classNames: readonly string[] } {
  const opts = checkOptions('loadFashionMnist', options, { dir: true, split: true, normalize: true });
  const { dir = FASHION_MNIST_DIR, ...rest } = opts;
  return { ...loadMnistLike(dir, rest), classNames: FASHION_MNIST_CLASSES };
}
