/**
 * The blasnet file format: a small binary container for a JSON header plus float32 tensors.
 *
 *   bytes 0-7    "BLASNET\0"
 *   bytes 8-11   format version (uint32 LE)
 *   bytes 12-15  header length H (uint32 LE)
 *   bytes 16-19  CRC-32 of the header (uint32 LE)
 *   bytes 20-23  CRC-32 of the payload (uint32 LE)
 *   bytes 24-31  payload length P (uint64 LE)
 *   H bytes      header: UTF-8 JSON
 *   padding      zeros up to a multiple of 4
 *   P bytes      payload: the tensors' float32 values, little-endian, one after another
 *
 * Anywhere in the document, a Float32Array is stored in the payload and written in the header as
 * { "$tensor": i, "length": n }, and a NaN, infinity or -0 as { "$number": "NaN" } (readers
 * before -0 was kept refuse "-0" as malformed). Since version 2,
 * every object key the document itself starts with "$" is written with one more "$" ("$tensor"
 * becomes "$$tensor"), so user data can never be mistaken for a marker; version 1 files, which
 * did not escape, are still read as they were written.
 *
 * Reading is bounded by what the file really holds: the 32-byte prefix is checked against the
 * file's size before the header is read, the header's nesting depth and tensor lengths are checked
 * against the payload before anything is built, and only then is the payload read. Both checksums
 * and every length are verified, so a truncated, corrupted or hostile file fails with a coded error
 * instead of yielding wrong numbers or exhausting memory.
 */
import { constants as bufferConstants } from 'buffer';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { show } from '../describe';
import { BlasnetError, ErrorCode, typeError } from '../errors';
import { typedArrayTag, typedLength } from '../typed';

const MAGIC = Buffer.from('BLASNET\0', 'latin1');
const PREFIX = 32;
/** The format version this library writes and the newest it reads. */
export const FORMAT_VERSION = 2;
/**
 * The largest header read, in bytes. Generous because version 1 files kept optimiser state as
 * base64 in the header (256 MiB holds Adam's state for ~24M parameters); newer files keep every
 * tensor in the payload, so their headers stay small.
 */
export const MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** The deepest nesting of arrays and objects a document may have, written or read. */
export const MAX_DEPTH = 256;

/** CRC-32 (IEEE 802.3, as zlib and PNG use), by Node's zlib. */
export function crc32(bytes: Uint8Array): number {
  return zlib.crc32(bytes);
}

function formatError(file: string, message: string): BlasnetError {
  return new BlasnetError(ErrorCode.FORMAT, `${file}: ${message}`);
}

function ioError(file: string, message: string, cause?: unknown): BlasnetError {
  const e = new BlasnetError(ErrorCode.IO, `${file}: ${message}`);
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause, configurable: true, writable: true });
  return e;
}

/**
 * A tensor of a decoded document whose payload has not been read yet: what the `check` callbacks
 * of decode and decodeFile see in place of each Float32Array.
 */
export class TensorRef {
  constructor(readonly index: number, readonly length: number) {}
}

/** The element count of a tensor in a decoded document, read (Float32Array) or not (TensorRef); undefined for anything else. */
export function tensorLength(v: unknown): number | undefined {
  if (v instanceof TensorRef) return v.length;
  return typedArrayTag(v) === 'Float32Array' ? typedLength(v) : undefined;
}

/**
 * Whether the JSON text nests arrays and objects deeper than `max`; strings are skipped. For
 * untrusted JSON, before JSON.parse: a value nested thousands deep overflows the stack of every
 * recursive walk over it (JSON.stringify in a message among them).
 */
