import { describe, expect, it } from 'vitest';
import { EtlError, parseJobSpec } from '@p2m/core';
import { specFromOptions } from './migrate.ts';

const base = { sourceIndex: 'idx', collection: 'c', loaders: '2', progress: false };

describe('p2m migrate options → job spec', () => {
  it('--primary-key namespaceAndId and --primary-key-field reach the spec, which accepts them', () => {
    const spec = specFromOptions({ ...base, primaryKey: 'namespaceAndId', primaryKeyField: 'key' }, { PINECONE_API_KEY: 'k' });
    expect(spec.target).toMatchObject({ primaryKey: 'namespaceAndId', fields: { primaryKey: 'key' } });
    expect(parseJobSpec(spec).target.primaryKey).toBe('namespaceAndId');
  });

  it('an unknown --primary-key is refused by the spec, naming the field', () => {
    const spec = specFromOptions({ ...base, primaryKey: 'uuid' }, { PINECONE_API_KEY: 'k' });
    let err: unknown;
    try {
      parseJobSpec(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EtlError);
    expect(String((err as EtlError).message) + JSON.stringify(err)).toMatch(/primaryKey/);
  });

  it('without the options the spec keeps the default (id keys)', () => {
    const spec = specFromOptions(base, { PINECONE_API_KEY: 'k' });
    expect(spec.target.primaryKey).toBeUndefined();
    expect(parseJobSpec(spec).target.primaryKey).toBe('id');
  });
});
