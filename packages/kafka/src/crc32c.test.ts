import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { kafkajsModuleInUse } from './kafkajs-module.fixture.ts';
import { crc32c } from './crc32c.ts';

const require = createRequire(import.meta.url);
// KafkaJS's own byte-at-a-time CRC-32C (the file the replaced module wraps; never replaced itself).
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (buf: Buffer) => number;

describe('crc32c (slicing by 8)', () => {
  it('gives the standard check value of CRC-32C', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('equals KafkaJS own CRC-32C on every length from 0 to 100, at odd offsets and on large buffers', () => {
    for (let n = 0; n <= 100; n++) {
      const buf = randomBytes(n);
      expect(crc32c(buf), `length ${n}`).toBe(kafkajsCrc32c(buf));
    }
    const big = randomBytes(1 << 20);
    for (const [start, end] of [
      [0, big.length],
      [3, big.length - 5],
      [1, 4_099],
      [7, 7],
    ] as const) {
      const view = big.subarray(start, end);
      expect(crc32c(view), `bytes ${start}..${end}`).toBe(kafkajsCrc32c(view));
    }
  });

  it('is what KafkaJS checksums record batches with once @p2m/kafka is loaded, under plain node', () => {
    const run = kafkajsModuleInUse('kafkajs/src/protocol/recordBatch/crc32C/index.js');
    expect(run.status, run.stderr).toBe(0);
    expect(run.name).toBe('crc32c');
  });
});