export function nestsDeeperThan(json: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** The object with every key that starts with "$" given one more "$"; the object itself if none does. */
function escapeKeys(o: object): object {
  const keys = Object.keys(o);
  if (!keys.some((k) => k.startsWith('$'))) return o;
  // No prototype, so that a "__proto__" key stays an ordinary key.
  const copy = Object.create(null) as Record<string, unknown>;
  for (const k of keys) copy[k.startsWith('$') ? `$${k}` : k] = (o as Record<string, unknown>)[k];
  return copy;
}

/**
 * A zeroed buffer for a whole file of `bytes` bytes. Past the largest Buffer (4 GiB in Node 20)
 * none can be made: ERR_BLASNET_UNSUPPORTED saying so, rather than Node's uncoded
 * ERR_OUT_OF_RANGE; a size that cannot be allocated is ERR_BLASNET_MEMORY.
 * @internal
 */
export function fileBuffer(where: string, bytes: number, advice = 'store the weights in parts (getWeights), or a smaller model'): Buffer {
  if (bytes > bufferConstants.MAX_LENGTH) {
    throw new BlasnetError(ErrorCode.UNSUPPORTED, `${where}: the file would take ${bytes} bytes (${(bytes / 2 ** 30).toFixed(1)} GiB), more than the ` +
      `${bufferConstants.MAX_LENGTH} bytes a file is built in here; ${advice}`);
  }
  try {
    return Buffer.alloc(bytes);
  } catch (e) {
    throw new BlasnetError(ErrorCode.MEMORY, `${where}: cannot allocate the ${bytes} bytes of the file: ${(e as Error)?.message ?? show(e)}`, { cause: e });
  }
}

/**
 * Encodes a JSON-able document whose values may include Float32Arrays. `where` names the caller
 * in errors: a document JSON cannot hold (a cycle, a BigInt, a toJSON that throws, nesting deeper
 * than MAX_DEPTH), or one it would store as something else (another typed array or an
 * ArrayBuffer, a Map or Set, a function or Symbol, which JSON turns into objects or drops), fails
 * with ERR_BLASNET_ARG_TYPE.
 */
export function encode(doc: unknown, where = 'encode'): Buffer {
  const tensors: Float32Array[] = [];
  const notStorable = (why: string) => typeError(ErrorCode.ARG_TYPE, `${where}: Expected JSON-able data (plain objects, arrays, strings, numbers, booleans, null, Float32Arrays) but ${why}`);
  let json: string | undefined;
  try {
    json = JSON.stringify(doc, function (this: unknown, _key: string, value: unknown) {
      // The value before any toJSON: a library may give Set or Map one (vega-lite sets
      // Set.prototype.toJSON for the whole process), which would hide what it replaces.
      const original = (this as Record<string, unknown>)[_key];
      const name = _key === '' ? 'the document' : JSON.stringify(_key);
      if (typedArrayTag(value) === 'Float32Array') {
        tensors.push(value as Float32Array);
        return { $tensor: tensors.length - 1, length: typedLength(value) };
      }
      // What JSON would turn silently into something else: an {"0": ...} object (other typed
      // arrays), {} (Map, Set), or nothing (functions, Symbols).
      if (ArrayBuffer.isView(original) || original instanceof ArrayBuffer || original instanceof SharedArrayBuffer) {
        throw new Error(`${name} is a ${typedArrayTag(original) ?? Object.prototype.toString.call(original).slice(8, -1)}; only Float32Arrays are stored (Array.from it, or make it a Float32Array)`);
      }
      if (original instanceof Map || original instanceof Set) {
        throw new Error(`${name} is a ${original instanceof Map ? 'Map' : 'Set'}; store an object or an array`);
      }
      if (typeof value === 'function' || typeof value === 'symbol') {
        throw new Error(`${name} is a ${typeof value}, which a file cannot hold`);
      }
      // A boxed number reaches here as its object; JSON would write a boxed NaN as null.
      const n = value instanceof Number ? value.valueOf() : value;
      if (typeof n === 'number' && (!Number.isFinite(n) || Object.is(n, -0))) {
        // JSON has no NaN, Infinity or -0 (it writes 0); keep them exact.
        return { $number: Object.is(n, -0) ? '-0' : String(n) };
      }
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) return escapeKeys(value);
      return value;
    });
  } catch (e) {
    throw notStorable(`serialising failed: ${(e as Error)?.message ?? show(e)}`);
  }
  if (json === undefined) throw notStorable(`received ${typeof doc}`);
  const header = Buffer.from(json, 'utf8');
  if (nestsDeeperThan(header, MAX_DEPTH)) throw notStorable(`it nests deeper than ${MAX_DEPTH} levels`);
  if (header.length > MAX_HEADER_BYTES) throw notStorable(`its JSON part takes ${header.length} bytes, more than the ${MAX_HEADER_BYTES} a file may hold`);
  const pad = (4 - (header.length % 4)) % 4;
  const payloadLength = tensors.reduce((s, t) => s + typedLength(t) * 4, 0);
  const out = fileBuffer(where, PREFIX + header.length + pad + payloadLength);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(FORMAT_VERSION, 8);
  out.writeUInt32LE(header.length, 12);
  header.copy(out, PREFIX);
  let off = PREFIX + header.length + pad;
  const payloadStart = off;
  for (const t of tensors) {
    const bytes = new Uint8Array(t.buffer, t.byteOffset, t.length * 4);
    out.set(bytes, off);
    off += bytes.length;
  }
  out.writeUInt32LE(crc32(header), 16);
  out.writeUInt32LE(crc32(out.subarray(payloadStart)), 20);
  out.writeBigUInt64LE(BigInt(payloadLength), 24);
  return out;
}

