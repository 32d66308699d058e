// --data-dir: indexes and records survive a restart (append-only log replayed at start), a torn
// tail left by a crash is cut off, and a deleted index leaves nothing behind.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateRecords } from './generator.ts';
import { startEmulator } from './server.ts';
import type { Emulator } from './server.ts';

const KEY = 'persist-key';
const dirs: string[] = [];
const running: Emulator[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p2m-emulator-'));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string): Promise<Emulator> {
  const emulator = await startEmulator({ port: 0, apiKey: KEY, dataDir, rateLimits: false, fsync: 'always' });
  running.push(emulator);
  return emulator;
}

async function call(url: string, method = 'GET', body?: unknown): Promise<any> {
  const res = await fetch(url, {
    method,
    headers: { 'Api-Key': KEY, 'content-type': 'application/json', 'X-Pinecone-Api-Version': '2025-10' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

async function snapshot(emulator: Emulator, index: string, ids: string[]): Promise<unknown> {
  const host = emulator.indexHost(index)!;
  const out: Record<string, unknown> = { stats: await call(`${host}/describe_index_stats`, 'POST', {}) };
  for (const ns of ['', 'ns-1', 'ns-2']) {
    const qs = ids.map((id) => `ids=${encodeURIComponent(id)}`).join('&');
    out[`fetch:${ns}`] = (await call(`${host}/vectors/fetch?${qs}&namespace=${ns}`)).vectors;
    out[`list:${ns}`] = (await call(`${host}/vectors/list?namespace=${ns}&limit=7`)).vectors;
  }
  out.namespaces = (await call(`${host}/namespaces`)).namespaces;
  return out;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('persistence', () => {
  it('replays every kind of write after a restart', async () => {
    const dir = tempDir();
    const data = { seed: 3, count: 600, dim: 8, namespaces: 3, sparse: true } as const;
    let emulator = await start(dir);
    await emulator.createIndex({ name: 'keep', dimension: 8, metric: 'dotproduct', deletionProtection: 'enabled', tags: { a: 'b' } });
    await emulator.createIndex({ name: 'keep-pod', dimension: 4, pod: true });
    await emulator.createIndex({ name: 'keep-sparse', vectorType: 'sparse' });
    emulator.load('keep', generateRecords(data));
    emulator.load('keep-sparse', generateRecords({ count: 50, dim: 0, sparse: 'only' }));
    const host = emulator.indexHost('keep')!;
    const ids = [...generateRecords(data)].slice(0, 40).map((r) => r.id);
    await call(`${host}/vectors/update`, 'POST', { id: ids[3], setMetadata: { updated: true }, namespace: 'ns-1' });
    await call(`${host}/vectors/update`, 'POST', { id: ids[0], values: [1, 2, 3, 4, 5, 6, 7, 8] });
    await call(`${host}/vectors/delete`, 'POST', { ids: ids.slice(6, 12), namespace: 'ns-2' });
    await call(`${host}/vectors/delete`, 'POST', { filter: { category: { $eq: 'news' } }, namespace: 'ns-1' });
    await call(`${host}/namespaces`, 'POST', { name: 'empty-but-kept' });
    await call(`${host}/vectors/upsert`, 'POST', { vectors: [{ id: 'tmp', values: [1, 1, 1, 1, 1, 1, 1, 1] }], namespace: 'dropped' });
    await call(`${host}/namespaces/dropped`, 'DELETE');
    await call(`${host}/vectors/upsert`, 'POST', { vectors: [{ id: 'tmp', values: [1, 1, 1, 1, 1, 1, 1, 1] }], namespace: 'emptied' });
    await call(`${host}/vectors/delete`, 'POST', { ids: ['tmp'], namespace: 'emptied' });
    await call(`${host}/namespaces`, 'POST', { name: 'with-schema', schema: { fields: { genre: { filterable: true } } } });
    const dedicated = { mode: 'Dedicated', dedicated: { node_type: 't1', scaling: 'Manual', manual: { replicas: 2, shards: 1 } } };
    await call(`${emulator.controllerHostUrl}/indexes/keep`, 'PATCH', { spec: { serverless: { read_capacity: dedicated } } });
    const before = await snapshot(emulator, 'keep', ids);
    expect((before as { namespaces: unknown[] }).namespaces).toEqual(
      expect.arrayContaining([
        { name: 'emptied', record_count: 0 },
        { name: 'with-schema', record_count: 0, schema: { fields: { genre: { filterable: true } } }, indexed_fields: { fields: ['genre'] } },
      ]),
    );
    const sparseBefore = await call(`${emulator.indexHost('keep-sparse')}/describe_index_stats`, 'POST', {});
    await emulator.close();

    emulator = await start(dir);
    expect(await snapshot(emulator, 'keep', ids)).toEqual(before);
    expect(await call(`${emulator.indexHost('keep-sparse')}/describe_index_stats`, 'POST', {})).toEqual(sparseBefore);
    const models = (await call(`${emulator.controllerHostUrl}/indexes`)).indexes;
    expect(models.map((m: { name: string }) => m.name).sort()).toEqual(['keep', 'keep-pod', 'keep-sparse']);
    const keep = models.find((m: { name: string }) => m.name === 'keep');
    expect(keep).toMatchObject({ deletion_protection: 'enabled', tags: { a: 'b' }, metric: 'dotproduct' });
    expect(keep.spec.serverless.read_capacity).toMatchObject(dedicated);
    expect(models.find((m: { name: string }) => m.name === 'keep-pod').spec.pod).toBeDefined();
    expect((await call(`${emulator.indexHost('keep')}/namespaces`)).namespaces.map((n: { name: string }) => n.name)).toContain('empty-but-kept');
  });

  it('cuts a torn tail off the log and goes on', async () => {
    const dir = tempDir();
    let emulator = await start(dir);
    await emulator.createIndex({ name: 'torn', dimension: 2 });
    emulator.load('torn', [
      { id: 'a', values: [1, 2] },
      { id: 'b', values: [3, 4] },
    ]);
    await emulator.close();
    const log = path.join(dir, 'indexes', 'torn', 'records.wal');
    const intact = fs.statSync(log).size;
    fs.appendFileSync(log, Buffer.from([200, 0, 0, 0, 1, 2, 3])); // a frame header promising 200 bytes, then a crash

    emulator = await start(dir);
    const host = emulator.indexHost('torn')!;
    expect((await call(`${host}/describe_index_stats`, 'POST', {})).totalVectorCount).toBe(2);
    expect(fs.statSync(log).size).toBe(intact);
    await call(`${host}/vectors/upsert`, 'POST', { vectors: [{ id: 'c', values: [5, 6] }] });
    await emulator.close();
    emulator = await start(dir);
    expect(Object.keys((await call(`${emulator.indexHost('torn')}/vectors/fetch?ids=a&ids=c`)).vectors).sort()).toEqual(['a', 'c']);
  });

  it('removes a deleted index from disk', async () => {
    const dir = tempDir();
    let emulator = await start(dir);
    await emulator.createIndex({ name: 'gone', dimension: 2 });
    emulator.load('gone', [{ id: 'a', values: [1, 2] }]);
    await emulator.deleteIndex('gone');
    expect(fs.existsSync(path.join(dir, 'indexes', 'gone'))).toBe(false);
    await emulator.close();
    emulator = await start(dir);
    expect((await call(`${emulator.controllerHostUrl}/indexes`)).indexes).toEqual([]);
  });
});
