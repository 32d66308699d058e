// Job specs that must be refused, each with the path of every offending field: wrong types, missing
// fields, unknown fields, invalid collection and field names, names that clash with each other or
// with Milvus's reserved fields. And the controller's configuration: loopback unless told otherwise.
import { describe, expect, it } from 'vitest';
import { ControllerConfigSchema, readConfig } from './config.ts';
import { SpecError } from './errors.ts';
import { parseJobSpec, RESERVED_FIELD_NAMES } from './spec.ts';

const good = () => ({
  source: { apiKey: 'pc-key', index: 'docs' },
  target: { address: '127.0.0.1:19530', collection: 'docs' },
});

function refusal(input: unknown): SpecError {
  try {
    parseJobSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return err as SpecError;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

const paths = (input: unknown) =>
  refusal(input)
    .issues.map((i) => i.path)
    .sort();

describe('parseJobSpec refuses hostile specs, naming every field', () => {
  it('accepts the minimal spec and fills in defaults', () => {
    const spec = parseJobSpec(good());
    expect(spec.target.fields).toEqual({ id: 'id', primaryKey: 'pk', vector: 'vector', sparseVector: 'sparse_vector', namespace: 'namespace' });
    expect(spec.target.primaryKey).toBe('id');
    expect(spec.options.topicPartitions).toBe(6);
  });

  it('primaryKey is "id" or "namespaceAndId"; its field name must not clash only when it is used', () => {
    expect(paths({ ...good(), target: { ...good().target, primaryKey: 'both' } })).toEqual(['target.primaryKey']);
    // "pk" is free to be another field's name while the primary key is the id...
    expect(parseJobSpec({ ...good(), target: { ...good().target, fields: { id: 'pk' } } }).target.fields.id).toBe('pk');
    // ...and not in namespaceAndId mode, where the primary key field takes it.
    expect(paths({ ...good(), target: { ...good().target, primaryKey: 'namespaceAndId', fields: { id: 'pk' } } })).toEqual(['target.fields.primaryKey']);
  });

  it.each([
    ['a number for the API key', (s: any) => ((s.source.apiKey = 42), s), ['source.apiKey']],
    ['a string for topicPartitions', (s: any) => ((s.options = { topicPartitions: '6' }), s), ['options.topicPartitions']],
    ['an object for the collection', (s: any) => ((s.target.collection = { name: 'x' }), s), ['target.collection']],
    ['a boolean for partitionKey as a string', (s: any) => ((s.target.partitionKey = 'yes'), s), ['target.partitionKey']],
    ['a fractional maxIdLength', (s: any) => ((s.target.maxIdLength = 1.5), s), ['target.maxIdLength']],
    ['NaN-like numbers are not numbers', (s: any) => ((s.options = { batchBytes: 'NaN' }), s), ['options.batchBytes']],
    ['an array for the source', (s: any) => ((s.source = ['docs']), s), ['source']],
    ['null for the target', (s: any) => ((s.target = null), s), ['target']],
  ])('wrong type: %s', (_name, mutate, want) => {
    expect(paths(mutate(good()))).toEqual(want);
  });

  it.each([
    ['source', (s: any) => (delete s.source, s), ['source']],
    ['target', (s: any) => (delete s.target, s), ['target']],
    ['source.index', (s: any) => (delete s.source.index, s), ['source.index']],
    ['target.address', (s: any) => (delete s.target.address, s), ['target.address']],
    ['everything', () => ({}), ['source', 'target']],
  ])('missing: %s', (_name, mutate, want) => {
    expect(paths(mutate(good()))).toEqual(want);
  });

  it.each([
    ['at the top', (s: any) => ((s.dryRun = true), s), ['dryRun']],
    ['in source', (s: any) => ((s.source.environment = 'us-east-1'), s), ['source.environment']],
    ['in target', (s: any) => ((s.target.colection = 'typo'), s), ['target.colection']],
    ['in options', (s: any) => ((s.options = { batchSize: 10 }), s), ['options.batchSize']],
    ['in target.fields', (s: any) => ((s.target.fields = { metadata: 'meta' }), s), ['target.fields.metadata']],
    ['in rateLimits', (s: any) => ((s.options = { rateLimits: { queryPerSecond: 1 } }), s), ['options.rateLimits.queryPerSecond']],
  ])('unknown field %s', (_name, mutate, want) => {
    expect(paths(mutate(good()))).toEqual(want);
  });

  it.each(['1docs', 'docs-v2', 'docs v2', 'dócs', '', 'a'.repeat(256), 'docs;drop', '$meta'])('invalid collection name %j', (name) => {
    expect(new Set(paths({ ...good(), target: { ...good().target, collection: name } }))).toEqual(new Set(['target.collection']));
  });

  it.each(['my-id', '9vec', 'with space', '', 'x'.repeat(256)])('invalid field name %j', (name) => {
    expect(new Set(paths({ ...good(), target: { ...good().target, fields: { id: name } } }))).toEqual(new Set(['target.fields.id']));
  });

  it('two fields renamed to the same name (also when only the case differs)', () => {
    expect(paths({ ...good(), target: { ...good().target, fields: { id: 'key', vector: 'key' } } })).toEqual(['target.fields.vector']);
    expect(paths({ ...good(), target: { ...good().target, fields: { id: 'Key', namespace: 'key' } } })).toEqual(['target.fields.namespace']);
    // A field renamed onto another field's default name clashes too.
    expect(paths({ ...good(), target: { ...good().target, fields: { id: 'vector' } } })).toEqual(['target.fields.vector']);
  });

  it.each([...RESERVED_FIELD_NAMES].filter((n) => /^[A-Za-z_]/.test(n)))('a field named like the reserved Milvus field %j', (name) => {
    const err = refusal({ ...good(), target: { ...good().target, fields: { sparseVector: name } } });
    expect(err.issues.map((i) => i.path)).toEqual(['target.fields.sparseVector']);
    expect(err.issues[0]!.message).toMatch(/reserved by Milvus/);
  });

  it('a huge spec is refused by its bounds, not taken in', () => {
    const err = refusal({
      ...good(),
      target: { ...good().target, description: 'x'.repeat(1_000_000) },
      source: { ...good().source, namespaces: ['n'.repeat(10_000)] },
    });
    expect(err.issues.map((i) => i.path).sort()).toEqual(['source.namespaces.0', 'target.description']);
    // The message names the fields, not the megabyte of input.
    expect(err.message.length).toBeLessThan(500);
  });

  it('prototype keys are unknown fields, not prototypes', () => {
    const body = JSON.parse('{"source":{"apiKey":"k","index":"docs"},"target":{"address":"a","collection":"c"},"__proto__":{"polluted":true}}');
    expect(paths(body)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the controller listens on loopback unless configured otherwise', () => {
  const env = { P2M_SECRET_KEY: 'k'.repeat(32), P2M_API_TOKEN: 't'.repeat(32) };
  it('defaults to 127.0.0.1', () => {
    expect(readConfig(ControllerConfigSchema, env).P2M_CONTROLLER_HOST).toBe('127.0.0.1');
  });
  it('takes another address only when P2M_CONTROLLER_HOST says so', () => {
    expect(readConfig(ControllerConfigSchema, { ...env, P2M_CONTROLLER_HOST: '0.0.0.0' }).P2M_CONTROLLER_HOST).toBe('0.0.0.0');
  });
});
