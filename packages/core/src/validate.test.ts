import { describe, expect, it } from 'vitest';
import { MAX_DYNAMIC_FIELD_BYTES, metadataJson } from './validate.ts';

describe('metadataJson', () => {
  it("is the metadata's JSON as UTF-8, made once per metadata object", () => {
    const metadata = { title: 'Ünïcode ✓', year: 1991, rating: 2.895, published: true, tags: ['a', 'b'] };
    const json = metadataJson(metadata);
    expect(json.toString('utf8')).toBe(JSON.stringify(metadata));
    expect(json.length).toBe(Buffer.byteLength(JSON.stringify(metadata), 'utf8'));
    expect(metadataJson(metadata)).toBe(json); // the same bytes, not a second stringify
    const equal = { ...metadata };
    expect(metadataJson(equal)).not.toBe(json); // another object has its own
    expect(metadataJson(equal)).toEqual(json);
  });

  it('measures what the dynamic field limit is checked against', () => {
    const big = { text: 'é'.repeat(MAX_DYNAMIC_FIELD_BYTES / 2) };
    expect(metadataJson(big).length).toBe(MAX_DYNAMIC_FIELD_BYTES + '{"text":""}'.length);
  });
});
