import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineCodec, logRecordCodec, logRecordSchema, type AvroSchema } from '@p2m/codec';
import { EtlError, type LogRecord } from '@p2m/core';
import { createRegistryCodec, registryError, setCompatibility } from './registry.ts';

/**
 * A minimal Confluent-API registry in memory: enough to test framing, id caching and error mapping
 * without a server. The real registry (Apicurio) is exercised by test/integration/registry-*.test.ts.
 */
function fakeRegistry() {
  const schemas: string[] = [];
  const config = new Map<string, string>();
  let schemaFetches = 0;
  let refuse = false;
  /** Apicurio's answer to a PUT on a subject whose rule exists (what a concurrent second PUT gets). */
  let ruleConflict = false;
  /** Another process sets this level at the same moment as every PUT (a real disagreement). */
  let overrideWith: string | null = null;
  let configPuts = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/vnd.schemaregistry.v1+json' });
        res.end(JSON.stringify(value));
      };
      const url = decodeURIComponent(req.url ?? '');
      let m: RegExpMatchArray | null;
      if ((m = url.match(/^\/config\/(.+)$/))) {
        if (req.method === 'PUT') {
          configPuts++;
          if (overrideWith) config.set(m[1]!, overrideWith);
          if ((ruleConflict || overrideWith) && config.has(m[1]!)) return send(409, { message: "A rule named 'COMPATIBILITY' already exists.", error_code: 0 });
          config.set(m[1]!, (JSON.parse(body) as { compatibility: string }).compatibility);
          return send(200, JSON.parse(body));
        }
        const level = config.get(m[1]!);
        return level ? send(200, { compatibilityLevel: level }) : send(404, { error_code: 40401, message: 'not found' });
      }
      if ((m = url.match(/^\/subjects\/(.+)\/versions$/)) && req.method === 'POST') {
        if (refuse) return send(409, { error_code: 409, message: 'Incompatible artifact' });
        const schema = (JSON.parse(body) as { schema: string }).schema;
        let id = schemas.indexOf(schema) + 1;
        if (id === 0) id = schemas.push(schema);
        return send(200, { id });
      }
      if ((m = url.match(/^\/schemas\/ids\/(\d+)$/))) {
        schemaFetches++;
        const schema = schemas[Number(m[1]) - 1];
        return schema ? send(200, { schema }) : send(404, { error_code: 40403, message: 'Schema not found' });
      }
      send(404, { message: `no route ${req.method} ${url}` });
    });
  });
  return {
    server,
    config,
    fetches: () => schemaFetches,
    refuse: (v: boolean) => (refuse = v),
    ruleConflict: (v: boolean) => (ruleConflict = v),
    overrideWith: (v: string | null) => (overrideWith = v),
    configPuts: () => configPuts,
  };
}

const record: LogRecord = { kind: 'vector', namespace: '', id: 'a', values: new Float32Array([1.5, -2]), sparse: null, metadata: { n: 1 } };

