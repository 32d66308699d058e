export * from './options.ts';
export * from './stack.ts';
export { COMPONENTS, enabledComponents, MILVUS_STANDALONE, REPO_ROOT, SERVICE_NODE_ARGS, serviceArgs } from './components.ts';
export type { ComponentDefinition, ComponentSpec, RunningProcess, StackContext, StackEnv } from './components.ts';
export { APICURIO_VERSION, KAFKA_VERSION, MILVUS_LITE_VERSION, MILVUS_STANDALONE_VERSION, milvusLiteVersion, milvusStandaloneVersion } from './install.ts';
export { freePort, isPortFree } from './ports.ts';
export { procInfo } from './process.ts';
export * from './test-stack.ts';
