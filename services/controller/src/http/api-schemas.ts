import { z } from 'zod';
import {
  FieldNamesSchema,
  JOB_STATUSES,
  PipelineOptionsSchema,
  TargetSpecSchema,
  VERIFICATION_PHASES,
  type CollectionPlan,
  type DlqEntry,
  type ErrorsPage,
  type JobView,
} from '@p2m/core';
import { CollectionPlanSchema, TargetCapabilitiesSchema } from './plan-schemas.ts';

/**
 * The HTTP API's payloads as zod schemas: request validation, the OpenAPI document and the tests'
 * response checks all come from here. Request bodies for jobs reuse core's JobSpecSchema; the
 * response schemas mirror core's interfaces and are pinned to them at compile time (bottom of file),
 * so the document cannot drift from what the service returns.
 */

/** Job ids end up in Kafka topic names, so nothing outside Kafka's topic alphabet can be one. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9._-]{1,200}$/;

export const JobIdParamsSchema = z.object({ id: z.string().regex(JOB_ID_PATTERN) });

export const ReplayRequestSchema = z
  .object({
    /** Load into this collection instead of the job's own (a new one: the name must be free). */
    collection: TargetSpecSchema.shape.collection.optional(),
  })
  .strict();

export const ErrorsQuerySchema = z
  .object({
    cursor: z.string().max(1024, 'cursor is at most 1,024 characters').optional(),
    limit: z.coerce
      .number({ error: 'limit must be a number' })
      .int('limit must be an integer')
      .min(1, 'limit must be at least 1')
      .max(1000, 'limit must be at most 1,000')
      .optional(),
  })
  .strict();

const STATUS_LIST = new RegExp(`^(${JOB_STATUSES.join('|')})(,(${JOB_STATUSES.join('|')}))*$`);

export const JobsQuerySchema = z
  .object({
    status: z
      .string()
      .regex(STATUS_LIST, `status must be one or more of ${JOB_STATUSES.join(', ')}, comma-separated`)
      .optional(),
    limit: z.coerce
      .number({ error: 'limit must be a number' })
      .int('limit must be an integer')
      .min(1, 'limit must be at least 1')
      .max(1000, 'limit must be at most 1,000')
      .optional(),
    cursor: z.string().max(1024, 'cursor is at most 1,024 characters').optional(),
  })
  .strict();

const IssueSchema = z.object({ path: z.string(), message: z.string() });

export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    hint: z.string().optional(),
    /** One entry per offending field (400 SPEC_INVALID). */
    issues: z.array(IssueSchema).optional(),
    /** Correlates a 500 with the controller's log line. */
    requestId: z.string().optional(),
  }),
});
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

const count = z.number().int().min(0);
const timestamp = z.string();

export const NamespaceProgressSchema = z.object({
  namespace: z.string(),
  sourceCount: count,
  extracted: count,
  loaded: count,
  failed: count,
  extractionDone: z.boolean(),
});

const PhaseTimingSchema = z.object({ phase: z.enum(VERIFICATION_PHASES), seconds: z.number().min(0), done: z.boolean() });

/** While VERIFYING: the phase, each phase's time, reconciliation's counters and ETA. */
export const VerificationProgressSchema = z.object({
  phase: z.enum(VERIFICATION_PHASES),
  startedAt: timestamp,
  phases: z.array(PhaseTimingSchema),
  namespacesDone: count,
  namespaces: count,
  recordsChecked: count,
  recordsTotal: count,
  bucketsDone: count,
  buckets: count,
  etaSeconds: z.number().min(0).nullable(),
});

export const JobProgressSchema = z.object({
  namespaces: z.array(NamespaceProgressSchema),
  total: z.object({ sourceCount: count, extracted: count, loaded: count, failed: count }),
  recordsPerSecond: z.number().min(0),
  etaSeconds: z.number().min(0).nullable(),
  consumerLag: count,
  updatedAt: timestamp,
  offsetsAt: timestamp.nullable().optional(),
  verification: VerificationProgressSchema.optional(),
});

