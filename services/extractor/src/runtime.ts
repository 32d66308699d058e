import {
  EtlError,
  canonicalNamespace,
  createSourceBudgets,
  DEFAULT_SOURCE_RETRY,
  errorMessage,
  isPacedSource,
  pacedSource,
  retry,
  type LogProducer,
  type LogRecord,
  type OutgoingMessage,
  type PineconeSourcePort,
  type PipelineOptions,
  type SourceBudgets,
  type SourcePacing,
  type SourceRetryOptions,
} from '@p2m/core';
import type { Logger } from 'pino';
import { initialCheckpoint, type Checkpoint, type CheckpointStore } from './checkpoints.ts';
import { GroupCommit } from './group-commit.ts';
import { extractNamespace, Slots, type ExtractionOperation, type NamespaceOutcome, type RunContext } from './namespace-extraction.ts';

export type { ExtractionOperation, NamespaceOutcome } from './namespace-extraction.ts';

/**
 * The extractor runtime (after Kafka Connect's source runtime): it owns Pinecone calls (through a
 * paced source: one rate budget per index, retries), Kafka sends and checkpoints; the task only
 * turns a page into records. How one namespace goes: `namespace-extraction.ts`.
 *
 * Many namespaces are small (one list page). Up to `namespacesInFlight` namespaces are read at once
 * — the rate budgets, not a worker count, decide how fast — while at most `namespaceConcurrency`
 * namespaces go past their first page, which bounds the pages held in memory. Sends and checkpoint
 * saves made while another is in flight are group-committed into one Kafka write.
 */

export interface ExtractionOptions {
  jobId: string;
  /** A paced source keeps its budgets (shared with the process's other users of the index). */
  source: PineconeSourcePort;
  producer: LogProducer;
  encode: (record: LogRecord) => Promise<Buffer> | Buffer;
  topic: string;
  topicPartitions: number;
  /**
   * Records of one id go to one partition, whatever their namespace (`primaryKey: "id"`: copies of
   * an id from several namespaces are one row, so they must be written in log order by one loader).
   * Otherwise the partition follows the message key (namespace and id).
   */
  partitionById?: boolean;
  checkpoints: CheckpointStore;
  /** Namespaces to extract ('' or '__default__' = the default one). */
  namespaces: string[];
  options: PipelineOptions;
  /** Stops the run between pages; a page not yet acknowledged gets no checkpoint. */
  signal: AbortSignal;
  log: Logger;
  onProgress?: (namespace: string, extracted: number, done: boolean) => void;
  /** Budgets for a source that is not paced yet; made from `options.rateLimits` when absent. */
  budgets?: SourceBudgets;
  /** Retry policy for source calls, sends and checkpoint saves. */
  retry?: SourceRetryOptions;
  /** Ids per list call (Pinecone allows at most 100). */
  listLimit?: number;
  /** Namespaces read at once (at least `namespaceConcurrency`); default 64. */
  namespacesInFlight?: number;
  /** Ids listed but gone by the time they were fetched (deleted meanwhile). */
  onVanished?: (namespace: string, ids: string[]) => void;
  /** Each retry, for metrics (retries, 429s). */
  onRetry?: (info: { operation: ExtractionOperation; namespace: string; error: unknown; delayMs: number }) => void;
}

export interface ExtractionResult {
  /** The signal stopped the run before every namespace was done. */
  aborted: boolean;
  namespaces: NamespaceOutcome[];
  /** Kafka writes of records and markers, and of checkpoints, this run made (group commit). */
  writes: { records: number; checkpoints: number };
}

const DEFAULT_LIST_LIMIT = 100;
/**
 * Small namespaces read at once. A namespace of one page costs a list, a fetch and two Kafka
 * writes, ~100 ms end to end; at Pinecone's 100 fetches/s that needs ~10 in flight, and waiting in
 * the budgets' queue costs nothing, so 64 keeps the budget busy on a slow link too. Bounded so that
 * first pages held in memory stay small (64 × 100 records).
 */
const DEFAULT_NAMESPACES_IN_FLIGHT = 64;
/** Per write: a few MB of records, or many small namespaces' pages and markers. */
const GROUP_MAX_MESSAGES = 5_000;
const GROUP_MAX_BYTES = 4 * 1024 * 1024;
const GROUP_MAX_CHECKPOINTS = 1_000;

