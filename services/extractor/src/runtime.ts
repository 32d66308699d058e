import {
  EtlError,
  canonicalNamespace,
  errorMessage,
  isRetriable,
  recordKey,
  retry,
  type EndOfNamespace,
  type ListPage,
  type LogProducer,
  type LogRecord,
  type OutgoingMessage,
  type PineconeSourcePort,
  type PipelineOptions,
} from '@p2m/core';
import type { Logger } from 'pino';
import { initialCheckpoint, type Checkpoint, type CheckpointStore } from './checkpoints.ts';
import { callWithBudget, createSourceBudgets, DEFAULT_SOURCE_RETRY, type SourceBudgets, type SourceRetryOptions } from './rate-budget.ts';
import { fetchChunks, pageToRecords } from './task.ts';

/**
 * The extractor runtime (after Kafka Connect's source runtime): it owns Pinecone calls, rate budgets,
 * retries, Kafka sends and checkpoints; the task only turns a page into records.
 *
 * Per namespace: list a page → fetch its ids in chunks → records → send to the records topic →
 * once Kafka acknowledged the send, save the checkpoint (next token, records published). After the
 * last page: an end-of-namespace marker on every partition, then the checkpoint with `done`. A
 * restart resumes from the last checkpoint, so a page may be sent twice but never skipped, and the
 * count is the checkpoint's plus this page's, so a page sent twice is counted once.
 */

export type ExtractionOperation = 'list' | 'fetch' | 'encode' | 'send' | 'checkpoint';

export interface ExtractionOptions {
  jobId: string;
  source: PineconeSourcePort;
  producer: LogProducer;
  encode: (record: LogRecord) => Promise<Buffer> | Buffer;
  topic: string;
  topicPartitions: number;
  checkpoints: CheckpointStore;
  /** Namespaces to extract ('' or '__default__' = the default one). */
  namespaces: string[];
  options: PipelineOptions;
  /** Stops the run between pages; a page not yet acknowledged gets no checkpoint. */
  signal: AbortSignal;
  log: Logger;
  onProgress?: (namespace: string, extracted: number, done: boolean) => void;
  /** Budgets shared with other runs on the same index; made from `options.rateLimits` when absent. */
  budgets?: SourceBudgets;
  /** Retry policy for source calls, sends and checkpoint saves. */
  retry?: SourceRetryOptions;
  /** Ids per list call (Pinecone allows at most 100). */
  listLimit?: number;
  /** Ids listed but gone by the time they were fetched (deleted meanwhile). */
  onVanished?: (namespace: string, ids: string[]) => void;
  /** Each retry, for metrics (retries, 429s). */
  onRetry?: (info: { operation: ExtractionOperation; namespace: string; error: unknown; delayMs: number }) => void;
}

export interface NamespaceOutcome {
  namespace: string;
  recordsPublished: number;
  pages: number;
  /** Vanished ids seen in this run. */
  vanished: number;
  done: boolean;
}

export interface ExtractionResult {
  /** The signal stopped the run before every namespace was done. */
  aborted: boolean;
  namespaces: NamespaceOutcome[];
}

const DEFAULT_LIST_LIMIT = 100;

interface Context extends ExtractionOptions {
  budgets: SourceBudgets;
  retryPolicy: SourceRetryOptions;
  /** The caller's signal or the run's own fail-fast. */
  stop: AbortSignal;
}

function nsLabel(namespace: string): string {
  return namespace === '' ? '__default__' : namespace;
}

/** The error, with where it stopped (for the job's `error.at`). */
function located(err: unknown, namespace: string, page: number): EtlError {
  const e = err instanceof EtlError ? err : new EtlError('INTERNAL', errorMessage(err), { retriable: false, cause: err });
  return new EtlError(e.code, `namespace "${nsLabel(namespace)}", page ${page}: ${e.message}`, {
    retriable: e.retriable,
    hint: e.hint,
    field: e.field,
    cause: e,
    details: { ...e.details, namespace, page, at: `namespace ${nsLabel(namespace)}, page ${page}` },
  });
}

