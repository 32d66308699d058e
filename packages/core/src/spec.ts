import { z } from 'zod';
import { SpecError, type FieldIssue } from './errors.ts';

/**
 * The job spec (DESIGN.md, `POST /v1/jobs`). One zod schema is the single source of validation,
 * TypeScript types and the OpenAPI document. Defaults live here.
 */

/** Milvus collection and field names: a letter or underscore, then letters, digits, underscores. */
export const MILVUS_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MILVUS_NAME_MAX = 255;
/** Names Milvus keeps for itself; a field must not take one. */
export const RESERVED_FIELD_NAMES = new Set(['$meta', '_default', 'row_count', 'RowID', 'Timestamp']);
export const DEFAULT_MAX_ID_LENGTH = 512;
export const MAX_VARCHAR_LENGTH = 65_535;
export const MILVUS_REQUEST_LIMIT_BYTES = 64 * 1024 * 1024;

const milvusName = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(MILVUS_NAME_MAX, `${what} must be at most ${MILVUS_NAME_MAX} characters`)
    .regex(MILVUS_NAME, `${what} must start with a letter or underscore and contain only letters, digits and underscores`);

export const FieldNamesSchema = z
  .object({
    id: milvusName('the id field name').default('id'),
    /** The primary key field in `primaryKey: "namespaceAndId"` mode (unused in `"id"` mode, where `id` is the key). */
    primaryKey: milvusName('the primary key field name').default('pk'),
    vector: milvusName('the vector field name').default('vector'),
    sparseVector: milvusName('the sparse vector field name').default('sparse_vector'),
    namespace: milvusName('the namespace field name').default('namespace'),
  })
  .strict();

export const SourceSpecSchema = z
  .object({
    apiKey: z.string().min(1, 'the Pinecone API key is required'),
    index: z
      .string()
      .min(1, 'the source index name is required')
      .max(45, 'Pinecone index names are at most 45 characters')
      .regex(/^[a-z0-9-]+$/, 'Pinecone index names contain only lowercase letters, digits and hyphens'),
    controllerHostUrl: z.url('controllerHostUrl must be a URL such as http://127.0.0.1:5080').optional(),
    /** A subset of namespaces to migrate ('' or '__default__' = the default one); all when absent. */
    namespaces: z.array(z.string().max(512)).min(1, 'namespaces, when given, lists at least one').optional(),
  })
  .strict();

export const TargetSpecSchema = z
  .object({
    address: z.string().min(1, 'the Milvus address is required, e.g. 127.0.0.1:19530 or https://<cluster>.zillizcloud.com'),
    token: z.string().optional(),
    collection: milvusName('the collection name'),
    description: z.string().max(1024, 'the description is at most 1,024 characters').optional(),
    partitionKey: z.boolean().default(true),
    maxIdLength: z
      .number()
      .int('maxIdLength must be an integer')
      .min(1, 'maxIdLength must be at least 1')
      .max(MAX_VARCHAR_LENGTH, `maxIdLength must be at most ${MAX_VARCHAR_LENGTH}`)
      .default(DEFAULT_MAX_ID_LENGTH),
    /**
     * What the Milvus primary key holds. `id` (default, the Zilliz console's mapping): the Pinecone id,
     * so an id present in two namespaces is one row (the second copy goes to the DLQ). `namespaceAndId`:
     * the field `fields.primaryKey` holds `namespaceAndIdKey(namespace, id)`, the Pinecone id is kept in
     * the VARCHAR field `fields.id`, and every (namespace, id) pair is its own row.
     */
    primaryKey: z.enum(['id', 'namespaceAndId'], { error: 'primaryKey must be "id" or "namespaceAndId"' }).default('id'),
    fields: FieldNamesSchema.default({ id: 'id', primaryKey: 'pk', vector: 'vector', sparseVector: 'sparse_vector', namespace: 'namespace' }),
  })
  .strict();

