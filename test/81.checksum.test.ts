/**
 * The model file's CRC-32 is Node's zlib.crc32; it must give exactly the values the format has
 * always stored (the hand-written table version it replaced), so old files keep loading.
 */
import { strict as assert } from 'assert';
import { Rng } from '../lib';
import { crc32 } from '../lib/io/format';

/** The CRC-32 definition, one bit at a time (reflected polynomial 0xEDB88320). */
function bitwiseCrc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('CRC-32', () => {
  it('gives the standard check values', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  });

  it('matches the bit-by-bit definition on seeded random bytes of many lengths, as unsigned', () => {
    const rng = new Rng(15);
    for (const n of [1, 3, 4, 7, 64, 255, 1000, 4099]) {
      const bytes = Uint8Array.from({ length: n }, () => rng.int(256));
      const c = crc32(bytes);
      assert.equal(c, bitwiseCrc32(bytes), `length ${n}`);
      assert.ok(c >= 0 && c <= 0xffffffff);
    }
  });

  it('reads a Uint8Array view at its offset, not its whole buffer', () => {
    const all = Buffer.from('xx123456789yy');
    assert.equal(crc32(new Uint8Array(all.buffer, all.byteOffset + 2, 9)), 0xcbf43926);
  });
});
