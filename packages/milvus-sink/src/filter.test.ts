import { fullCapabilities } from '@p2m/testing';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseJobSpec, planCollection } from '@p2m/core';
import { and, compareUtf8, fieldEquals, fieldIn, namespaceScope, quote } from './filter.ts';

/** The reading Milvus gives a double-quoted literal: C escapes, everything else as it stands. */
function unquote(literal: string): string {
  expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
  const body = literal.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '"' || ch === '\n' || ch === '\r') throw new Error(`raw ${JSON.stringify(ch)} inside a literal at ${i}`);
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[++i];
    const escapes: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', r: '\r', t: '\t' };
    if (next === undefined || !(next in escapes)) throw new Error(`bad escape at ${i}`);
    out += escapes[next];
  }
  return out;
}

describe('quote', () => {
  it('escapes quotes, backslashes and line breaks', () => {
    expect(quote('plain')).toBe('"plain"');
    expect(quote('')).toBe('""');
    expect(quote('tab\there')).toBe('"tab\\there"');
    expect(quote('cr\rlf\n')).toBe('"cr\\rlf\\n"');
    expect(quote("it's ünïcode 🙂")).toBe('"it\'s ünïcode 🙂"');
    expect(quote('a"b')).toBe('"a\\"b"');
    expect(quote('a\\b')).toBe('"a\\\\b"');
    expect(quote('end\\')).toBe('"end\\\\"');
    expect(quote('\\"')).toBe('"\\\\\\""');
    expect(quote('l1\nl2\r\tx')).toBe('"l1\\nl2\\r\\tx"');
    expect(quote("it's")).toBe('"it\'s"');
    expect(quote('ünï 🚀 \u0001')).toBe('"ünï 🚀 \u0001"');
    expect(quote('')).toBe('""');
  });

  it('always reads back as the original string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(unquote(quote(s))).toBe(s);
      }),
      { numRuns: 500 },
    );
  });
});

describe('expressions', () => {
  it('builds equality, in-lists and conjunctions', () => {
    expect(fieldEquals('namespace', 'a"b')).toBe('namespace == "a\\"b"');
    expect(fieldIn('id', ['x', 'y\\'])).toBe('id in ["x", "y\\\\"]');
    expect(and('a == 1', null, '', 'b == 2')).toBe('(a == 1) && (b == 2)');
    expect(and('a == 1', null)).toBe('a == 1');
    expect(and(null)).toBe('');
  });

  it('scopes a namespace by field or by partition', () => {
    const make = (partitionKey: boolean) =>
      planCollection({
        spec: parseJobSpec({
          source: { apiKey: 'k', index: 'i' },
          target: { address: 'a', collection: 'c', partitionKey, fields: { id: 'pk', namespace: 'tenant' } },
        }),
        index: { name: 'i', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
        namespaces: [
          { name: '', recordCount: 1 },
          { name: 'a"b', recordCount: 1 },
        ],
        capabilities: fullCapabilities(),
      });
    expect(namespaceScope(make(true), 'a"b')).toEqual({ filter: 'tenant == "a\\"b"' });
    expect(namespaceScope(make(true), '')).toEqual({ filter: 'tenant == ""' });
    const parts = make(false);
    expect(namespaceScope(parts, '')).toEqual({ filter: 'pk >= ""', partitionNames: ['_default'] });
    expect(namespaceScope(parts, 'a"b').partitionNames).toEqual([parts.partitions['a"b']]);
    expect(() => namespaceScope(parts, 'other')).toThrow(/no partition/);
  });

  it('orders strings by UTF-8 bytes, as Milvus compares VARCHAR', () => {
    // UTF-16 order puts U+FF5E after U+1F680's surrogates; UTF-8 order puts it before.
    expect(['🚀', '～', 'b', 'a'].sort(compareUtf8)).toEqual(['a', 'b', '～', '🚀']);
    expect(['🚀', '～'].sort()).toEqual(['🚀', '～']);
  });
});
