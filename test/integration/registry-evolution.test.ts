// Schema evolution through the real registry: the subject is BACKWARD, a reader with an added
// optional field reads what the old schema wrote, and an incompatible schema is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineCodec, logRecordCodec, logRecordSchema, type AvroSchema } from '@p2m/codec';
import { EtlError, type LogRecord, type VectorRecord } from '@p2m/core';
import { createKafka, createRegistryCodec, type KafkaClient } from '@p2m/kafka';
import { getTestStack } from './stack.ts';

type Fields = { name: string; type: unknown; default?: unknown }[];
type Envelope = { fields: [{ type: [{ fields: Fields }, { fields: Fields }] }] };

/** v2 of the record schema: VectorRecord gains an optional field with a default. */
function evolved(): AvroSchema {
  const schema = logRecordSchema() as unknown as Envelope;
  schema.fields[0].type[0].fields.push({ name: 'sourceHost', type: ['null', 'string'], default: null });
  return schema as unknown as AvroSchema;
}

/** Not BACKWARD compatible: a new required field without a default (old records have no value for it). */
function incompatible(): AvroSchema {
  const schema = logRecordSchema() as unknown as Envelope;
  schema.fields[0].type[0].fields.push({ name: 'tenant', type: 'string' });
  return schema as unknown as AvroSchema;
}

/** A codec over raw Avro values, for schemas the pipeline does not (yet) map to its record model. */
const rawCodec = (name: string, schema: AvroSchema) => defineCodec<unknown>({ name, schema, toAvro: (v) => v, fromAvro: (v) => v });

const record: VectorRecord = {
  kind: 'vector',
  namespace: 'ns',
  id: 'doc-1',
  values: new Float32Array([0.1, 0.2, 0.3]),
  sparse: { indices: [3, 4294967295], values: new Float32Array([0.5, 0.25]) },
  metadata: { genre: 'drama', year: 1994, score: 8.5, tags: ['x'] },
};

describe('schema registry evolution (real registry)', () => {
  const stack = () => getTestStack();
  const topic = `p2m.test.evolution.${Date.now()}`;
  const subject = `${topic}-value`;
  let kafka: KafkaClient;

  beforeAll(() => {
    kafka = createKafka({ brokers: stack().kafka.brokers, clientId: 'p2m-test-evolution', logLevel: 'error' });
  });
  afterAll(async () => {
    await kafka?.close();
  });

  it('registers the record schema under <topic>-value with BACKWARD compatibility', async () => {
    const v1 = await createRegistryCodec({ url: stack().registry.url, topic });
    expect(v1.subject).toBe(subject);
    const res = await fetch(`${stack().registry.url}/config/${subject}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe('BACKWARD');

    // Wire format: magic byte 0, the schema id, the Avro body.
    const framed = v1.encode(record);
    expect(framed[0]).toBe(0);
    expect(framed.readInt32BE(1)).toBe(v1.schemaId);
    expect(framed.subarray(5)).toEqual(logRecordCodec.encode(record));
    expect(await v1.decode(framed)).toEqual(record);

    // Registering the same schema again is idempotent.
    const again = await createRegistryCodec({ url: stack().registry.url, topic });
    expect(again.schemaId).toBe(v1.schemaId);
  });

  it('a reader with an evolved schema decodes records written with the old one, through a real topic', async () => {
    const v1 = await createRegistryCodec<LogRecord>({ url: stack().registry.url, topic });
    const v2 = await createRegistryCodec<unknown>({ url: stack().registry.url, topic, codec: rawCodec('log-record-v2', evolved()) });
    expect(v2.schemaId).not.toBe(v1.schemaId);

    await kafka.admin().ensureTopic({ topic, partitions: 1 });
    const producer = kafka.producer();
    await producer.send(topic, [{ key: 'ns\u0000doc-1', value: v1.encode(record) }]);
    await producer.close();
    const [message] = await kafka.readTopicToEnd(topic);
    await kafka.admin().deleteTopic(topic);

    const read = (await v2.decode(message!.value!)) as { body: Record<string, Record<string, unknown>> };
    const vector = read.body['p2m.VectorRecord']!;
    expect(vector.sourceHost).toBeNull(); // the added field takes its default
    expect(vector.id).toBe('doc-1');
    expect(logRecordCodec.fromAvro(read)).toEqual(record);

    // And the other way: the current reader reads what v2 wrote (the extra field is skipped).
    const written = v2.encode({
      body: {
        'p2m.VectorRecord': { ...(logRecordCodec.toAvro(record) as { body: Record<string, object> }).body['p2m.VectorRecord'], sourceHost: 'pinecone-a' },
      },
    });
    expect(written.readInt32BE(1)).toBe(v2.schemaId);
    const fresh = await createRegistryCodec<LogRecord>({ url: stack().registry.url, topic });
    expect(await fresh.decodeMany([written, v1.encode(record)])).toEqual([record, record]);
  });

  it('the registry refuses an incompatible change', async () => {
    const attempt = createRegistryCodec<unknown>({ url: stack().registry.url, topic, codec: rawCodec('log-record-bad', incompatible()) });
    await expect(attempt).rejects.toBeInstanceOf(EtlError);
    await expect(attempt).rejects.toMatchObject({ retriable: false, message: expect.stringMatching(/not compatible/) });
  });

  it('a message with an id the registry does not know is a permanent decode error', async () => {
    const v1 = await createRegistryCodec<LogRecord>({ url: stack().registry.url, topic });
    const unknown = Buffer.from(v1.encode(record));
    unknown.writeInt32BE(987_654_321, 1);
    await expect(v1.decode(unknown)).rejects.toMatchObject({ code: 'RECORD_INVALID', retriable: false });
    await expect(v1.decode(Buffer.from([1, 2, 3]))).rejects.toMatchObject({ code: 'RECORD_INVALID' });
  });

  it('an unreachable registry is a retriable error', async () => {
    await expect(createRegistryCodec({ url: 'http://127.0.0.1:1/apis/ccompat/v7', topic })).rejects.toMatchObject({ code: 'TRANSIENT', retriable: true });
  });
});