export const DlqEntrySchema = z.object({
  namespace: z.string(),
  id: z.string(),
  code: z.string(),
  reason: z.string(),
  at: timestamp,
  source: z.string().optional(),
});

const RecordMismatchSchema = z.object({ namespace: z.string(), id: z.string(), field: z.string(), reason: z.string() });

export const VerificationReportSchema = z.object({
  passed: z.boolean(),
  checkedAt: timestamp,
  namespaces: z.array(
    z.object({
      namespace: z.string(),
      sourceCount: count,
      extracted: count,
      targetCount: count,
      dlq: count,
      missing: count,
      missingSample: z.array(z.string()),
      changed: count.optional(),
      collisions: count.optional(),
      unexpected: count.optional(),
      ok: z.boolean(),
    }),
  ),
  namespacesTotal: count.optional(),
  sample: z.object({
    size: count,
    compared: count,
    mismatches: z.array(RecordMismatchSchema),
  }),
  changed: z.array(RecordMismatchSchema).optional(),
  unexpected: z.array(z.object({ namespace: z.string(), id: z.string() })).optional(),
  idCollisions: z.array(z.object({ namespace: z.string(), id: z.string(), heldBy: z.string() })).optional(),
  problems: z.array(z.string()),
  advice: z.array(z.string()).optional(),
  phases: z.array(PhaseTimingSchema).optional(),
  reconciliation: z
    .object({
      logRecords: count,
      distinctRecords: count,
      duplicateCopies: count,
      targetRows: count,
      expectedRows: z.number().int(),
      lookups: count,
      foundOnSecondRead: count.optional(),
      buckets: count,
      bucketsDrilled: count,
    })
    .optional(),
  dlqSample: z.array(DlqEntrySchema),
});

// The plan (`/plan`, and the `plan` of a job view) lives in its own module.
export { CollectionPlanSchema, TargetCapabilitiesSchema };

export const JobViewSchema = z.object({
  id: z.string(),
  status: z.enum(JOB_STATUSES),
  createdAt: timestamp,
  updatedAt: timestamp,
  mode: z.enum(['extract', 'replay']),
  topicJobId: z.string(),
  generation: z.number().int(),
  source: z.object({
    index: z.string(),
    controllerHostUrl: z.string().optional(),
    namespaces: z.array(z.string()).optional(),
  }),
  target: z.object({
    address: z.string(),
    collection: z.string(),
    description: z.string().optional(),
    partitionKey: z.boolean(),
    maxIdLength: z.number().int(),
    primaryKey: z.enum(['id', 'namespaceAndId']),
    fields: FieldNamesSchema,
  }),
  options: PipelineOptionsSchema,
  plan: CollectionPlanSchema.optional(),
  progress: JobProgressSchema,
  error: z.object({ code: z.string(), message: z.string(), at: z.string().optional() }).optional(),
  report: VerificationReportSchema.optional(),
});

export const JobListSchema = z.object({
  jobs: z.array(JobViewSchema),
  /** Jobs that match the status filter, on all pages together. */
  total: count,
  /** Pass as `cursor` for the next page; null on the last one. */
  next: z.string().nullable(),
  /** Every job counted by status, whatever the filter. */
  counts: z.record(z.enum(JOB_STATUSES), count),
});

export const ErrorsPageSchema = z.object({
  entries: z.array(DlqEntrySchema),
  total: count,
  next: z.string().nullable(),
});

export const HealthSchema = z.object({ status: z.literal('ok') });

// Compile-time pins: each schema's output type and core's interface must be assignable both ways.
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const schemasMatchCore: [
  Mutual<z.output<typeof JobViewSchema>, JobView>,
  Mutual<z.output<typeof CollectionPlanSchema>, CollectionPlan>,
  Mutual<z.output<typeof ErrorsPageSchema>, ErrorsPage>,
  Mutual<z.output<typeof DlqEntrySchema>, DlqEntry>,
] = [true, true, true, true];
