/**
 * Would compressing the records topic pay? `npm run bench:compression [-- --records N]` prints JSON.
 *
 * The records as the extractor publishes them (the benchmark's dataset through the Avro record
 * codec), cut into ~900 KB produce batches as `KafkaLogProducer` cuts them, each batch compressed
 * whole (Kafka compresses a record batch, not a message). Two vector sets:
 * - `generator`: the emulator's generated 768-d vectors, as every other bench uses;
 * - `embedding-like`: unit-length Gaussian vectors, the shape of real text embeddings, whose
 *   float32 exponents cluster (what compressors find in them).
 * Codecs Node has built in: gzip (the only one KafkaJS ships) at levels 1 and 6, zstd at 1 and 3
 * (Node 22.15+; KafkaJS takes a codec registered for it). LZ4 needs a native or third-party
 * module, so it is not measured here. CPU time per record is the best of five rounds, on one core;
 * compare it with `p2m_cpu_ms_per_record.extractor` of the same machine (compress) and `.loader`
 * (decompress).
 */
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { createLogRecordCodec } from '@p2m/codec';
import type { VectorRecord } from '@p2m/core';
import { vectorRecords } from './lib/dataset.ts';

const args = process.argv.slice(2);
const RECORDS = Number(args[args.indexOf('--records') + 1] || 5_000);
const BATCH_BYTES = 900 * 1024;

/** Deterministic normal deviates (Box–Muller over mulberry32). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function embeddingLike(records: VectorRecord[]): VectorRecord[] {
  const next = gaussian(20261206);
  return records.map((r) => {
    const dim = r.values?.length ?? 0;
    const values = new Float32Array(dim);
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += (values[d] = next()) ** 2;
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) values[d] = values[d]! / norm;
    return { ...r, values };
  });
}

function batches(encoded: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let chunk: Buffer[] = [];
  let bytes = 0;
  for (const b of encoded) {
    if (chunk.length > 0 && bytes + b.length > BATCH_BYTES) {
      out.push(Buffer.concat(chunk));
      chunk = [];
      bytes = 0;
    }
    chunk.push(b);
    bytes += b.length;
  }
  if (chunk.length > 0) out.push(Buffer.concat(chunk));
  return out;
}

function bestMs(run: () => void): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const CODECS: { name: string; compress: (b: Buffer) => Buffer; decompress: (b: Buffer) => Buffer }[] = [
  { name: 'gzip-1', compress: (b) => zlib.gzipSync(b, { level: 1 }), decompress: (b) => zlib.gunzipSync(b) },
  { name: 'gzip-6', compress: (b) => zlib.gzipSync(b, { level: 6 }), decompress: (b) => zlib.gunzipSync(b) },
  ...(typeof zlib.zstdCompressSync === 'function'
    ? [1, 3].map((level) => ({
        name: `zstd-${level}`,
        compress: (b: Buffer) => zlib.zstdCompressSync(b, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } }),
        decompress: (b: Buffer) => zlib.zstdDecompressSync(b),
      }))
    : []),
];

function measure(name: string, records: VectorRecord[]) {
  const codec = createLogRecordCodec();
  const encoded = records.map((r) => codec.encode(r));
  const input = batches(encoded);
  const rawBytes = input.reduce((s, b) => s + b.length, 0);
  const codecs = CODECS.map((c) => {
    const compressed = input.map((b) => c.compress(b));
    for (let i = 0; i < input.length; i++) if (!c.decompress(compressed[i]!).equals(input[i]!)) throw new Error(`${c.name} did not round-trip`);
    const compressMs = bestMs(() => input.forEach((b) => c.compress(b)));
    const decompressMs = bestMs(() => compressed.forEach((b) => c.decompress(b)));
    const bytes = compressed.reduce((s, b) => s + b.length, 0);
    return {
      codec: c.name,
      size_ratio: Math.round((bytes / rawBytes) * 1000) / 1000,
      compress_cpu_ms_per_record: Math.round((compressMs / records.length) * 10_000) / 10_000,
      decompress_cpu_ms_per_record: Math.round((decompressMs / records.length) * 10_000) / 10_000,
    };
  });
  return { vectors: name, records: records.length, batches: input.length, bytes_per_record: Math.round(rawBytes / records.length), codecs };
}

const dense = vectorRecords('dense', RECORDS);
const results = [measure('generator', dense), measure('embedding-like', embeddingLike(dense))];
process.stdout.write(`${JSON.stringify({ bench: 'compression', node: process.version, batch_bytes: BATCH_BYTES, results }, null, 1)}\n`);
