// Public API of the Pinecone-compatible emulator and its dataset generator.

export { startEmulator } from './server.ts';
export type { CreateIndexSpec, Emulator, EmulatorOptions, EmulatorStats, RecordInput } from './server.ts';
export { DEFAULT_RATE_LIMITS } from './rate-limit.ts';
export type { RateLimits } from './rate-limit.ts';
export type { FaultConfig } from './faults.ts';
export type { FsyncPolicy } from './store/wal.ts';
export { API_VERSIONS, DEFAULT_API_VERSION, LATEST_API_VERSION } from './api-version.ts';
export type { ApiVersion } from './api-version.ts';
export { LIMITS } from './validation.ts';
export type { Metric, VectorType } from './validation.ts';
export {
  EDGE_CASE_COUNT,
  METADATA_LIMIT_BYTES,
  SPARSE_LATE_START,
  expectedCounts,
  fewPerNamespaceCount,
  generateRecords,
  namespaceNames,
  recordAt,
} from './generator.ts';
export type { GeneratedRecord, GeneratorOptions, MetadataValue } from './generator.ts';
export { ODD_NAMESPACES, SHAPES, shapeNamed, shapeOptions } from './shapes.ts';
export type { Shape, ShapeName, ShapeOptions, ShapeRequest, ShapeSetting } from './shapes.ts';
export { seedIndex } from './seed.ts';
export type { SeedOptions, SeedResult } from './seed.ts';
export { float32Number, float32ToJson } from './float-json.ts';
export { encodeFetchAnswer, PINECONE_DATA_PROTO, VECTOR_SERVICE_PROTO, type FetchedVector } from './grpc-plane.ts';