/** Where things are in a file, from its 32-byte prefix, checked against the file's size. */
interface Layout {
  version: number;
  headerLength: number;
  payloadStart: number;
  payloadLength: number;
}

function readLayout(prefix: Buffer, size: number, file: string): Layout {
  if (prefix.length < MAGIC.length || !prefix.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw formatError(file, 'not a blasnet file (bad magic bytes)');
  }
  if (size < PREFIX) throw formatError(file, `truncated: ${size} bytes, shorter than the ${PREFIX}-byte prefix`);
  const version = prefix.readUInt32LE(8);
  if (version > FORMAT_VERSION || version === 0) {
    throw formatError(file, `format version ${version} is not supported (this library reads up to ${FORMAT_VERSION})`);
  }
  const headerLength = prefix.readUInt32LE(12);
  if (headerLength > MAX_HEADER_BYTES) throw formatError(file, `declares a header of ${headerLength} bytes, more than the ${MAX_HEADER_BYTES} allowed`);
  const declaredPayload = prefix.readBigUInt64LE(24);
  const pad = (4 - (headerLength % 4)) % 4;
  const payloadStart = PREFIX + headerLength + pad;
  if (BigInt(payloadStart) + declaredPayload !== BigInt(size)) {
    throw formatError(file, `truncated or padded: expected ${BigInt(payloadStart) + declaredPayload} bytes, found ${size}`);
  }
  const payloadLength = Number(declaredPayload);
  if (payloadLength % 4 !== 0) throw formatError(file, `a payload of ${payloadLength} bytes is not a whole number of float32 values`);
  return { version, headerLength, payloadStart, payloadLength };
}

/** A decoded header: the document with a TensorRef for each tensor, and where each one sits. */
interface Header {
  root: { doc: unknown };
  slots: { holder: Record<string | number, unknown>; key: string | number; ref: TensorRef }[];
}

