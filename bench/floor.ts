/**
 * The floor under issue 16's CPU targets: `npm run bench:floor [-- --records N]` prints JSON.
 *
 * What each step of a record's way costs on its own, in CPU microseconds per record, measured side
 * by side in one process on the benchmark's dataset (768-d dense, the generator's metadata), with
 * no I/O, no server and no other process: the cheapest any service can do that step on this machine.
 * Steps done by a library the project is bound to (the official Pinecone SDK for REST fetch, KafkaJS)
 * are separated from p2m's own, so the targets can be held against what is below them:
 *
 * - extractor: the SDK's `fetch` of a page (undici reads the body, `JSON.parse`, the SDK's mapping)
 *   over a canned response in the emulator's (and Pinecone's) JSON, or the gRPC transport's decoder
 *   over the same page in protobuf; the page made records; Avro encoding; the produce request
 *   encoded as the services encode it (p2m's one-pass encoder in KafkaJS's place, produce-encoder.ts;
 *   `kafkajs_produce_encode_before` is KafkaJS's own, for comparison, in no sum).
 * - loader: KafkaJS decoding the record batch; Avro decoding; the record's check against the plan
 *   (`rejectionReason`, on records decoded anew for each round, so the check's memo of records already
 *   accepted does not hide its cost); the Milvus upsert request encoded.
 *
 * The Pinecone SDK's REST fetch is the extractor's default transport (the SDK path is how a real
 * index is read). The socket work, the brokers' and Milvus's answers, GC of a long run and the
 * services' bookkeeping come on top in `npm run bench` (`p2m_cpu_ms_per_record`).
 *
 * Each figure is the best of seven rounds (the least disturbed, the machine being shared), CPU time
 * of this process (`process.cpuUsage`), all steps interleaved round by round; before each step a full
 * collection (`--expose-gc`), so that a step pays for its own garbage and not for the one before's.
 */
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import { createLogRecordCodec } from '@p2m/codec';
import { rejectionReason, type VectorRecord } from '@p2m/core';
import { encodeFetchAnswer, float32ToJson, generateRecords } from '@p2m/emulator';
import '@p2m/kafka'; // p2m's CRC-32C and produce encoder in KafkaJS's place, as in the services
import { encodeUpsertRequest } from '@p2m/milvus-sink';
import { decodeFetchResponse } from '@p2m/pinecone-source';
import { Pinecone } from '@pinecone-database/pinecone';
import { pageToRecords } from '@p2m/extractor';
import { benchPlan, datasetOptions, DIM } from './lib/dataset.ts';

const args = process.argv.slice(2);
const RECORDS = Number(args[args.indexOf('--records') + 1] || 5_000);
const PAGE = 100;
const PRODUCE_BATCH_BYTES = 900 * 1024;
const ROUNDS = 7;
const TARGET_US = { extractor: 60, loader: 60 };

const require = createRequire(import.meta.url);
// KafkaJS's protocol modules have no typed entry point: required by path.
const Produce = require('kafkajs/src/protocol/requests/produce/v7/request.js') as (o: unknown) => { encode: () => Promise<{ buffer: Buffer }> };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: unknown) => Promise<{ buffer: Buffer }> };
const RecordV0 = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: unknown) => unknown;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{ records: unknown[] }>;
const KafkaDecoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
/** KafkaJS's own produce request (v3, which v4–v7 reuse), compiled from its file: the cache holds p2m's. */
const KafkajsProduce = ((): typeof Produce => {
  const path = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
  const mod = new Module(path) as Module & { _compile(code: string, file: string): void; paths: string[] };
  mod.filename = path;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(path));
  mod._compile(readFileSync(path, 'utf8'), path);
  return mod.exports as typeof Produce;
})();

