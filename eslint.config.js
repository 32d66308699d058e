import tseslint from 'typescript-eslint';

/**
 * The dependency rules of the design (one adapter per external system, a core without SDKs,
 * services that never import each other, no test code in production), as import restrictions.
 * ESLint's last matching block wins for a rule, so each area gets its whole list in one block.
 */
const SDKS = {
  kafka: ['kafkajs', 'kafkajs/*', '@kafkajs/confluent-schema-registry', '@kafkajs/confluent-schema-registry/*'],
  pinecone: ['@pinecone-database/pinecone', '@pinecone-database/pinecone/*', 'pinecone-v6', 'pinecone-v6/*'],
  milvus: ['@zilliz/milvus2-sdk-node', '@zilliz/milvus2-sdk-node/*'],
  // gRPC itself: Milvus's protocol, and Pinecone's data plane (the extractor's gRPC fetch).
  grpc: ['@grpc/grpc-js', '@grpc/grpc-js/*'],
};
const SDK_OWNER = {
  kafka: '@p2m/kafka (packages/kafka)',
  pinecone: '@p2m/pinecone-source',
  milvus: '@p2m/milvus-sink',
  grpc: '@p2m/milvus-sink and @p2m/pinecone-source',
};
const TEST_ONLY = ['@p2m/testing', '@p2m/testing/*', '@p2m/controller/testing', 'testcontainers', 'testcontainers/*', 'vitest', 'vitest/*', 'fast-check'];
const SERVICES = ['controller', 'extractor', 'loader'];
const SERVERS = ['fastify', 'fastify/*', 'prom-client'];

const sdkGroups = (...except) =>
  Object.entries(SDKS)
    .filter(([system]) => !except.includes(system))
    .map(([system, group]) => ({ group, message: `only ${SDK_OWNER[system]} imports this system's client: go through its port (packages/core/src/ports.ts)` }));
const deepImport = {
  group: ['**/packages/*/src/**', '**/services/*/src/**'],
  message: 'import the package by its entry point (@p2m/<name>), not a file inside it',
};
const testOnly = {
  group: TEST_ONLY,
  message: 'test code (fakes, test stacks) never ships in production code: use it from *.test.ts, *.fixture.ts or a testing/ folder',
};
const otherServices = (own) => ({
  group: SERVICES.filter((s) => s !== own).flatMap((s) => [`@p2m/${s}`, `@p2m/${s}/*`]),
  message: 'services never import each other: share through a package (packages/*)',
});
const restrict = (patterns) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns }] });

/** Test code: fakes and SDKs are fine, reaching into another package's files or another service is not. */
const TEST_FILES = [
  '**/*.test.ts',
  '**/*.fixture.ts',
  '**/src/testing/**',
  '**/conformance/**',
  'services/controller/src/http/harness.ts',
  'services/controller/src/http/preview.ts',
  'packages/testing/**',
];

const areas = [
  {
    files: 'packages/core/src/**/*.ts',
    patterns: [...sdkGroups(null), { group: [...SERVERS, '@p2m/*'], message: 'the core imports no server and no other p2m package' }, testOnly],
  },
  { files: 'packages/kafka/src/**/*.ts', patterns: [...sdkGroups('kafka'), testOnly, deepImport] },
  { files: 'packages/pinecone-source/src/**/*.ts', patterns: [...sdkGroups('pinecone', 'grpc'), testOnly, deepImport] },
  { files: 'packages/milvus-sink/src/**/*.ts', patterns: [...sdkGroups('milvus', 'grpc'), testOnly, deepImport] },
  { files: 'packages/{codec,emulator,stack,cli}/src/**/*.ts', patterns: [...sdkGroups(null), testOnly, deepImport] },
  ...SERVICES.map((s) => ({ files: `services/${s}/src/**/*.ts`, patterns: [...sdkGroups(null), testOnly, otherServices(s), deepImport] })),
];
/** Test code of an area: fakes and SDKs are fine; another service, or a file inside another package, is not. */
const testAreas = [
  { files: 'packages/*/src/**/*.ts', patterns: [deepImport] },
  ...SERVICES.map((s) => ({ files: `services/${s}/src/**/*.ts`, patterns: [otherServices(s), deepImport] })),
  { files: '{test,bench}/**/*.ts', patterns: [deepImport] },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.p2m/**', '.p2m-test/**', 'bench/results/**', 'test-artifacts/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  ...areas.map((a) => ({ files: [a.files], ignores: TEST_FILES, rules: restrict(a.patterns) })),
  // A nested array is an intersection: files of the area that are test code.
  ...testAreas.map((a) => ({ files: a.files.startsWith('{test') ? [a.files] : TEST_FILES.map((t) => [a.files, t]), rules: restrict(a.patterns) })),
);