function setOwn(o: Record<string | number, unknown>, key: string | number, value: unknown): void {
  // Plain assignment to "__proto__" would replace the prototype instead of making a key.
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

function readHeader(bytes: Buffer, layout: Layout, headerCrc: number, file: string, precheck?: (json: unknown) => void): Header {
  if (crc32(bytes) !== headerCrc) throw formatError(file, 'header checksum mismatch (the file is corrupted)');
  if (nestsDeeperThan(bytes, MAX_DEPTH)) throw formatError(file, `the header nests deeper than ${MAX_DEPTH} levels`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw formatError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  // A cheap look at the raw JSON first: rebuilding a hostile header's every object costs more.
  precheck?.(json);
  const header: Header = { root: { doc: undefined }, slots: [] };
  const floats = layout.payloadLength / 4;
  let used = 0;
  const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  const malformed = () => formatError(file, 'malformed tensor or number reference in the header');
  // Tensors are laid out in the order encode met them, which is the order of their indices.
  const tensor = (o: Record<string, unknown>): TensorRef => {
    const i = o.$tensor, n = o.length;
    if (!Number.isInteger(i) || !Number.isInteger(n) || (n as number) < 0 || i !== header.slots.length) throw malformed();
    if (used + (n as number) > floats) {
      throw formatError(file, `the header describes more than the ${layout.payloadLength} payload bytes the file holds`);
    }
    used += n as number;
    return new TensorRef(i as number, n as number);
  };
  const visit = (v: unknown, holder: Record<string | number, unknown>, key: string | number): void => {
    if (v === null || typeof v !== 'object') {
      setOwn(holder, key, v);
      return;
    }
    if (Array.isArray(v)) {
      const out: unknown[] = new Array(v.length);
      setOwn(holder, key, out);
      v.forEach((x, i) => visit(x, out as unknown as Record<number, unknown>, i));
      return;
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (layout.version === 1) {
      // Version 1 did not escape keys: read it exactly as it was written.
      if (hasOwn(o, '$tensor')) {
        const ref = tensor(o);
        setOwn(holder, key, ref);
        header.slots.push({ holder, key, ref });
        return;
      }
      if (hasOwn(o, '$number') && keys.length === 1) {
        setOwn(holder, key, Number(o.$number));
        return;
      }
    } else if (hasOwn(o, '$tensor')) {
      if (keys.length !== 2 || !hasOwn(o, 'length')) throw malformed();
      const ref = tensor(o);
      setOwn(holder, key, ref);
      header.slots.push({ holder, key, ref });
      return;
    } else if (hasOwn(o, '$number')) {
      if (keys.length !== 1 || !['NaN', 'Infinity', '-Infinity', '-0'].includes(o.$number as string)) throw malformed();
      setOwn(holder, key, Number(o.$number));
      return;
    }
    const out: Record<string, unknown> = {};
    setOwn(holder, key, out);
    for (const k of keys) {
      let name = k;
      if (layout.version > 1 && k.startsWith('$')) {
        if (!k.startsWith('$$')) throw formatError(file, `unknown marker ${JSON.stringify(k)} in the header`);
        name = k.slice(1);
      }
      visit(o[k], out, name);
    }
  };
  visit(json, header.root as unknown as Record<string, unknown>, 'doc');
  if (used !== floats) throw formatError(file, `the header describes ${used * 4} payload bytes but the file holds ${layout.payloadLength}`);
  return header;
}

/** Checks the payload and puts each tensor in its place. */
function fillTensors(header: Header, payload: Buffer, payloadCrc: number, file: string): unknown {
  if (crc32(payload) !== payloadCrc) throw formatError(file, 'payload checksum mismatch (the file is corrupted)');
  let off = 0;
  for (const { holder, key, ref } of header.slots) {
    const t = new Float32Array(ref.length);
    new Uint8Array(t.buffer).set(payload.subarray(off, off + ref.length * 4));
    off += ref.length * 4;
    setOwn(holder, key, t);
  }
  return header.root.doc;
}

/**
 * Decodes what encode wrote; `file` names the source in error messages. `check`, if given, sees
 * the document before its tensors are filled in (each one a TensorRef) and may throw to reject it.
 */
export function decode(bytes: Buffer, file = 'buffer', check?: (doc: unknown) => void, precheck?: (json: unknown) => void): unknown {
  const layout = readLayout(bytes.subarray(0, PREFIX), bytes.length, file);
  const header = readHeader(bytes.subarray(PREFIX, PREFIX + layout.headerLength), layout, bytes.readUInt32LE(16), file, precheck);
  if (check) check(header.root.doc);
  return fillTensors(header, bytes.subarray(layout.payloadStart), bytes.readUInt32LE(20), file);
}

/** What a file that is not a regular file is, for messages: 'directory', 'FIFO', 'character device'... @internal */
export function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice()) return 'block device';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isSymbolicLink()) return 'symbolic link';
  return 'special file';
}

/**
 * Opens `file` for reading and returns its descriptor (the caller closes it) and size. Anything
 * but a regular file (a directory, FIFO, socket or device) is refused, and every failure is
 * ERR_BLASNET_IO naming the file.
 */
export function openRegularFile(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    // Non-blocking, so that opening a FIFO with no writer returns at once (and is then refused).
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw ioError(file, `cannot read: ${(e as Error).message}`, e);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw ioError(file, `cannot read: it is a ${kindOf(st)}, not a regular file`);
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e instanceof BlasnetError ? e : ioError(file, `cannot read: ${(e as Error).message}`, e);
  }
}

/**
 * Opens `file` to append to it (created when missing, emptied first when `truncate`) and returns
 * its descriptor (the caller closes it) and its size. Only a regular file is opened for writing,
 * a symbolic link to one followed: a directory, FIFO (whose open or write would block until a
 * reader came), socket or device is refused. Every failure is ERR_BLASNET_IO naming the file.
 */