// The dataset, as the emulator serves it: REST JSON (shortest float32 decimals) and gRPC protobuf.
const generated = [...generateRecords({ ...datasetOptions('dense', RECORDS), namespaces: 1 })];
const pages: { ids: string[]; json: Buffer; proto: Buffer }[] = [];
for (let i = 0; i < generated.length; i += PAGE) {
  const page = generated.slice(i, i + PAGE);
  const json = page.map((g) => {
    const values = Array.from(g.values ?? [], (v) => float32ToJson(v)).join(',');
    return `${JSON.stringify(g.id)}:{"id":${JSON.stringify(g.id)},"values":[${values}],"metadata":${JSON.stringify(g.metadata ?? {})}}`;
  });
  pages.push({
    ids: page.map((g) => g.id),
    json: Buffer.from(`{"vectors":{${json.join(',')}},"namespace":"","usage":{"readUnits":1}}`),
    // The emulator's own gRPC answer (dense values packed, as Pinecone sends them).
    proto: encodeFetchAnswer(
      '',
      page.map((g) => ({ id: g.id, values: Float32Array.from(g.values ?? []), metadata: g.metadata ?? {} })),
      1,
    ),
  });
}

// The official SDK over the canned pages: it asks the control plane for the index once, then fetches.
let served = 0;
const fetchApi = (async (url: string | URL | Request) => {
  const u = String(url);
  const headers = { 'content-type': 'application/json' };
  if (u.includes('/indexes/')) {
    const body = {
      name: 'floor',
      dimension: DIM,
      metric: 'cosine',
      host: 'floor.example',
      spec: { serverless: { cloud: 'aws', region: 'us-east-1' } },
      status: { ready: true, state: 'Ready' },
      vector_type: 'dense',
    };
    return new Response(JSON.stringify(body), { headers });
  }
  return new Response(pages[served++ % pages.length]!.json, { headers });
}) as typeof fetch;
const index = new Pinecone({ apiKey: 'floor', fetchApi, maxRetries: 0 }).index({ name: 'floor', host: 'https://floor.example' });

const codec = createLogRecordCodec();
const plan = benchPlan('dense', 'floor', '127.0.0.1:19530');

// What each step takes as input, made once.
const fetchedPages = pages.map((p) => [...decodeFetchResponse(p.proto).vectors.values()]);
const records: VectorRecord[] = pages.flatMap((p, i) => pageToRecords('', p.ids, fetchedPages[i]!).records);
const values = records.map((r) => codec.encode(r));
const messages = values.map((value, i) => ({ key: Buffer.from(`${records[i]!.namespace}\u0000${records[i]!.id}`), value }));
const produceBatches: (typeof messages)[] = [];
for (let i = 0, bytes = 0, batch: typeof messages = []; i < messages.length; i++) {
  batch.push(messages[i]!);
  bytes += messages[i]!.value.length + messages[i]!.key.length;
  if (bytes >= PRODUCE_BATCH_BYTES || i === messages.length - 1) {
    produceBatches.push(batch);
    batch = [];
    bytes = 0;
  }
}
const recordBatches = await Promise.all(
  produceBatches.map(async (batch) => {
    const now = Date.now();
    const encoded = batch.map((m, i) => RecordV0({ ...m, offsetDelta: i, timestampDelta: 0 }));
    return (await RecordBatch({ records: encoded, firstTimestamp: now, maxTimestamp: now, lastOffsetDelta: encoded.length - 1 })).buffer;
  }),
);

const produceArgs = (batch: typeof messages): unknown => ({
  acks: -1,
  timeout: 30_000,
  compression: 0,
  topicData: [{ topic: 'p2m.job.floor.records', partitions: [{ partition: 0, messages: batch }] }],
});

