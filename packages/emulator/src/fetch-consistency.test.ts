// fetch streams its answer in chunks (formatted on a worker thread when there is one) while
// writes keep running: every record it returns must still be the record stored under its id.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from './server.ts';
import type { Emulator } from './server.ts';

const KEY = 'consistency-key';
const DIM = 96;
let emulator: Emulator;
let host: string;

/** Values derived from the id and a version, so a reader can check what it got. */
function valuesFor(id: number, version: number): number[] {
  return Array.from({ length: DIM }, (_, d) => Math.fround(id + version / 8 + d / 1024));
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, apiKey: KEY, rateLimits: false, formatThreads: 1 });
  host = (await emulator.createIndex({ name: 'consistency', dimension: DIM })).host;
  emulator.load(
    'consistency',
    Array.from({ length: 3000 }, (_, i) => ({ id: `r${i}`, values: valuesFor(i, 0), metadata: { i } })),
  );
});

afterAll(async () => {
  await emulator?.close();
});

describe('fetch under concurrent writes', () => {
  it('never returns one record under another id', { timeout: 120_000 }, async () => {
    const headers = { 'Api-Key': KEY, 'content-type': 'application/json' };
    let stop = false;
    const writer = (async () => {
      for (let round = 1; !stop; round++) {
        // Delete a block and write new ids that reuse the freed slots, and rewrite others.
        const doomed = Array.from({ length: 200 }, (_, j) => `r${(round * 37 + j) % 3000}`);
        await fetch(`${host}/vectors/delete`, { method: 'POST', headers, body: JSON.stringify({ ids: doomed }) });
        const vectors = doomed.map((id) => ({ id, values: valuesFor(Number(id.slice(1)), round % 8), metadata: { i: Number(id.slice(1)) } }));
        await fetch(`${host}/vectors/upsert`, { method: 'POST', headers, body: JSON.stringify({ vectors }) });
      }
    })();
    const wrong: string[] = [];
    let checked = 0;
    try {
      for (let n = 0; n < 6; n++) {
        const ids = Array.from({ length: 1000 }, (_, j) => `r${(n * 211 + j * 3) % 3000}`);
        const res = await fetch(`${host}/vectors/fetch?${ids.map((id) => `ids=${id}`).join('&')}`, { headers });
        const body = (await res.json()) as { vectors: Record<string, { id: string; values: number[]; metadata: { i: number } }> };
        for (const [key, rec] of Object.entries(body.vectors)) {
          const i = Number(key.slice(1));
          const values = rec.values.map((v) => Math.fround(v)); // shortest decimals: equal to the stored float32 once rounded
          const expected = valuesFor(i, Math.round((values[0]! - i) * 8));
          checked++;
          if (rec.id !== key || rec.metadata.i !== i || Math.floor(values[0]!) !== i || values.some((v, d) => v !== expected[d])) {
            wrong.push(key);
          }
        }
      }
    } finally {
      stop = true;
      await writer;
    }
    expect(checked).toBeGreaterThan(3000);
    expect(wrong).toEqual([]);
  });
});
