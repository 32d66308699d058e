/**
 * The namespace benchmark's Pinecone: the emulator in a child process (its CPU is its own) at
 * Pinecone's serverless rate limits (the emulator's defaults: list 200/s, fetch 100/s per index)
 * with the bench's 20–40 ms latency on list and fetch, seeded in memory with `namespaces`
 * namespaces of `perNamespace` records each (generator, dim 8, no edge cases).
 * Messages: { cmd: 'load', index, namespaces, perNamespace, dim } → { host, records }; { cmd: 'stop' }.
 */
import { generateRecords, startEmulator } from '@p2m/emulator';

// The same latency as the main benchmark's emulator (emulator-child.ts, which starts an emulator
// when imported, so it is not imported here).
const LATENCY = { latencyMs: 20, latencyJitterMs: 20, operations: ['list', 'fetch'] };

interface LoadMessage {
  cmd: 'load';
  index: string;
  namespaces: number;
  perNamespace: number;
  dim: number;
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
        await emulator.createIndex({ name: m.index, dimension: m.dim, metric: 'cosine' });
        const data = { seed: 11, count: m.namespaces * m.perNamespace, dim: m.dim, namespaces: m.namespaces, edgeCases: false, float32: true };
        const records = emulator.load(m.index, generateRecords(data));
        process.send!({ cmd: 'loaded', index: m.index, host: emulator.indexHost(m.index), records });
      }
    })().catch((err: unknown) => {
      process.send!({ cmd: 'error', message: String(err) });
    });
  });
  process.send({ cmd: 'ready', controllerHostUrl: emulator.controllerHostUrl, apiKey });
}
