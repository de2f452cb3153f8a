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
 * { "$tensor": i, "length": n }; decoding puts the arrays back. Both checksums and every length
 * are verified on decode, so a truncated or corrupted file fails with a coded error instead of
 * yielding wrong numbers.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BlasnetError, ErrorCode } from '../errors';

const MAGIC = Buffer.from('BLASNET\0', 'latin1');
const PREFIX = 32;
/** The format version this library writes and the newest it reads. */
export const FORMAT_VERSION = 1;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib and PNG use). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function formatError(file: string, message: string): BlasnetError {
  return new BlasnetError(ErrorCode.FORMAT, `${file}: ${message}`);
}

/** Encodes a JSON-able document whose values may include Float32Arrays. */
export function encode(doc: unknown): Buffer {
  const tensors: Float32Array[] = [];
  const json = JSON.stringify(doc, (_key, value: unknown) => {
    if (value instanceof Float32Array) {
      tensors.push(value);
      return { $tensor: tensors.length - 1, length: value.length };
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      // JSON has no NaN or Infinity; keep them exact.
      return { $number: String(value) };
    }
    return value;
  });
  const header = Buffer.from(json, 'utf8');
  const pad = (4 - (header.length % 4)) % 4;
  const payloadLength = tensors.reduce((s, t) => s + t.length * 4, 0);
  const out = Buffer.alloc(PREFIX + header.length + pad + payloadLength);
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

/** Decodes what encode wrote; `file` names the source in error messages. */
export function decode(bytes: Buffer, file = 'buffer'): unknown {
  if (bytes.length < PREFIX || !bytes.subarray(0, 8).equals(MAGIC)) {
    throw formatError(file, 'not a blasnet file (bad magic bytes)');
  }
  const version = bytes.readUInt32LE(8);
  if (version > FORMAT_VERSION || version === 0) {
    throw formatError(file, `format version ${version} is not supported (this library reads up to ${FORMAT_VERSION})`);
  }
  const headerLength = bytes.readUInt32LE(12);
  const payloadLength = Number(bytes.readBigUInt64LE(24));
  const pad = (4 - (headerLength % 4)) % 4;
  const payloadStart = PREFIX + headerLength + pad;
  if (bytes.length !== payloadStart + payloadLength) {
    throw formatError(file, `truncated or padded: expected ${payloadStart + payloadLength} bytes, found ${bytes.length}`);
  }
  const header = bytes.subarray(PREFIX, PREFIX + headerLength);
  if (crc32(header) !== bytes.readUInt32LE(16)) throw formatError(file, 'header checksum mismatch (the file is corrupted)');
  const payload = bytes.subarray(payloadStart);
  if (crc32(payload) !== bytes.readUInt32LE(20)) throw formatError(file, 'payload checksum mismatch (the file is corrupted)');
  let doc: unknown;
  try {
    doc = JSON.parse(header.toString('utf8'));
  } catch (e) {
    throw formatError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  // Tensors are laid out in the order encode met them, which is the order of their indices.
  const offsets: number[] = [];
  const lengths: number[] = [];
  collectTensors(doc, lengths, file);
  let off = 0;
  for (const n of lengths) {
    offsets.push(off);
    off += n * 4;
  }
  if (off !== payloadLength) throw formatError(file, `the header describes ${off} payload bytes but the file holds ${payloadLength}`);
  return restore(doc, payload, offsets, lengths, file);
}

function collectTensors(v: unknown, lengths: number[], file: string): void {
  if (Array.isArray(v)) {
    for (const x of v) collectTensors(x, lengths, file);
  } else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('$tensor' in o) {
      const i = o.$tensor, n = o.length;
      if (!Number.isInteger(i) || !Number.isInteger(n) || (n as number) < 0 || i !== lengths.length) {
        throw formatError(file, 'malformed tensor reference in the header');
      }
      lengths.push(n as number);
      return;
    }
    for (const x of Object.values(o)) collectTensors(x, lengths, file);
  }
}

function restore(v: unknown, payload: Buffer, offsets: number[], lengths: number[], file: string): unknown {
  if (Array.isArray(v)) return v.map((x) => restore(x, payload, offsets, lengths, file));
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('$tensor' in o) {
      const i = o.$tensor as number;
      const out = new Float32Array(lengths[i]);
      new Uint8Array(out.buffer).set(payload.subarray(offsets[i], offsets[i] + lengths[i] * 4));
      return out;
    }
    if ('$number' in o && Object.keys(o).length === 1) return Number(o.$number);
    const r: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) r[k] = restore(x, payload, offsets, lengths, file);
    return r;
  }
  return v;
}

/**
 * Writes `bytes` to `file` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over the target. A crash at any point leaves either the old file or the new one.
 */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Already gone.
    }
    throw new BlasnetError(ErrorCode.IO, `cannot write ${file}: ${(e as Error).message}`);
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    // Some filesystems cannot fsync a directory; the rename itself is still atomic.
  }
}
