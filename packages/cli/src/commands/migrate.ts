import type { Command } from 'commander';
import { EtlError, RuntimeConfigSchema, errorMessage, generateSecretKey, readConfig, type JobSpecInput, type JobView, type Logger } from '@p2m/core';
import { effectiveEnv } from '../env.ts';
import { followJob, formatDeadLetters, type OutputStream } from '../follow.ts';
import { openCliLog, quietGrpcConsole } from '../log-file.ts';

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
  primaryKey?: string;
  idField?: string;
  primaryKeyField?: string;
  vectorField?: string;
  sparseField?: string;
  namespaceField?: string;
  topicPartitions?: string;
  loaders: string;
  progress: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function specFromOptions(opts: MigrateOptions, env: NodeJS.ProcessEnv): JobSpecInput {
  const apiKey = opts.apiKey ?? env.PINECONE_API_KEY ?? env.P2M_PINECONE_API_KEY;
  if (!apiKey) throw new EtlError('SPEC_INVALID', 'no Pinecone API key', { hint: 'pass --api-key or set PINECONE_API_KEY', field: 'source.apiKey' });
  const fields = Object.fromEntries(
    Object.entries({
      id: opts.idField,
      primaryKey: opts.primaryKeyField,
      vector: opts.vectorField,
      sparseVector: opts.sparseField,
      namespace: opts.namespaceField,
    }).filter(([, v]) => v !== undefined),
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
      ...(opts.primaryKey ? { primaryKey: opts.primaryKey as 'id' | 'namespaceAndId' } : {}),
      ...(Object.keys(fields).length ? { fields } : {}),
    },
    ...(opts.topicPartitions ? { options: { topicPartitions: Number(opts.topicPartitions) } } : {}),
  };
}

export interface EmbeddedRunOptions {
  loaders: number;
  /** Live progress while the job runs: bars on a terminal, a line every few seconds elsewhere. */
  progress: boolean;
  /** The outcome in words when the job ends (counts, error, verification report). */
  summary: boolean;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Where progress and the summary go. Default stdout. */
  stream?: OutputStream;
}

/**
 * Run one migration embedded; resolves with the final job view once the job ended and every
 * component of this process is stopped. The runtime is imported here, not at the top: the Milvus
 * client's gRPC reads its console verbosity when it loads, after the CLI has chosen it.
 */
export async function runEmbeddedMigration(spec: JobSpecInput, opts: EmbeddedRunOptions): Promise<JobView> {
  const env = { ...(opts.env ?? effectiveEnv()) };
  // Secrets are sealed with this key; a job created here can be resumed by the stack's services
  // only with the same key, which `p2m stack up` writes to .p2m/stack.env.
  env.P2M_SECRET_KEY ??= generateSecretKey();
  const config = readConfig(RuntimeConfigSchema, env);
  const { startRuntime } = await import('../runtime.ts');
  const runtime = await startRuntime(config, { controller: {}, extractor: true, loaders: opts.loaders }, { logger: opts.logger });
  const stopFollowing = new AbortController();
  const onSignal = (): void => stopFollowing.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let jobId: string | undefined;
  try {
    const jobs = runtime.jobs!;
    const created = await jobs.create(spec);
    jobId = created.id;
    opts.logger.info({ jobId, collection: created.target.collection }, 'job created; following it');
    const stream = opts.stream ?? process.stdout;
    const final = await followJob(jobs, created.id, {
      signal: stopFollowing.signal,
      intervalMs: FOLLOW_INTERVAL_MS,
      stream,
      display: opts.progress ? 'auto' : 'none',
      summary: opts.summary,
    });
    if (opts.summary && final.progress.total.failed > 0) {
      // Read here, while this process still reads Kafka: `p2m jobs errors` needs a controller.
      const page = await jobs.errors(final.id, { limit: 10 }).catch((err: unknown) => {
        opts.logger.warn({ jobId: final.id, err: errorMessage(err) }, 'could not read the dead-letter queue');
        return null;
      });
      if (page)
        stream.write(
          formatDeadLetters(page)
            .map((l) => `${l}\n`)
            .join(''),
        );
    }
    return final;
  } catch (err) {
    if (stopFollowing.signal.aborted && jobId !== undefined) {
      // The workers of this process stop with it: the job waits on the board for the next p2m
      // process (the stack's services, another migrate) rather than "keeps running".
      throw new EtlError(
        'CANCELLED',
        `interrupted: job ${jobId} stays ${(await runtime.jobs!.get(jobId).catch(() => null))?.status ?? 'active'} and goes on when p2m services run (npx p2m stack up)`,
        {
          hint: `cancel it with: npx p2m jobs cancel ${jobId}`,
        },
      );
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopWithin(runtime, opts.logger);
  }
}

/** Polls of the embedded job service: its board follows p2m.jobs live, so a poll is cheap. */
const FOLLOW_INTERVAL_MS = 500;
/**
 * How long the components of this process may take to stop once the job ended: leaving consumer
 * groups takes about a second. What takes longer is work for other jobs on the board (a loader
 * in the middle of another job's batch, a controller verifying another job): it is abandoned as a
 * crash would abandon it, and the owner that takes it over redoes it from the committed state.
 */
const STOP_DEADLINE_MS = 3_000;

async function stopWithin(runtime: { stop(): Promise<void> }, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), STOP_DEADLINE_MS);
  });
  const outcome = await Promise.race([runtime.stop().then(() => 'stopped' as const), deadline]);
  clearTimeout(timer);
  if (outcome === 'late') logger.warn({ deadlineMs: STOP_DEADLINE_MS }, 'components did not stop in time; the command ends without waiting for them');
}

