import { replaceKafkajsModule } from './kafkajs-module.ts';

/**
 * CRC-32C (Castagnoli), slicing by 8: eight table lookups per 8 bytes instead of one per byte.
 *
 * KafkaJS checksums every record batch it produces with a byte-at-a-time loop in JS; with 768-d
 * vectors that loop was 8 % of the extractor's CPU (a --cpu-prof of `npm run bench:pipeline`).
 * `useFastCrc32c` puts this one in its place. It gives the same 32-bit value for every input
 * (crc32c.test.ts checks it against KafkaJS's own on random buffers), so the bytes on the wire do
 * not change.
 */
const TABLES = ((): Int32Array[] => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0]![n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c;
    }
  }
  return t;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** The CRC-32C of `buf` as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array): number {
  let crc = -1;
  let i = 0;
  const end8 = buf.length - (buf.length % 8);
  while (i < end8) {
    const lo = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[buf[i + 4]!]! ^
      T2[buf[i + 5]!]! ^
      T1[buf[i + 6]!]! ^
      T0[buf[i + 7]!]!;
    i += 8;
  }
  while (i < buf.length) crc = T0[(crc ^ buf[i++]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const KAFKAJS_CRC32C = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';
const KAFKAJS_RECORD_BATCH = 'kafkajs/src/protocol/recordBatch/v0/index.js';

/**
 * Makes KafkaJS's record batches use `crc32c`. Has to run before anything loads `kafkajs` (this
 * package's index imports this module first); when KafkaJS was loaded already it changes nothing
 * and says so.
 */
export function useFastCrc32c(): boolean {
  return replaceKafkajsModule(KAFKAJS_CRC32C, crc32c, KAFKAJS_RECORD_BATCH);
}

useFastCrc32c();