export function openRegularFileForAppend(file: string, truncate = false): { fd: number; size: number } {
  const refuse = (st: fs.Stats) => ioError(file, `cannot write: it is a ${kindOf(st)}, not a regular file`);
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw refuse(st);
  } catch (e) {
    if (e instanceof BlasnetError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(file, `cannot write: ${(e as Error).message}`, e);
  }
  let fd: number;
  try {
    // Non-blocking, so that a FIFO put there since the check fails to open (no reader) or is refused below.
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NONBLOCK, 0o666);
  } catch (e) {
    throw ioError(file, `cannot write: ${(e as Error).message}`, e);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw refuse(st);
    if (truncate && st.size > 0) fs.ftruncateSync(fd, 0);
    return { fd, size: truncate ? 0 : st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e instanceof BlasnetError ? e : ioError(file, `cannot write: ${(e as Error).message}`, e);
  }
}

/**
 * Reads `length` bytes at `position`, however many reads that takes: a read error is
 * ERR_BLASNET_IO, a file that ends first ERR_BLASNET_FORMAT.
 */
export function readExactly(fd: number, position: number, length: number, file: string): Buffer {
  if (length > bufferConstants.MAX_LENGTH) throw formatError(file, `a section of ${length} bytes is larger than this process can hold`);
  const out = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    let n: number;
    try {
      n = fs.readSync(fd, out, off, Math.min(length - off, 1 << 30), position + off);
    } catch (e) {
      throw ioError(file, `cannot read: ${(e as Error).message}`, e);
    }
    if (n === 0) throw formatError(file, 'truncated while being read (the file shrank)');
    off += n;
  }
  return out;
}

/**
 * Reads and decodes a file written with encode. Only what the file's own prefix and header
 * justify is read: the 32-byte prefix, checked against the file's size, then the header, checked
 * (and shown to `check`, as in decode), then the payload. Anything but a regular file fails with
 * ERR_BLASNET_IO; a file that is not a valid blasnet file with ERR_BLASNET_FORMAT.
 */
export function decodeFile(file: string, check?: (doc: unknown) => void, precheck?: (json: unknown) => void): unknown {
  const { fd, size } = openRegularFile(file);
  try {
    const prefix = readExactly(fd, 0, Math.min(PREFIX, size), file);
    const layout = readLayout(prefix, size, file);
    const header = readHeader(readExactly(fd, PREFIX, layout.headerLength, file), layout, prefix.readUInt32LE(16), file, precheck);
    if (check) check(header.root.doc);
    return fillTensors(header, readExactly(fd, layout.payloadStart, layout.payloadLength, file), prefix.readUInt32LE(20), file);
  } finally {
    fs.closeSync(fd);
  }
}

const TEMP_MARK = '.blasnet-tmp-';
/** The longest file name, in bytes, that Linux's common file systems take: a temporary must fit too. */
const NAME_MAX = 255;
/** The most bytes after a temporary's stem: the mark, a pid of up to 10 digits, "-", a namespace of 12 hex digits, "-", a tag of 12. */
const TEMP_TAIL_MAX = TEMP_MARK.length + 10 + 1 + 12 + 1 + 12;
/**
 * What follows `<stem>.blasnet-tmp-` in a temporary's name: the writer's pid, its PID namespace
 * (absent in the temporaries of earlier releases, and where it cannot be known), a random tag.
 */
const TEMP_TAIL = /^(\d+)-(?:([0-9a-f]{12})-)?[0-9a-f]+$/;
/** What follows `.<name>.` in the temporaries of releases before 0.2: pid, time, random tag. */
const OLD_TEMP_TAIL = /^(\d+)\.\d+\.[0-9a-z]+\.tmp$/;
/**
 * How long a temporary whose writer's liveness cannot be known here must have gone unchanged
 * before a save removes it. A live writer changes its temporary with every write and renames it
 * right after the last one.
 */
const STALE_AFTER_MS = 15 * 60 * 1000;

const hex12 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

let namespace: string | null | undefined;

/**
 * This process's PID namespace on this boot of this machine, as 12 hex digits (a hash of the
 * kernel's boot id and the namespace's inode), or null where /proc does not say. A pid means the
 * same process only to writers with the same namespace: containers that share a volume, or
 * machines that share a network file system, see each other's pids as unrelated numbers.
 * @internal
 */
export function writerNamespace(): string | null {
  if (namespace === undefined) {
    try {
      const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      namespace = hex12(`${boot} ${fs.readlinkSync('/proc/self/ns/pid')}`);
    } catch {
      namespace = null;
    }
  }
  return namespace;
}

