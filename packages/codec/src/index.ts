export { createReader, defineCodec, loadSchema, typeForSchema, TYPE_OPTIONS } from './avro-codec.ts';
export type { AvroCodec, AvroSchema, AvroType, CodecDefinition } from './avro-codec.ts';
export { createLogRecordCodec, decodeRecord, encodeRecord, logRecordCodec, logRecordSchema, PACKED } from './log-record.ts';
export type { VectorEncoding } from './log-record.ts';
export { avroStateCodec, checkpointCodec, jobStateCodec, workerStatusCodec } from './state.ts';
export type { CheckpointValue, JobStateValue, WorkerStatusValue } from './state.ts';
export { packFloat32, packUint32, unpackFloat32, unpackUint32, UINT32_MAX } from './packed.ts';