/** A terminal status in words for the last line: the state and, for FAILED or CANCELLED, why. */
export function endedLine(view: JobView): string {
  const why =
    view.error !== undefined
      ? `${view.error.code}: ${view.error.message}${view.error.at ? ` (stopped at ${view.error.at})` : ''}`
      : view.status === 'CANCELLED'
        ? 'cancelled on request (npx p2m jobs cancel, or POST /v1/jobs/{id}/cancel)'
        : view.report && !view.report.passed
          ? 'verification did not pass'
          : '';
  return `p2m: job ${view.id} ended ${view.status}${why ? `: ${why}` : ''}`;
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
    .option(
      '--primary-key <mode>',
      'id (default: the Pinecone id is the primary key) or namespaceAndId (one row per namespace and id: for ids reused across namespaces)',
    )
    .option('--primary-key-field <name>', 'rename the primary key field of namespaceAndId mode (default pk)')
    .option('--id-field <name>', 'rename the id field')
    .option('--vector-field <name>', 'rename the dense vector field')
    .option('--sparse-field <name>', 'rename the sparse vector field')
    .option('--namespace-field <name>', 'rename the namespace field')
    .option('--topic-partitions <n>', 'partitions of the job topic (default 6)')
    .option('--loaders <n>', 'loader workers in this process', '2')
    .option('--no-progress', 'no progress while the job runs (the outcome is still printed)')
    .option('--json', 'print the final job as JSON (and nothing else on stdout)')
    .option('--verbose', 'show the log lines on the terminal too (they always go to a file under .p2m/logs/)')
    .action(async (opts: MigrateOptions) => {
      const env = effectiveEnv();
      const spec = specFromOptions(opts, env);
      quietGrpcConsole(Boolean(opts.verbose));
      const log = openCliLog('migrate', { verbose: Boolean(opts.verbose), env });
      process.stderr.write(`p2m: logs go to ${log.path}${opts.verbose ? '' : ' (--verbose shows them here too)'}\n`);
      const view = await runEmbeddedMigration(spec, {
        loaders: Math.max(1, Number(opts.loaders) || 1),
        progress: opts.progress && !opts.json,
        summary: !opts.json,
        logger: log.logger,
        env,
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      if (view.status !== 'SUCCESSFUL') {
        process.stderr.write(`${endedLine(view)}\n`);
        process.exitCode = 1;
      }
    });
}