/**
 * The part of a temporary's name before `.blasnet-tmp-`: `.<name>`, or for a name too long to
 * leave room for the rest within NAME_MAX bytes, its start (cut on a character boundary) then
 * `~` and a hash of the whole name, so that two long names with a common start stay apart.
 */
function temporaryStem(base: string): string {
  const room = NAME_MAX - 1 - TEMP_TAIL_MAX;
  if (Buffer.byteLength(base) <= room) return `.${base}`;
  const hash = hex12(base);
  let cut = '';
  let bytes = 0;
  for (const ch of base) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > room - 1 - hash.length) break;
    cut += ch;
    bytes += n;
  }
  return `.${cut}~${hash}`;
}

/**
 * The name of a temporary that `pid` in PID namespace `ns` writes before renaming it to `base`:
 * `.<base>.blasnet-tmp-<pid>-<ns>-<random>`, at most 255 bytes (see temporaryStem).
 * @internal
 */
export function temporaryName(base: string, pid = process.pid, ns = writerNamespace()): string {
  return `${temporaryStem(base)}${TEMP_MARK}${pid}-${ns === null ? '' : `${ns}-`}${randomBytes(6).toString('hex')}`;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a temporary that `pid` of namespace `ns` (null: not named) wrote is abandoned. In this
 * namespace the pid decides: a live or reused pid keeps its file. From another namespace the
 * pid says nothing here, so only a file unchanged for STALE_AFTER_MS is; a file that names no
 * namespace needs both a pid not alive here and that age.
 */
function abandoned(file: string, pid: number, ns: string | null): boolean {
  const own = writerNamespace();
  if (ns !== null && ns === own) return pid !== process.pid && !processIsAlive(pid);
  if (ns === null && (pid === process.pid || processIsAlive(pid))) return false;
  try {
    return Date.now() - fs.lstatSync(file).mtimeMs >= STALE_AFTER_MS;
  } catch {
    return false;
  }
}

/**
 * Deletes the temporaries that earlier saves of `base` in `dir` left behind when their process
 * died mid-write (see abandoned).
 */
function removeStaleTemporaries(dir: string, base: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `${temporaryStem(base)}${TEMP_MARK}`;
  for (const name of names) {
    let m: RegExpExecArray | null = null;
    if (name.startsWith(prefix)) m = TEMP_TAIL.exec(name.slice(prefix.length));
    else if (name.startsWith(`.${base}.`)) m = OLD_TEMP_TAIL.exec(name.slice(base.length + 2));
    if (!m) continue;
    const file = path.join(dir, name);
    if (!abandoned(file, Number(m[1]), m[2] ?? null)) continue;
    try {
      fs.unlinkSync(file);
    } catch {
      // Another save removed it first.
    }
  }
}

/**
 * `file` made absolute without resolving its "." and "..": the kernel resolves "link/.." through
 * the link, where path.resolve would drop both.
 * @internal
 */
export function absolutePath(file: string): string {
  return path.isAbsolute(file) ? file : `${process.cwd()}${path.sep}${file}`;
}

/**
 * ERR_BLASNET_IO when `name` (the path to write, or a symbolic link's text on the way to it) can
 * only name a directory: it ends with "/", "/." or "/..", or is "." or "..". path.resolve would
 * drop the slash and replace a file of that name.
 */
function refuseDirectoryName(file: string, name: string): void {
  if (/(^|\/)\.{0,2}$/.test(name)) {
    throw ioError(file, `cannot write: ${name === file ? 'the path' : `its symbolic link's target ${JSON.stringify(name)}`} names a directory ` +
      '(it ends with "/", "." or ".."); give a file name');
  }
}

/**
 * The regular file a save to `file` replaces, following symbolic links (a dangling one names the
 * file to create), with its permission bits; null mode when it does not exist yet.
 */
function resolveTarget(file: string): { target: string; mode: number | null } {
  refuseDirectoryName(file, file);
  let p = absolutePath(file);
  for (let hops = 0; ; hops++) {
    try {
      // Resolve the directory for real, so that "link/../x" means what the kernel means.
      p = path.join(fs.realpathSync.native(path.dirname(p)), path.basename(p));
    } catch {
      // A missing directory: the write below fails with a clear error.
    }
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { target: p, mode: null };
      throw ioError(file, `cannot write: ${(e as Error).message}`, e);
    }
    if (st.isSymbolicLink()) {
      if (hops >= 40) throw ioError(file, 'cannot write: too many levels of symbolic links');
      try {
        const to = fs.readlinkSync(p);
        refuseDirectoryName(file, to);
        // Joined as the kernel reads it: a ".." in the link's text steps out of what it follows.
        p = path.isAbsolute(to) ? to : `${path.dirname(p)}${path.sep}${to}`;
      } catch (e) {
        if (e instanceof BlasnetError) throw e;
        throw ioError(file, `cannot write: ${(e as Error).message}`, e);
      }
      continue;
    }
    if (!st.isFile()) throw ioError(file, `cannot write: it is a ${kindOf(st)}, and only regular files are replaced`);
    return { target: p, mode: st.mode & 0o777 };
  }
}

