export { createMilvusSink, collectionFields, schemaMismatch, writerKind, MAX_QUERY_ROWS, type MilvusSinkOptions, type MilvusWriterKind } from './sink.ts';
export { encodeUpsertRequest, sparseRowBytes } from './upsert-request.ts';
export { buildRow, buildRows, rejectionReason, rowToRecord, outputFields, MAX_SPARSE_INDEX, MAX_DYNAMIC_FIELD_BYTES, type MilvusRow, type RejectedRecord } from './rows.ts';
export { quote as quoteFilterString, fieldEquals, fieldIn, namespaceScope, compareUtf8 } from './filter.ts';
export { statusFailed, toEtlError as milvusError } from './errors.ts';
export * from './health.ts';