export const PipelineOptionsSchema = z
  .object({
    /** Partitions of the records topic: the most loader processes that can share the work. */
    topicPartitions: z.number().int().min(1).max(256).default(6),
    /** Loader batch size by bytes (never over Milvus's 64 MB request limit). */
    batchBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(MILVUS_REQUEST_LIMIT_BYTES / 2, 'batchBytes must stay well under Milvus’s 64 MB request limit (at most 32 MB)')
      .default(16 * 1024 * 1024),
    /** A loader's fetch waits this long at most for a fuller batch (1 MB) before taking what is there (≤ 1 s). */
    batchMaxWaitMs: z.number().int().min(10).max(1_000, 'batchMaxWaitMs is at most 1,000 ms (stopping a loader waits for its fetch in flight)').default(500),
    /** Namespaces extracted at once. */
    namespaceConcurrency: z.number().int().min(1).max(64).default(4),
    /**
     * Source requests per second per operation (Pinecone serverless defaults), and optionally the
     * records per second the loaders together write into the target (e.g. a Zilliz Cloud cluster's
     * write quota); unset = as fast as Milvus takes them.
     */
    rateLimits: z
      .object({
        listPerSecond: z.number().positive().default(200),
        fetchPerSecond: z.number().positive().default(100),
        upsertRecordsPerSecond: z.number().positive().optional(),
      })
      .strict()
      .default({ listPerSecond: 200, fetchPerSecond: 100 }),
    /**
     * When loaders flush the collection before committing offsets (at most every 2 s per loader):
     * `auto` = only when the target does not persist acknowledged writes by itself (Milvus Lite);
     * `always`; `never` (a Milvus Lite crash can then lose acknowledged writes; verification reports it).
     */
    flushBeforeCommit: z.enum(['auto', 'always', 'never']).default('auto'),
    /**
     * When the target's vector indexes are created: `duringLoad` = with the collection, so the server
     * indexes each segment the load seals; `afterLoad` = by verification; `auto` = during the load
     * where the server builds on index nodes of their own or does not say (Zilliz Cloud), after it
     * where index builds would share the load's host (Milvus standalone) and on Milvus Lite.
     */
    indexBuild: z.enum(['auto', 'duringLoad', 'afterLoad']).default('auto'),
    /** Ids per fetch call (≤ 1,000; URL length is the practical limit, 100 = one list page). */
    fetchBatchSize: z.number().int().min(1).max(1000).default(100),
    /** Records compared field by field during verification. */
    verifySampleSize: z.number().int().min(0).max(1_000_000).default(1000),
  })
  .strict();

export const JobSpecSchema = z
  .object({
    source: SourceSpecSchema,
    target: TargetSpecSchema,
    options: PipelineOptionsSchema.default(PipelineOptionsSchema.parse({})),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const fields = spec.target.fields;
    const seen = new Map<string, string>();
    for (const [role, name] of Object.entries(fields)) {
      // The primary key field exists only in namespaceAndId mode; its default name must not clash otherwise.
      if (role === 'primaryKey' && spec.target.primaryKey !== 'namespaceAndId') continue;
      const lower = name.toLowerCase();
      if (RESERVED_FIELD_NAMES.has(name)) {
        ctx.addIssue({ code: 'custom', path: ['target', 'fields', role], message: `"${name}" is reserved by Milvus; pick another field name` });
      }
      const other = seen.get(lower);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['target', 'fields', role],
          message: `"${name}" is already the ${other} field name; each field needs its own name`,
        });
      } else {
        seen.set(lower, role);
      }
    }
  });

export type JobSpecInput = z.input<typeof JobSpecSchema>;
export type JobSpec = z.output<typeof JobSpecSchema>;
export type FieldNames = z.output<typeof FieldNamesSchema>;
export type PipelineOptions = z.output<typeof PipelineOptionsSchema>;

export function zodIssues(error: z.ZodError): FieldIssue[] {
  // zod reports an unknown key on its parent object; name the key itself (`target.colection`), as
  // the HTTP API does, so a spec file's typo is found where it was typed.
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path.map(String), key].join('.'), message: `unknown field "${key}"` }))
      : [{ path: issue.path.length ? issue.path.map(String).join('.') : '(body)', message: issue.message }],
  );
}

/** Parse a spec or throw a SpecError naming every offending field. */
export function parseJobSpec(input: unknown): JobSpec {
  const result = JobSpecSchema.safeParse(input);
  if (!result.success) throw new SpecError(zodIssues(result.error), 'fix the fields named above and submit the job again');
  return result.data;
}