/**
 * Writes `bytes` to `file` atomically: a temporary file `.<name>.blasnet-tmp-<pid>-<ns>-<random>`
 * in the target's directory (a long name is shortened so that the temporary's stays within 255
 * bytes), written in full, flushed to disk, then renamed over the target, and the directory
 * flushed. A crash at any point leaves either the old file or the new one; a failure (disk full,
 * file size limit, any write error) leaves the old file untouched, removes the temporary and
 * throws ERR_BLASNET_IO. Temporaries left by writers that were killed are removed by the next
 * save of the same target: at once when the writer was in this PID namespace, otherwise once the
 * file has not changed for 15 minutes (a pid from another container or machine cannot be checked).
 *
 * Only regular files are replaced. A symbolic link is followed and its target replaced (the link
 * stays); a directory, FIFO, socket or device fails with ERR_BLASNET_IO naming its kind, without
 * touching it. A replaced file keeps its permission bits (not its owner or other hard links).
 */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const { target, mode } = resolveTarget(file);
  const dir = path.dirname(target);
  const base = path.basename(target);
  removeStaleTemporaries(dir, base);
  const tmp = path.join(dir, temporaryName(base));
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'wx', mode ?? 0o644);
    if (mode !== null) fs.fchmodSync(fd, mode);
    let off = 0;
    while (off < bytes.length) {
      const n = fs.writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 30));
      if (n <= 0) throw ioError(file, `cannot write: short write, ${off} of ${bytes.length} bytes written (is the disk full?)`);
      off += n;
    }
    fs.fsyncSync(fd);
    const done = fd;
    fd = null;
    fs.closeSync(done);
    try {
      fs.renameSync(tmp, target);
    } catch (e) {
      // Everything is written: the new contents stay, beside the target under a name of their own.
      throw keptAside(file, target, tmp, e);
    }
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        // The write error is the one to report.
      }
    }
    if (!(e instanceof BlasnetError && (e as { keptAside?: string }).keptAside !== undefined)) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // Never created, or already gone.
      }
    }
    throw e instanceof BlasnetError ? e : ioError(file, `cannot write: ${(e as Error).message}`, e);
  }
  syncDirectory(dir, file);
}

/**
 * When the last step of a save, the rename over the target, fails, the written file is complete:
 * it is renamed to `<target>.unsaved-<pid>-<time>` beside the target (or, should that fail too,
 * left as the temporary), and the error, ERR_BLASNET_IO, names where it is (`keptAside`).
 */