type Step = {
  name: string;
  owner: 'library' | 'p2m';
  side: 'extractor' | 'loader';
  /** Made before the step's clock starts, each round. */
  prepare?: () => void;
  run: () => Promise<void> | void;
};
// The validate step's input: records as a loader has them, decoded anew each round (untimed).
let fresh: VectorRecord[] = [];
const steps: Step[] = [
  {
    name: 'sdk_rest_fetch',
    owner: 'library',
    side: 'extractor',
    run: async () => {
      for (const p of pages) await index.fetch({ ids: p.ids, namespace: '' });
    },
  },
  {
    name: 'json_parse_alone',
    owner: 'library',
    side: 'extractor',
    run: () => {
      for (const p of pages) JSON.parse(p.json.toString('utf8'));
    },
  },
  {
    name: 'grpc_fetch_decode',
    owner: 'p2m',
    side: 'extractor',
    run: () => {
      for (const p of pages) decodeFetchResponse(p.proto);
    },
  },
  {
    name: 'page_to_records',
    owner: 'p2m',
    side: 'extractor',
    run: () => {
      pages.forEach((p, i) => pageToRecords('', p.ids, fetchedPages[i]!));
    },
  },
  {
    name: 'avro_encode',
    owner: 'p2m',
    side: 'extractor',
    run: () => {
      for (const r of records) codec.encode(r);
    },
  },
  {
    name: 'kafkajs_produce_encode',
    owner: 'p2m',
    side: 'extractor',
    run: async () => {
      for (const batch of produceBatches) await Produce(produceArgs(batch)).encode();
    },
  },
  {
    name: 'kafkajs_produce_encode_before',
    owner: 'library',
    side: 'extractor',
    run: async () => {
      for (const batch of produceBatches) await KafkajsProduce(produceArgs(batch)).encode();
    },
  },
  {
    name: 'kafkajs_batch_decode',
    owner: 'library',
    side: 'loader',
    run: async () => {
      for (const b of recordBatches) await decodeRecordBatch(new KafkaDecoder(b));
    },
  },
  {
    name: 'avro_decode',
    owner: 'p2m',
    side: 'loader',
    run: () => {
      for (const v of values) codec.decode(v);
    },
  },
  {
    name: 'validate',
    owner: 'p2m',
    side: 'loader',
    prepare: () => {
      fresh = values.map((v) => codec.decode(v) as VectorRecord);
    },
    run: () => {
      for (const r of fresh) if (rejectionReason(plan, r) !== null) throw new Error(`bench:floor: record ${r.id} refused`);
    },
  },
  {
    name: 'upsert_request_encode',
    owner: 'p2m',
    side: 'loader',
    run: () => {
      for (let i = 0; i < records.length; i += 1_000) encodeUpsertRequest(plan, undefined, records.slice(i, i + 1_000));
    },
  },
];

const cpuMicros = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const collect = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
if (!(globalThis as { gc?: unknown }).gc) process.stderr.write('bench:floor: run with --expose-gc (npm run bench:floor does) for steady figures\n');
const best = new Map<string, number>();
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const step of steps) {
    step.prepare?.();
    // Each step starts on a collected heap and pays for the garbage it makes itself.
    collect();
    await new Promise((resolve) => setTimeout(resolve, 100)); // its sweeping threads finish first: cpuUsage counts every thread
    const t0 = cpuMicros();
    await step.run();
    const perRecord = (cpuMicros() - t0) / records.length;
    if (round > 0) best.set(step.name, Math.min(best.get(step.name) ?? Infinity, perRecord)); // round 0 warms the JIT
  }
}
const us = (name: string): number => Math.round(best.get(name)! * 10) / 10;
const stepsOut = Object.fromEntries(steps.map((s) => [s.name, { us_per_record: us(s.name), owner: s.owner, side: s.side }]));
const sum = (names: string[]): number => Math.round(names.reduce((s, n) => s + stepsOut[n]!.us_per_record, 0) * 10) / 10;
const extractorRest = sum(['sdk_rest_fetch', 'page_to_records', 'avro_encode', 'kafkajs_produce_encode']);
const extractorGrpc = sum(['grpc_fetch_decode', 'page_to_records', 'avro_encode', 'kafkajs_produce_encode']);
const loader = sum(['kafkajs_batch_decode', 'avro_decode', 'validate', 'upsert_request_encode']);
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'floor',
      node: process.version,
      records: records.length,
      dim: DIM,
      page: PAGE,
      avro_bytes_per_record: Math.round(values.reduce((s, v) => s + v.length, 0) / values.length),
      json_bytes_per_record: Math.round(pages.reduce((s, p) => s + p.json.length, 0) / records.length),
      steps: stepsOut,
      floor_us_per_record: {
        extractor_rest: extractorRest,
        extractor_rest_library_only: sum(['sdk_rest_fetch']),
        extractor_grpc: extractorGrpc,
        loader,
        loader_library_only: sum(['kafkajs_batch_decode']),
      },
      target_us_per_record: TARGET_US,
      at: new Date().toISOString(),
    },
    null,
    1,
  )}\n`,
);
