import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The dependency rules of the design, enforced by ESLint (eslint.config.js): code is linted as if
 * it stood at a path of the repository, and each rule must both refuse what it forbids and let the
 * allowed through.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Import rules need no type information: lint without the project service, so paths can be made up.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: { parserOptions: { projectService: false } },
      rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off', '@typescript-eslint/await-thenable': 'off' },
    },
  ],
});

async function refusals(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  return result!.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('dependency rules', () => {
  it('refuse a fixture that imports SDKs outside their adapters', async () => {
    const fixture = readFileSync(`${ROOT}test/fixtures/dependency-rules/adapter-bypass.ts`, 'utf8');
    const found = await refusals('services/loader/src/adapter-bypass.ts', fixture);
    expect(found).toEqual([
      expect.stringMatching(/no-restricted-imports: .*only @p2m\/kafka/),
      expect.stringMatching(/no-restricted-imports: .*only @p2m\/milvus-sink/),
    ]);
  });

  const cases: [string, string, RegExp | null][] = [
    ['packages/kafka/src/x.ts', "import { Kafka } from 'kafkajs';", null],
    ['packages/milvus-sink/src/x.ts', "import { MilvusClient } from '@zilliz/milvus2-sdk-node';", null],
    ['packages/pinecone-source/src/x.ts', "import { Pinecone } from '@pinecone-database/pinecone';", null],
    ['packages/pinecone-source/src/x.ts', "import { Kafka } from 'kafkajs';", /only @p2m\/kafka/],
    ['services/controller/src/jobs/x.ts', "import { Pinecone } from '@pinecone-database/pinecone';", /only @p2m\/pinecone-source/],
    ['packages/core/src/x.ts', "import fastify from 'fastify';", /no server/],
    ['packages/core/src/x.ts', "import { encodeRecord } from '@p2m/codec';", /no other p2m package/],
    ['services/controller/src/x.ts', "import { LoaderWorker } from '@p2m/loader';", /services never import each other/],
    ['services/loader/src/x.test.ts', "import { ExtractorWorker } from '@p2m/extractor';", /services never import each other/],
    ['services/loader/src/x.ts', "import { InMemoryLog } from '@p2m/testing';", /test code .* never ships/],
    ['packages/stack/src/x.ts', "import { GenericContainer } from 'testcontainers';", /test code .* never ships/],
    ['services/loader/src/x.test.ts', "import { InMemoryLog } from '@p2m/testing';", null],
    ['services/controller/src/testing/x.ts', "import { InMemoryLog } from '@p2m/testing';", null],
    ['packages/emulator/src/conformance/x.test.ts', "import { Pinecone } from '@pinecone-database/pinecone';", null],
    ['test/unit/x.test.ts', "import { startRuntime } from '../../packages/cli/src/runtime.ts';", /entry point/],
    ['bench/x.ts', "import { createControllerServer } from '../services/controller/src/http/server.ts';", /entry point/],
    ['test/unit/x.test.ts', "import { startRuntime } from '@p2m/cli';", null],
  ];
  for (const [path, code, refused] of cases) {
    it(`${refused ? 'refuses' : 'allows'} in ${path}: ${code}`, async () => {
      const found = await refusals(path, code);
      if (refused) expect(found).toEqual([expect.stringMatching(refused)]);
      else expect(found).toEqual([]);
    });
  }
});
