import { z } from 'zod';
import { FieldNamesSchema } from '@p2m/core';

/** The collection plan's schema (`GET /v1/jobs/{id}/plan`, and `plan` in a job view); see api-schemas.ts. */

const count = z.number().int().min(0);

const EvidenceSchema = z.enum(['probed', 'documented', 'configured', 'unknown']);
const capability = <T extends z.ZodType>(value: T) => z.object({ value, how: EvidenceSchema, detail: z.string() });
const CAPABILITY_NAMES = [
  'sparseVectors',
  'nullableVectors',
  'emptySparseRows',
  'partitionKey',
  'upsertHonoursPartitionKey',
  'upsertReplacesDynamicField',
  'maxPartitions',
  'dynamicField',
  'persistsAcknowledgedWrites',
  'queryNeedsLoad',
  'indexNodesApart',
] as const;

/** What the target can do and how that is known (`/plan` shows it beside what the job does about it). */
export const TargetCapabilitiesSchema = z.object({
  serverVersion: z.string(),
  milvusVersion: z.string().nullable(),
  sparseVectors: capability(z.boolean()),
  nullableVectors: capability(z.boolean()),
  emptySparseRows: capability(z.boolean()),
  partitionKey: capability(z.boolean()),
  upsertHonoursPartitionKey: capability(z.boolean()),
  upsertReplacesDynamicField: capability(z.boolean()),
  maxPartitions: capability(z.number().int()),
  dynamicField: capability(z.boolean()),
  persistsAcknowledgedWrites: capability(z.boolean().nullable()),
  queryNeedsLoad: capability(z.boolean()),
  indexNodesApart: capability(z.boolean().nullable()).optional(),
});

export const CollectionPlanSchema = z.object({
  collection: z.string(),
  description: z.string(),
  fields: z.array(
    z.object({
      role: z.enum(['primaryKey', 'id', 'vector', 'sparseVector', 'namespace']),
      name: z.string(),
      dataType: z.enum(['VarChar', 'FloatVector', 'SparseFloatVector']),
      isPrimaryKey: z.boolean().optional(),
      isPartitionKey: z.boolean().optional(),
      nullable: z.boolean().optional(),
      maxLength: z.number().int().optional(),
      dim: z.number().int().optional(),
    }),
  ),
  enableDynamicField: z.literal(true),
  names: FieldNamesSchema,
  primaryKey: z.enum(['id', 'namespaceAndId']),
  primaryKeyField: z.string(),
  dimension: z.number().int().nullable(),
  hasDense: z.boolean(),
  hasSparse: z.boolean(),
  sparseRows: z.enum(['none', 'required', 'nullable', 'emptyRow']),
  maxIdLength: z.number().int(),
  primaryKeyMaxLength: z.number().int(),
  namespaceMode: z.enum(['partitionKey', 'partitions']),
  partitions: z.record(z.string(), z.string()),
  indexes: z.array(
    z.object({
      field: z.string(),
      indexType: z.enum(['AUTOINDEX', 'SPARSE_INVERTED_INDEX']),
      metricType: z.enum(['COSINE', 'L2', 'IP']),
    }),
  ),
  source: z.object({
    index: z.string(),
    metric: z.enum(['cosine', 'euclidean', 'dotproduct']),
    vectorType: z.enum(['dense', 'sparse']),
    namespaces: z.array(z.object({ name: z.string(), recordCount: count })),
    totalRecords: count,
  }),
  target: z
    .object({
      capabilities: TargetCapabilitiesSchema,
      decisions: z.array(
        z.object({
          capability: z.enum(CAPABILITY_NAMES),
          value: z.string(),
          how: EvidenceSchema,
          detail: z.string(),
          decision: z.string(),
        }),
      ),
    })
    .optional(),
  flushBeforeCommit: z.boolean(),
  deleteBeforeUpsert: z.boolean().optional(),
  indexesWithCollection: z.boolean().optional(),
});
