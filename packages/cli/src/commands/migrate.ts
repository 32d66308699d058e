import type { Command } from 'commander';
import { EtlError, RuntimeConfigSchema, TERMINAL_STATUSES, generateSecretKey, readConfig, type JobSpecInput, type JobView } from '@p2m/core';
import { effectiveEnv } from '../env.ts';
import { followJob } from '../follow.ts';
import { startRuntime } from '../runtime.ts';

/**
 * `p2m migrate`: the embedded run. Controller, extractor and loaders in this one process (the same
 * code the separate services run), against the stack's Kafka, registry and Milvus; follows the job
 * with a live progress bar and exits 0 only when the verification passed.
 */
export interface MigrateOptions {
  sourceIndex: string;
  collection: string;
  apiKey?: string;
  pineconeUrl?: string;
  namespaces?: string;
  milvusAddress?: string;
  milvusToken?: string;
  description?: string;
  partitions?: boolean;
  maxIdLength?: string;
  idField?: string;
  vectorField?: string;
  sparseField?: string;
  namespaceField?: string;
  topicPartitions?: string;
  loaders: string;
  progress: boolean;
  json?: boolean;
}

export function specFromOptions(opts: MigrateOptions, env: NodeJS.ProcessEnv): JobSpecInput {
  const apiKey = opts.apiKey ?? env.PINECONE_API_KEY ?? env.P2M_PINECONE_API_KEY;
  if (!apiKey) throw new EtlError('SPEC_INVALID', 'no Pinecone API key', { hint: 'pass --api-key or set PINECONE_API_KEY', field: 'source.apiKey' });
  const fields = Object.fromEntries(
    Object.entries({ id: opts.idField, vector: opts.vectorField, sparseVector: opts.sparseField, namespace: opts.namespaceField }).filter(([, v]) => v !== undefined),
  );
  const controllerHostUrl = opts.pineconeUrl ?? env.P2M_PINECONE_CONTROLLER_URL;
  return {
    source: {
      apiKey,
      index: opts.sourceIndex,
      ...(controllerHostUrl ? { controllerHostUrl } : {}),
      ...(opts.namespaces !== undefined ? { namespaces: opts.namespaces.split(',') } : {}),
    },
    target: {
      address: opts.milvusAddress ?? env.P2M_MILVUS_ADDRESS ?? '127.0.0.1:19530',
      ...((opts.milvusToken ?? env.MILVUS_TOKEN) ? { token: opts.milvusToken ?? env.MILVUS_TOKEN } : {}),
      collection: opts.collection,
      ...(opts.description ? { description: opts.description } : {}),
      partitionKey: !opts.partitions,
      ...(opts.maxIdLength ? { maxIdLength: Number(opts.maxIdLength) } : {}),
      ...(Object.keys(fields).length ? { fields } : {}),
    },
    ...(opts.topicPartitions ? { options: { topicPartitions: Number(opts.topicPartitions) } } : {}),
  };
}

/** Run one migration embedded; resolves with the final job view. */
export async function runEmbeddedMigration(spec: JobSpecInput, opts: { loaders: number; progress: boolean; env?: NodeJS.ProcessEnv }): Promise<JobView> {
  const env = { ...(opts.env ?? effectiveEnv()) };
  // Secrets are sealed with this key; a job created here can be resumed by the stack's services
  // only with the same key, which `p2m stack up` writes to .p2m/stack.env.
  env.P2M_SECRET_KEY ??= generateSecretKey();
  env.P2M_LOG_LEVEL ??= 'warn';
  const config = readConfig(RuntimeConfigSchema, env);
  const runtime = await startRuntime(config, { controller: {}, extractor: true, loaders: opts.loaders });
  const stopFollowing = new AbortController();
  const onSignal = (): void => stopFollowing.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const jobs = runtime.jobs!;
    const created = await jobs.create(spec);
    if (!opts.progress) {
      for (;;) {
        const view = await jobs.get(created.id);
        if (TERMINAL_STATUSES.has(view.status)) return view;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    return await followJob(jobs, created.id, { signal: stopFollowing.signal, intervalMs: 500 });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await runtime.stop();
  }
}

export function register(program: Command): void {
  program
    .command('migrate')
    .description('migrate a Pinecone index into a Milvus collection (controller, extractor and loaders in this process)')
    .requiredOption('--source-index <name>', 'Pinecone serverless index to migrate')
    .requiredOption('--collection <name>', 'target collection (must not exist yet)')
    .option('--api-key <key>', 'Pinecone API key (default $PINECONE_API_KEY)')
    .option('--pinecone-url <url>', 'Pinecone control plane URL, e.g. the emulator http://127.0.0.1:5080 (default: Pinecone)')
    .option('--namespaces <list>', 'comma-separated namespaces to migrate (default: all)')
    .option('--milvus-address <addr>', 'Milvus address (default $P2M_MILVUS_ADDRESS or 127.0.0.1:19530)')
    .option('--milvus-token <token>', 'Milvus / Zilliz Cloud token (default $MILVUS_TOKEN)')
    .option('--description <text>', 'collection description')
    .option('--partitions', 'one partition per namespace instead of a `namespace` partition-key field')
    .option('--max-id-length <n>', 'VARCHAR max_length of the primary key (1–65535, default 512)')
    .option('--id-field <name>', 'rename the id field')
    .option('--vector-field <name>', 'rename the dense vector field')
    .option('--sparse-field <name>', 'rename the sparse vector field')
    .option('--namespace-field <name>', 'rename the namespace field')
    .option('--topic-partitions <n>', 'partitions of the job topic (default 6)')
    .option('--loaders <n>', 'loader workers in this process', '2')
    .option('--no-progress', 'no progress bars')
    .option('--json', 'print the final job as JSON')
    .action(async (opts: MigrateOptions) => {
      const env = effectiveEnv();
      const view = await runEmbeddedMigration(specFromOptions(opts, env), { loaders: Math.max(1, Number(opts.loaders) || 1), progress: opts.progress && !opts.json, env });
      if (opts.json) console.log(JSON.stringify(view, null, 2));
      if (view.status !== 'SUCCESSFUL') {
        console.error(`p2m: job ${view.id} ended ${view.status}${view.error ? `: ${view.error.message}` : ''}`);
        process.exitCode = 1;
      }
    });
}