export async function runExtraction(opts: ExtractionOptions): Promise<ExtractionResult> {
  if (!Number.isInteger(opts.topicPartitions) || opts.topicPartitions < 1) {
    throw new EtlError('INTERNAL', `topicPartitions must be a positive integer, got ${opts.topicPartitions}`);
  }
  const failFast = new AbortController();
  const ctx: Context = {
    ...opts,
    log: 'jobId' in opts.log.bindings() ? opts.log : opts.log.child({ jobId: opts.jobId }),
    budgets: opts.budgets ?? createSourceBudgets(opts.options.rateLimits),
    retryPolicy: { ...DEFAULT_SOURCE_RETRY, ...opts.retry },
    stop: AbortSignal.any([opts.signal, failFast.signal]),
  };
  const namespaces = [...new Set(opts.namespaces.map(canonicalNamespace))];

  let stored: Map<string, Checkpoint>;
  try {
    stored = await retry(() => opts.checkpoints.load(opts.jobId), { ...ctx.retryPolicy, signal: opts.signal });
  } catch (err) {
    if (opts.signal.aborted) return { aborted: true, namespaces: [] };
    throw err;
  }

  const outcomes = new Map<string, NamespaceOutcome>();
  const queue = [...namespaces];
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    for (let ns = queue.shift(); ns !== undefined; ns = queue.shift()) {
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
  const workers = Math.max(1, Math.min(opts.options.namespaceConcurrency, namespaces.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (firstError !== undefined) throw firstError;

  const result = namespaces.map((ns) => outcomes.get(ns)!);
  return { aborted: opts.signal.aborted && result.some((o) => !o.done), namespaces: result };
}

async function extractNamespace(ctx: Context, start: Checkpoint): Promise<NamespaceOutcome> {
  const ns = start.namespace;
  const log = ctx.log.child({ namespace: ns });
  let cp: Checkpoint = { ...start };
  let vanished = 0;
  const outcome = (): NamespaceOutcome => ({ namespace: ns, recordsPublished: cp.recordsPublished, pages: cp.pages, vanished, done: cp.done });

  ctx.onProgress?.(ns, cp.recordsPublished, cp.done);
  if (cp.done) return outcome();
  if (cp.pages > 0) log.info({ pages: cp.pages, recordsPublished: cp.recordsPublished }, 'resuming namespace from its checkpoint');

  const onRetry = (operation: ExtractionOperation) => (error: unknown, delayMs: number) => {
    log.warn({ operation, delayMs, err: errorMessage(error) }, 'retrying');
    ctx.onRetry?.({ operation, namespace: ns, error, delayMs });
  };
  const listAt = (token: string | null): Promise<ListPage> => {
    const p = callWithBudget(ctx.budgets.list, () => ctx.source.listPage(ns, token, ctx.listLimit ?? DEFAULT_LIST_LIMIT), {
      signal: ctx.stop,
      retry: ctx.retryPolicy,
      onRetry: onRetry('list'),
    });
    void p.catch(() => undefined); // a look-ahead may be dropped on stop; its failure surfaces when awaited
    return p;
  };
  /** Kafka writes: retried while the run goes on; a stop between attempts leaves the page unacknowledged. */
  const persist = <T>(operation: ExtractionOperation, fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> =>
    retry(fn, { ...ctx.retryPolicy, signal, onRetry: ({ error, delayMs }) => onRetry(operation)(error, delayMs) });

  const listingComplete = cp.pages > 0 && cp.paginationToken === null;
  // One page of look-ahead: the next list runs while this page is fetched and sent.
  let nextPage = listingComplete ? null : listAt(cp.paginationToken);
  try {
    while (nextPage !== null) {
      if (ctx.stop.aborted) return outcome();
      const page = await nextPage;
      if (page.next !== null && page.next === cp.paginationToken) {
        throw new EtlError('INTERNAL', `list returned the same pagination token it was given ("${page.next}"); stopping rather than looping`);
      }
      nextPage = page.next === null ? null : listAt(page.next);

      const chunks = fetchChunks(page.ids, ctx.options.fetchBatchSize);
      const fetched = await Promise.all(
        chunks.map((ids) =>
          callWithBudget(ctx.budgets.fetch, () => ctx.source.fetch(ns, ids), { signal: ctx.stop, retry: ctx.retryPolicy, onRetry: onRetry('fetch') }),
        ),
      );
      const { records, vanished: gone } = pageToRecords(ns, page.ids, fetched.flat());
      if (gone.length > 0) {
        vanished += gone.length;
        log.warn({ count: gone.length, sample: gone.slice(0, 5) }, 'ids listed but deleted before fetch; skipped');
        ctx.onVanished?.(ns, gone);
      }

      if (records.length > 0) {
        const values = await persist('encode', () => Promise.all(records.map(async (r) => ctx.encode(r))), ctx.stop);
        const messages: OutgoingMessage[] = records.map((r, i) => ({ key: recordKey(ns, r.id), value: values[i]! }));
        await persist('send', () => ctx.producer.send(ctx.topic, messages), ctx.stop);
      }
      // Acknowledged: from here the page counts, whatever the signal says.
      cp = {
        ...cp,
        paginationToken: page.next,
        recordsPublished: cp.recordsPublished + records.length,
        pages: cp.pages + 1,
        done: false,
        updatedAt: Date.now(),
      };
      await persist('checkpoint', () => ctx.checkpoints.save(cp), undefined);
      ctx.onProgress?.(ns, cp.recordsPublished, false);
      log.debug({ page: cp.pages, records: records.length, recordsPublished: cp.recordsPublished }, 'page published');
    }

    if (ctx.stop.aborted) return outcome();
    const marker: EndOfNamespace = { kind: 'end', namespace: ns, count: cp.recordsPublished };
    const value = await persist('encode', async () => ctx.encode(marker), ctx.stop);
    // Explicit partitions: every partition's consumer must see the end of this namespace.
    const markers: OutgoingMessage[] = Array.from({ length: ctx.topicPartitions }, (_, partition) => ({ key: recordKey(ns, ''), value, partition }));
    await persist('send', () => ctx.producer.send(ctx.topic, markers), ctx.stop);
    cp = { ...cp, done: true, updatedAt: Date.now() };
    await persist('checkpoint', () => ctx.checkpoints.save(cp), undefined);
    ctx.onProgress?.(ns, cp.recordsPublished, true);
    log.info({ recordsPublished: cp.recordsPublished, pages: cp.pages, vanished }, 'namespace extracted');
    return outcome();
  } catch (err) {
    // A stop surfaces as the signal's reason from a sleep or a budget wait: a clean stop, not a failure.
    if (ctx.stop.aborted && (err === ctx.stop.reason || isRetriable(err))) return outcome();
    throw located(err, ns, cp.pages + 1);
  }
}