describe('registry codec', () => {
  const fake = fakeRegistry();
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => (fake.server as Server).close(() => r())));

  it('sets BACKWARD on <topic>-value, registers, and frames messages (magic 0, id, body)', async () => {
    const codec = await createRegistryCodec({ url, topic: 'p2m.job.j1.records' });
    expect(codec.subject).toBe('p2m.job.j1.records-value');
    expect(fake.config.get('p2m.job.j1.records-value')).toBe('BACKWARD');
    const framed = codec.encode(record);
    expect(framed[0]).toBe(0);
    expect(framed.readInt32BE(1)).toBe(codec.schemaId);
    expect(framed.subarray(5)).toEqual(logRecordCodec.encode(record));
    expect(await codec.decode(framed)).toEqual(record);
  });

  it('fetches an older writer schema once and resolves it to the reader schema', async () => {
    const older = logRecordSchema() as unknown as { fields: [{ type: [{ fields: { name: string }[] }] }] };
    // An "older" writer without the metadata field: the reader fills in its default (null).
    older.fields[0].type[0].fields = older.fields[0].type[0].fields.filter((f) => f.name !== 'metadata');
    const oldCodec = await createRegistryCodec<unknown>({
      url,
      topic: 'p2m.job.j2.records',
      compatibility: 'NONE',
      codec: defineCodec<unknown>({ name: 'old', schema: older as unknown as AvroSchema, toAvro: (v) => v, fromAvro: (v) => v }),
    });
    const avro = logRecordCodec.toAvro(record) as { body: Record<string, Record<string, unknown>> };
    delete avro.body['p2m.VectorRecord']!.metadata;
    const messages = [oldCodec.encode(avro), oldCodec.encode(avro), oldCodec.encode(avro)];

    const reader = await createRegistryCodec({ url, topic: 'p2m.job.j2.records', compatibility: 'NONE' });
    const before = fake.fetches();
    const decoded = await reader.decodeMany(messages);
    expect(decoded).toEqual([1, 2, 3].map(() => ({ ...record, metadata: null })));
    await reader.decode(messages[0]!);
    expect(fake.fetches() - before).toBe(1);
  });

  it('maps a refused schema to a permanent error and an unknown id to RECORD_INVALID', async () => {
    fake.refuse(true);
    await expect(createRegistryCodec({ url, topic: 'p2m.job.j3.records' })).rejects.toMatchObject({ code: 'INTERNAL', retriable: false });
    fake.refuse(false);
    const codec = await createRegistryCodec({ url, topic: 'p2m.job.j3.records' });
    const framed = codec.encode(record);
    framed.writeInt32BE(999, 1);
    await expect(codec.decode(framed)).rejects.toMatchObject({ code: 'RECORD_INVALID', retriable: false });
    await expect(codec.decode(Buffer.from([7, 0, 0, 0, 1, 2]))).rejects.toMatchObject({ code: 'RECORD_INVALID' });
  });

  it('takes "rule already exists" (a concurrent set-up won the race) as success when the level matches', async () => {
    fake.ruleConflict(true);
    try {
      fake.config.set('p2m.job.race.records-value', 'BACKWARD');
      const codecs = await Promise.all([1, 2, 3].map(() => createRegistryCodec({ url, topic: 'p2m.job.race.records' })));
      expect(new Set(codecs.map((c) => c.schemaId)).size).toBe(1);
      await expect(setCompatibility(url, 'p2m.job.race.records-value', 'BACKWARD')).resolves.toBeUndefined();
    } finally {
      fake.ruleConflict(false);
    }
  });

  it('sets the level again while another process keeps changing it, then gives up with a retriable error in words', async () => {
    fake.overrideWith('NONE');
    try {
      const before = fake.configPuts();
      const err = (await setCompatibility(url, 'p2m.job.fight.records-value', 'BACKWARD').catch((e: unknown) => e)) as EtlError;
      expect(err).toBeInstanceOf(EtlError);
      expect(err).toMatchObject({ code: 'TRANSIENT', retriable: true });
      expect(err.message).toContain('now NONE');
      expect(err.message).not.toContain('[object Object]');
      expect(fake.configPuts() - before).toBe(6);
    } finally {
      fake.overrideWith(null);
    }
  });

  it('never words an error "[object Object]"', () => {
    const refused = registryError({ status: 409, message: "A rule named 'COMPATIBILITY' already exists." }, 'set compatibility of s');
    expect(refused.message).toContain("409: A rule named 'COMPATIBILITY' already exists.");
    for (const thrown of [{ status: 500 }, { error: { code: 'X', message: 'broken' } }, {}, null, undefined]) {
      expect(registryError(thrown, 'register').message).not.toContain('[object Object]');
    }
  });

  it('treats an unreachable registry or a 5xx as retriable', () => {
    expect(registryError(new Error('connect ECONNREFUSED'), 'register')).toMatchObject({ code: 'TRANSIENT', retriable: true });
    expect(registryError({ status: 503, message: 'unavailable' }, 'register')).toMatchObject({ retriable: true });
    expect(registryError({ status: 422, message: 'invalid schema' }, 'register')).toMatchObject({ retriable: false });
  });
});