function keptAside(file: string, target: string, tmp: string, cause: unknown): BlasnetError {
  let kept = tmp;
  const aside = `${target}.unsaved-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(tmp, aside);
    kept = aside;
  } catch {
    // The temporary stays where it is (the next save of this target may remove it, once its process is gone).
  }
  const e = ioError(file, `cannot write: ${(cause as Error).message}; the new contents are kept in ${kept}`, cause);
  Object.defineProperty(e, 'keptAside', { value: kept, enumerable: true });
  return e;
}

/** A file written a piece at a time (a log appended to every epoch) that takes its place only when committed. */
export interface PendingFile {
  /** The temporary to write: beside the target, named as writeFileAtomic names its temporaries. */
  readonly path: string;
  /**
   * Flushes the temporary and renames it over the target, which keeps or takes its permission
   * bits; a failure is ERR_BLASNET_IO naming the target, which is left as it was.
   */
  commit(): void;
  /** Removes the temporary and leaves the target as it was; nothing once committed. */
  discard(): void;
}

/**
 * Starts a file that replaces `file` as writeFileAtomic would, but is written over time: an empty
 * temporary is created beside the target (whose checks, symbolic links and stale temporaries are
 * writeFileAtomic's) and written by the caller through `path`, then committed, or discarded so
 * that the target stays as it was. A temporary left by a process that died is removed by the next
 * save of the same target.
 */
export function pendingFile(file: string): PendingFile {
  const { target, mode } = resolveTarget(file);
  const dir = path.dirname(target);
  const base = path.basename(target);
  removeStaleTemporaries(dir, base);
  const tmp = path.join(dir, temporaryName(base));
  try {
    const fd = fs.openSync(tmp, 'wx', mode ?? 0o644);
    try {
      if (mode !== null) fs.fchmodSync(fd, mode);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw ioError(file, `cannot write: ${(e as Error).message}`, e);
  }
  let settled = false;
  const discard = () => {
    if (settled) return;
    settled = true;
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Already gone.
    }
  };
  return {
    path: tmp,
    commit() {
      if (settled) throw new BlasnetError(ErrorCode.STATE, `${file}: this pending file was already committed or discarded`);
      try {
        const { fd } = openRegularFile(tmp);
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, target);
      } catch (e) {
        discard();
        throw ioError(file, `cannot write: ${(e as Error).message}`, e);
      }
      settled = true;
      syncDirectory(dir, file);
    },
    discard,
  };
}

/**
 * Checks, without writing it, that writeFileAtomic could write `file`: the target is resolved as
 * it would be (a directory, FIFO, socket or device is refused), and the temporary it would write
 * is created beside the target and removed at once, which tests the directory's permissions, a
 * read-only file system and the length of both names. Any failure is ERR_BLASNET_IO naming `file`.
 */
export function checkWritable(file: string): void {
  const { target } = resolveTarget(file);
  refuseUnreplaceable(file, target);
  const tmp = path.join(path.dirname(target), temporaryName(path.basename(target)));
  try {
    fs.closeSync(fs.openSync(tmp, 'wx', 0o600));
  } catch (e) {
    throw ioError(file, `cannot write: ${(e as Error).message}`, e);
  }
  try {
    fs.unlinkSync(tmp);
  } catch {
    // Removed by someone else first.
  }
}

/**
 * ERR_BLASNET_IO for an existing target a rename cannot replace, though it can be written in
 * place: a file mounted over its name (a bind mount, as `docker -v file:file` and Kubernetes
 * subPath make: EBUSY), and a file of another user in a sticky directory such as /tmp (EPERM,
 * unless this process owns the directory or runs as root). Checked before long work, so that it
 * does not end unable to save.
 */
function refuseUnreplaceable(file: string, target: string): void {
  let st: fs.Stats, dir: fs.Stats;
  try {
    st = fs.statSync(target);
    dir = fs.statSync(path.dirname(target));
  } catch {
    return;
  }
  // (Not st_dev against the directory's: overlayfs, under most containers, reports the layer's.)
  if (mountPoints().has(target)) {
    throw ioError(file, `cannot write: ${target} is a mount point (a file mounted over its name), which a save cannot replace ` +
      'with its new file; write to a path inside a mounted directory instead');
  }
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  if ((dir.mode & 0o1000) !== 0 && uid !== 0 && st.uid !== uid && dir.uid !== uid) {
    throw ioError(file, `cannot write: ${target} belongs to another user in a sticky directory (such as /tmp), where only its ` +
      'owner may replace it; write to another path');
  }
}

/** The mount points of this process's mount namespace (Linux's /proc/self/mountinfo; none elsewhere). */
function mountPoints(): Set<string> {
  const points = new Set<string>();
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return points;
  }
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    // Spaces and other bytes in a mount point are written as octal escapes.
    if (field) points.add(field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return points;
}

/** Makes the rename durable. Filesystems that cannot flush a directory are fine: the rename stays atomic. */
function syncDirectory(dir: string, file: string): void {
  let dfd: number;
  try {
    dfd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(dfd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF', 'EPERM', 'EACCES'].includes(code ?? '')) {
      throw ioError(file, `written, but its directory could not be flushed to disk: ${(e as Error).message}`, e);
    }
  } finally {
    fs.closeSync(dfd);
  }
}
