import type { CollectionPlan, MilvusTarget, SinkWriterOptions } from '@p2m/core';
import { createAdmin } from './admin.ts';
import { openConnection, type MilvusSinkOptions } from './connection.ts';
import { createReader } from './reader.ts';
import { createWriter } from './writer.ts';

/**
 * The Milvus / Zilliz Cloud adapter (`MilvusTarget`), the only code that imports the Milvus SDK.
 * One connection, seen through three ports: the controller's set-up (admin: capabilities, the
 * collection), the loader (writer: write, preCommit), verification (reader). It writes against
 * Milvus semantics and guards for Milvus Lite's deviations where they differ (see README.md).
 */
export function createMilvusSink(options: MilvusSinkOptions): MilvusTarget {
  const conn = openConnection(options);
  const admin = createAdmin(conn, options.token);
  const reader = createReader(conn);
  return {
    ...admin,
    ...reader,
    writer: (plan: CollectionPlan, writerOptions: SinkWriterOptions) => createWriter(conn, plan, reader, writerOptions),
    close: () => conn.close(),
  };
}
