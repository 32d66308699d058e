import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtlError, type PineconeSourcePort, type SourceVector } from '@p2m/core';
import { SHAPES, generateRecords, seedIndex, shapeOptions, startEmulator, type Emulator, type ShapeName } from '@p2m/emulator';
import { createPineconeSource, transportOf } from './source.ts';

/**
 * The gRPC fetch path proven equal to the SDK's REST path, record for record, on every index shape
 * the emulator has (hybrid with partial sparse values, sparse only, ids reused in every namespace,
 * namespaces Milvus cannot name, many namespaces, every metadata type) and on the generator's edge
 * cases (long and non-ASCII ids, extreme floats). The emulator serves both planes on the index's
 * port; its gRPC answers are encoded by protobufjs, not by the reader under test.
 */

/** What a record is, transport aside: floats by their bits, so -0 and NaN payloads count. */
function normalize(v: SourceVector): unknown {
  const bits = (a: ArrayLike<number> | undefined): number[] => Array.from(new Uint32Array(Float32Array.from(a ?? []).buffer));
  return {
    id: v.id,
    values: bits(v.values),
    sparse: v.sparseValues && v.sparseValues.indices.length > 0 ? { indices: Array.from(v.sparseValues.indices), values: bits(v.sparseValues.values) } : null,
    metadata: v.metadata ?? null,
  };
}

async function allIds(source: PineconeSourcePort, namespace: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | null = null;
  do {
    const page = await source.listPage(namespace, token);
    ids.push(...page.ids);
    token = page.next;
  } while (token);
  return ids;
}

describe('gRPC fetch (P2M_PINECONE_TRANSPORT=grpc) against the SDK REST fetch', () => {
  let emulator: Emulator;
  const sources = (index: string, apiKey = emulator.apiKey) => ({
    rest: createPineconeSource({ apiKey, index, controllerHostUrl: emulator.controllerHostUrl, transport: 'rest' }),
    grpc: createPineconeSource({ apiKey, index, controllerHostUrl: emulator.controllerHostUrl, transport: 'grpc' }),
  });

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, rateLimits: false });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  const cases: { index: string; seed: () => Promise<unknown>; records: () => number }[] = [];
  // Small sizes, each allowed by its shape (sparse-late needs its own count to reach the sparse records).
  const requests: Record<ShapeName, Parameters<typeof shapeOptions>[1]> = {
    'hybrid-partial-sparse': { count: 600 },
    'sparse-late': {},
    'sparse-only': { count: 600 },
    'reused-ids': { count: 600 },
    'odd-namespaces': { count: 900 },
    'many-namespaces': { namespaces: 120 },
    'metadata-mix': { count: 600 },
  };
  for (const shape of SHAPES) {
    const small = shapeOptions(shape.name, requests[shape.name]);
    cases.push({
      index: `grpc-${shape.name}`,
      seed: () => seedIndex({ ...small, index: `grpc-${shape.name}`, url: emulator.controllerHostUrl, apiKey: emulator.apiKey }),
      records: () => [...generateRecords(small)].length,
    });
  }
  const edge = { seed: 5, count: 700, dim: 24, namespaces: 3, sparse: true as const };
  cases.push({
    index: 'grpc-edge-cases',
    seed: () => seedIndex({ ...edge, index: 'grpc-edge-cases', url: emulator.controllerHostUrl, apiKey: emulator.apiKey }),
    records: () => [...generateRecords(edge)].length,
  });

  for (const c of cases) {
    it(`${c.index}: every record equal through both transports`, async () => {
      await c.seed();
      const { rest, grpc } = sources(c.index);
      let compared = 0;
      for (const { name } of await rest.listNamespaces()) {
        const ids = await allIds(rest, name);
        for (let i = 0; i < ids.length; i += 100) {
          // A page as the extractor asks for it, plus an id that is not there and one asked twice.
          const page = [...ids.slice(i, i + 100), 'p2m-absent-id', ids[i]!];
          const [viaRest, viaGrpc] = await Promise.all([rest.fetch(name, page), grpc.fetch(name, page)]);
          expect(viaGrpc.map(normalize)).toEqual(viaRest.map(normalize));
          for (const v of viaGrpc) if (v.values && v.values.length > 0) expect(v.values).toBeInstanceOf(Float32Array);
          compared += viaGrpc.length;
        }
      }
      expect(compared).toBe(c.records());
    }, 120_000);
  }

  it('fails the way REST fails: refused key, rate limit, unreachable host', async () => {
    await seedIndex({ seed: 1, count: 20, dim: 4, namespaces: 1, index: 'grpc-errors', url: emulator.controllerHostUrl, apiKey: emulator.apiKey });
    const ids = await allIds(sources('grpc-errors').rest, '');

    const wrongKey = createPineconeSource({ apiKey: emulator.apiKey, index: 'grpc-errors', controllerHostUrl: emulator.controllerHostUrl, transport: 'grpc' });
    // Resolve the host with the right key, then present a wrong one to the data plane.
    const host = emulator.indexHost('grpc-errors')!;
    const refused = await import('./grpc-fetch.ts').then(({ createGrpcFetcher }) => createGrpcFetcher({ host, apiKey: 'not-the-key', timeoutMs: 5_000 }));
    const err = await refused.fetch('', ids, { index: 'grpc-errors', operation: 'fetch' }).catch((e: unknown) => e);
    refused.close();
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).code).toBe('SOURCE_UNAUTHORIZED');
    expect((err as EtlError).retriable).toBe(false);
    expect((await wrongKey.fetch('', ids.slice(0, 3))).length).toBe(3);

    const limited = await startEmulator({ port: 0, rateLimits: { fetch: 1 } });
    try {
      await seedIndex({ seed: 1, count: 5, dim: 4, namespaces: 1, index: 'limited', url: limited.controllerHostUrl, apiKey: limited.apiKey });
      const grpc = createPineconeSource({ apiKey: limited.apiKey, index: 'limited', controllerHostUrl: limited.controllerHostUrl, transport: 'grpc' });
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => grpc.fetch('', ['r0'])));
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as EtlError);
      expect(rejected.length).toBeGreaterThan(0);
      for (const e of rejected) {
        expect(e.code).toBe('RATE_LIMITED');
        expect(e.retriable).toBe(true);
        expect(e.details?.['retryAfterMs']).toBe(1000);
      }
    } finally {
      await limited.close();
    }

    const gone = await import('./grpc-fetch.ts').then(({ createGrpcFetcher }) =>
      createGrpcFetcher({ host: 'http://127.0.0.1:9', apiKey: 'k', timeoutMs: 5_000 }),
    );
    const down = await gone.fetch('', ['a'], { index: 'x', operation: 'fetch' }).catch((e: unknown) => e);
    gone.close();
    expect((down as EtlError).code).toBe('TRANSIENT');
    expect((down as EtlError).retriable).toBe(true);
  }, 60_000);

  it('P2M_PINECONE_TRANSPORT chooses the transport and refuses anything else by name', () => {
    expect(transportOf(undefined, {})).toBe('rest');
    expect(transportOf(undefined, { P2M_PINECONE_TRANSPORT: 'grpc' })).toBe('grpc');
    expect(transportOf('rest', { P2M_PINECONE_TRANSPORT: 'grpc' })).toBe('rest');
    expect(() => transportOf(undefined, { P2M_PINECONE_TRANSPORT: 'GRPC' })).toThrow(/P2M_PINECONE_TRANSPORT must be "rest" or "grpc", got "GRPC"/);
  });
});