function messageBytes(m: OutgoingMessage): number {
  return (m.value?.length ?? 0) + (typeof m.key === 'string' ? m.key.length : (m.key?.length ?? 0)) + 64;
}

/** The run's shared parts: the source paced with this run's stop and policy, the slots, the group commits. */
function runContext(opts: ExtractionOptions, stop: AbortSignal): RunContext {
  const log = 'jobId' in opts.log.bindings() ? opts.log : opts.log.child({ jobId: opts.jobId });
  const retryPolicy: SourceRetryOptions = { ...DEFAULT_SOURCE_RETRY, ...opts.retry };
  const pacing: SourcePacing = {
    signal: stop,
    retry: retryPolicy,
    onRetry: ({ operation, namespace, error, delayMs }) => {
      log.warn({ operation, namespace, delayMs, err: errorMessage(error) }, 'retrying');
      opts.onRetry?.({ operation, namespace: namespace ?? '', error, delayMs });
    },
  };
  const source = isPacedSource(opts.source)
    ? opts.source.withPacing(pacing)
    : pacedSource(opts.source, opts.budgets ?? createSourceBudgets(opts.options.rateLimits), pacing);
  const saveMany = (cps: Checkpoint[]): Promise<void> =>
    opts.checkpoints.saveMany ? opts.checkpoints.saveMany(cps) : Promise.all(cps.map((cp) => opts.checkpoints.save(cp))).then(() => undefined);
  return {
    source,
    encode: opts.encode,
    topicPartitions: opts.topicPartitions,
    partitionById: opts.partitionById ?? false,
    fetchBatchSize: opts.options.fetchBatchSize,
    listLimit: opts.listLimit ?? DEFAULT_LIST_LIMIT,
    retryPolicy,
    stop,
    log,
    multiPage: new Slots(opts.options.namespaceConcurrency),
    sends: new GroupCommit<OutgoingMessage>((messages) => opts.producer.send(opts.topic, messages), {
      maxItems: GROUP_MAX_MESSAGES,
      maxWeight: GROUP_MAX_BYTES,
      weigh: messageBytes,
    }),
    saves: new GroupCommit<Checkpoint>(saveMany, { maxItems: GROUP_MAX_CHECKPOINTS }),
    onProgress: opts.onProgress,
    onVanished: opts.onVanished,
    onRetry: opts.onRetry,
  };
}

export async function runExtraction(opts: ExtractionOptions): Promise<ExtractionResult> {
  if (!Number.isInteger(opts.topicPartitions) || opts.topicPartitions < 1) {
    throw new EtlError('INTERNAL', `topicPartitions must be a positive integer, got ${opts.topicPartitions}`);
  }
  const failFast = new AbortController();
  const ctx = runContext(opts, AbortSignal.any([opts.signal, failFast.signal]));
  const namespaces = [...new Set(opts.namespaces.map(canonicalNamespace))];
  const writes = (): ExtractionResult['writes'] => ({ records: ctx.sends.writes, checkpoints: ctx.saves.writes });

  let stored: Map<string, Checkpoint>;
  try {
    stored = await retry(() => opts.checkpoints.load(opts.jobId), { ...ctx.retryPolicy, signal: opts.signal });
  } catch (err) {
    if (opts.signal.aborted) return { aborted: true, namespaces: [], writes: writes() };
    throw err;
  }

  const outcomes = new Map<string, NamespaceOutcome>();
  let next = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < namespaces.length) {
      const ns = namespaces[next++]!;
      const from = stored.get(ns) ?? initialCheckpoint(opts.jobId, ns);
      if (ctx.stop.aborted) {
        outcomes.set(ns, { namespace: ns, recordsPublished: from.recordsPublished, pages: from.pages, vanished: 0, done: from.done });
        continue;
      }
      try {
        outcomes.set(ns, await extractNamespace(ctx, from));
      } catch (err) {
        firstError ??= err;
        failFast.abort(err);
      }
    }
  };
  const inFlight = Math.max(opts.options.namespaceConcurrency, opts.namespacesInFlight ?? DEFAULT_NAMESPACES_IN_FLIGHT);
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, namespaces.length)) }, worker));
  if (firstError !== undefined) throw firstError;

  const result = namespaces.map((ns) => outcomes.get(ns)!);
  return { aborted: opts.signal.aborted && result.some((o) => !o.done), namespaces: result, writes: writes() };
}
