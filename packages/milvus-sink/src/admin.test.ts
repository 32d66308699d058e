import { execFileSync } from 'node:child_process';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { describe, expect, it } from 'vitest';
import { DATA_TYPES } from './admin.ts';

describe('the sink without the SDK', () => {
  it("writes the SDK's own DataType values", () => {
    expect(DATA_TYPES).toEqual({ VarChar: DataType.VarChar, FloatVector: DataType.FloatVector, SparseFloatVector: DataType.SparseFloatVector });
  });

  it('does not load the Milvus SDK until a call needs it (a loader writes, deletes and flushes without it)', () => {
    // A fresh process: this one has loaded the SDK above.
    const script = [
      "import { createRequire } from 'node:module';",
      "await import('@p2m/milvus-sink');",
      'const cache = Object.keys(createRequire(import.meta.url).cache);',
      "const client = (k) => k.includes('milvus2-sdk-node') && k.endsWith('MilvusClient.js');",
      'console.log(JSON.stringify({ client: cache.some(client), grpc: cache.some((k) => k.includes("@grpc/grpc-js")) }));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('.', import.meta.url), encoding: 'utf8' });
    // The sink's own channel (grpc-js) is loaded; the SDK's client is not.
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ client: false, grpc: true });
  });
});
