import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { VectorRecord } from '@p2m/core';
import { createReader, typeForSchema, type AvroSchema } from './avro-codec.ts';
import { logRecordCodec, logRecordSchema } from './log-record.ts';

/** The current record schema plus an optional field in VectorRecord, as a later version would add it. */
function evolvedSchema(): AvroSchema {
  const schema = logRecordSchema() as unknown as { fields: [{ type: [{ fields: unknown[] }] }] };
  schema.fields[0].type[0].fields.push({ name: 'sourceIndex', type: ['null', 'string'], default: null });
  return schema as unknown as AvroSchema;
}

const record: VectorRecord = {
  kind: 'vector',
  namespace: 'n',
  id: 'a',
  values: new Float32Array([1, 2]),
  sparse: null,
  metadata: { k: 1 },
};

describe('schema resolution', () => {
  it('a reader with an added optional field reads data written with the old schema', () => {
    const read = createReader(logRecordCodec.schema, evolvedSchema());
    const value = read(logRecordCodec.encode(record)) as { body: Record<string, { sourceIndex: unknown; id: string }> };
    expect(value.body['p2m.VectorRecord']!.sourceIndex).toBeNull();
    expect(value.body['p2m.VectorRecord']!.id).toBe('a');
  });

  it('the current codec reads data written with the evolved schema (the added field is skipped)', () => {
    const evolvedType = typeForSchema(evolvedSchema());
    const raw = logRecordCodec.type.fromBuffer(logRecordCodec.encode(record)) as { body: Record<string, Record<string, unknown>> };
    raw.body['p2m.VectorRecord']!.sourceIndex = 'idx';
    const written = evolvedType.toBuffer(raw);
    expect(logRecordCodec.readerFor(evolvedSchema())(written)).toEqual(record);
  });

  it('reads bytes as views on the message, the same with a writer schema built by plain avsc, and still reports truncation', () => {
    const schema = {
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: ['null', 'bytes'] },
        { name: 'b', type: 'bytes' },
      ],
    } as AvroSchema;
    const type = typeForSchema(schema);
    const buf = type.toBuffer({ a: Buffer.from([1, 2, 3]), b: Buffer.from([4, 5]) });
    const value = type.decode(buf).value as { a: Buffer; b: Buffer };
    expect([...value.a, ...value.b]).toEqual([1, 2, 3, 4, 5]);
    expect(value.a.buffer).toBe(buf.buffer); // no copy (avsc's own type copies into its pool)
    expect(value.b.buffer).toBe(buf.buffer);
    const writer = { type: 'record', name: 'R', fields: [{ name: 'x', type: 'int' }, ...(schema as unknown as { fields: object[] }).fields] };
    const written = avro.Type.forSchema(writer as never).toBuffer({ x: 1, a: null, b: Buffer.from([7]) });
    const resolved = createReader(writer as AvroSchema, schema)(written) as { a: null; b: Buffer };
    expect(resolved.a).toBeNull();
    expect([...resolved.b]).toEqual([7]);
    expect(resolved.b.buffer).toBe(written.buffer);
    expect(type.decode(buf.subarray(0, buf.length - 1)).offset).toBeLessThan(0);
  });

  it('refuses a writer schema the reader cannot resolve', () => {
    const incompatible = { type: 'record', name: 'LogRecord', namespace: 'p2m', fields: [{ name: 'body', type: 'long' }] } as AvroSchema;
    expect(() => logRecordCodec.readerFor(incompatible)).toThrow(/cannot read/);
  });
});
