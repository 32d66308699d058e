export { createMilvusSink, createSinkPool, type SinkPool } from './sink.ts';
export { QUIET_KEEPALIVE, writerKind, type MilvusSinkOptions, type MilvusWriterKind } from './connection.ts';
export { collectionFields, forgetCapabilities, schemaMismatch } from './admin.ts';
export { MAX_QUERY_ROWS } from './reader.ts';
export { MAX_REWRITES, MAX_REFUSED_IN_A_ROW } from './writer.ts';
export { encodeUpsertRequest, sparseRowBytes, hasSparseValues } from './upsert-request.ts';
export {
  buildRow,
  buildRows,
  rejectionReason,
  rowToRecord,
  outputFields,
  MAX_SPARSE_INDEX,
  MAX_DYNAMIC_FIELD_BYTES,
  type MilvusRow,
  type RejectedRecord,
} from './rows.ts';
export { quote as quoteFilterString, fieldEquals, fieldIn, namespaceScope, compareUtf8 } from './filter.ts';
export { statusFailed, toEtlError as milvusError } from './errors.ts';
export * from './health.ts';
