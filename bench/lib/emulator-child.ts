/**
 * The benchmark's Pinecone: the emulator in a child process (so its CPU is its own), Pinecone's
 * serverless rate limits (the emulator's defaults: list 200/s, fetch 100/s per index) and a
 * per-call latency on list and fetch, seeded in memory from the generator.
 * Messages: { cmd: 'load', index, kind, count } → { host, records }; { cmd: 'stop' }.
 */
import { errorMessage } from '@p2m/core';
import { generateRecords, startEmulator } from '@p2m/emulator';
import { datasetOptions, DIM, metricOf, type DatasetKind, type DatasetShape } from './dataset.ts';

export const LATENCY = { latencyMs: 20, latencyJitterMs: 20, operations: ['list', 'fetch'] };
export const LATENCY_TEXT = '20–40 ms per list and fetch call (uniform), Pinecone serverless rate limits (list 200/s, fetch 100/s per index)';

interface LoadMessage {
  cmd: 'load';
  index: string;
  kind: DatasetKind;
  count: number;
  shape?: DatasetShape;
}

if (process.send) {
  const apiKey = process.env.BENCH_PINECONE_API_KEY ?? 'bench-api-key';
  const emulator = await startEmulator({ port: 0, apiKey, faults: LATENCY });
  process.on('message', (m: LoadMessage | { cmd: 'stop' }) => {
    void (async () => {
      if (m.cmd === 'stop') {
        await emulator.close();
        process.exit(0);
      }
      if (m.cmd === 'load') {
        await emulator.createIndex({ name: m.index, dimension: m.shape?.dim ?? DIM, metric: metricOf(m.kind) });
        const records = emulator.load(m.index, generateRecords(datasetOptions(m.kind, m.count, m.shape)));
        (globalThis as { gc?: () => void }).gc?.();
        process.send!({ cmd: 'loaded', index: m.index, host: emulator.indexHost(m.index), records });
      }
    })().catch((err: unknown) => {
      process.send!({ cmd: 'error', message: errorMessage(err) });
    });
  });
  process.send({ cmd: 'ready', controllerHostUrl: emulator.controllerHostUrl, apiKey });
}
