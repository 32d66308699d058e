import {
  EtlError,
  canonicalNamespace,
  createSourceBudgets,
  DEFAULT_SOURCE_RETRY,
  errorMessage,
  isPacedSource,
  isRetriable,
  pacedSource,
  recordKey,
  retry,
  type EndOfNamespace,
  type ListPage,
  type LogProducer,
  type LogRecord,
  type OutgoingMessage,
  type PacedSource,
  type PineconeSourcePort,
  type PipelineOptions,
  type SourceBudgets,
  type SourceCallOperation,
  type SourcePacing,
  type SourceRetryOptions,
} from '@p2m/core';
import type { Logger } from 'pino';
import { initialCheckpoint, type Checkpoint, type CheckpointStore } from './checkpoints.ts';
import { GroupCommit } from './group-commit.ts';
import { fetchChunks, pageToRecords } from './task.ts';

/**
 * The extractor runtime (after Kafka Connect's source runtime): it owns Pinecone calls (through a
 * paced source: one rate budget per index, retries), Kafka sends and checkpoints; the task only
 * turns a page into records.
 *
 * Per namespace: list a page → fetch its ids in chunks → records → send to the records topic →
 * once Kafka acknowledged the send, save the checkpoint (next token, records published). The last
 * page goes out with the namespace's end-of-namespace markers (one per partition) in the same send,
 * and its checkpoint says `done`. A restart resumes from the last checkpoint, so a page (and its
 * markers) may be sent twice but never skipped, and the count is the checkpoint's plus this page's,
 * so a page sent twice is counted once.
 *
 * Many namespaces are small (one list page). Up to `namespacesInFlight` namespaces are read at once
 * — the rate budgets, not a worker count, decide how fast — while at most `namespaceConcurrency`
 * namespaces go past their first page, which bounds the pages held in memory. Sends and checkpoint
 * saves made while another is in flight are group-committed into one Kafka write.
 */

export type ExtractionOperation = SourceCallOperation | 'encode' | 'send' | 'checkpoint';

export interface ExtractionOptions {
  jobId: string;
  /** A paced source keeps its budgets (shared with the process's other users of the index). */
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

interface Context extends Omit<ExtractionOptions, 'source'> {
  source: PacedSource;
  retryPolicy: SourceRetryOptions;
  /** The caller's signal or the run's own fail-fast. */
  stop: AbortSignal;
  /** Namespaces past their first page. */
  multiPage: Slots;
  sends: GroupCommit<OutgoingMessage>;
  saves: GroupCommit<Checkpoint>;
}

/** A counting semaphore whose waits end on abort. */
class Slots {
  private free: number;
  private readonly waiters: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(grant);
        if (at !== -1) this.waiters.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free += 1;
  }
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

function messageBytes(m: OutgoingMessage): number {
  return (m.value?.length ?? 0) + (typeof m.key === 'string' ? m.key.length : (m.key?.length ?? 0)) + 64;
}

export async function runExtraction(opts: ExtractionOptions): Promise<ExtractionResult> {
  if (!Number.isInteger(opts.topicPartitions) || opts.topicPartitions < 1) {
    throw new EtlError('INTERNAL', `topicPartitions must be a positive integer, got ${opts.topicPartitions}`);
  }
  const failFast = new AbortController();
  const stop = AbortSignal.any([opts.signal, failFast.signal]);
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
  const source = isPacedSource(opts.source) ? opts.source.withPacing(pacing) : pacedSource(opts.source, opts.budgets ?? createSourceBudgets(opts.options.rateLimits), pacing);
  const concurrency = opts.options.namespaceConcurrency;
  const ctx: Context = {
    ...opts,
    source,
    log,
    retryPolicy,
    stop,
    multiPage: new Slots(concurrency),
    sends: new GroupCommit<OutgoingMessage>((messages) => opts.producer.send(opts.topic, messages), { maxItems: GROUP_MAX_MESSAGES, maxWeight: GROUP_MAX_BYTES, weigh: messageBytes }),
    saves: new GroupCommit<Checkpoint>((cps) => (opts.checkpoints.saveMany ? opts.checkpoints.saveMany(cps) : Promise.all(cps.map((cp) => opts.checkpoints.save(cp))).then(() => undefined)), {
      maxItems: GROUP_MAX_CHECKPOINTS,
    }),
  };
  const namespaces = [...new Set(opts.namespaces.map(canonicalNamespace))];
  const writes = (): ExtractionResult['writes'] => ({ records: ctx.sends.writes, checkpoints: ctx.saves.writes });

  let stored: Map<string, Checkpoint>;
  try {
    stored = await retry(() => opts.checkpoints.load(opts.jobId), { ...retryPolicy, signal: opts.signal });
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
  const inFlight = Math.max(concurrency, opts.namespacesInFlight ?? DEFAULT_NAMESPACES_IN_FLIGHT);
  const workers = Math.max(1, Math.min(inFlight, namespaces.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (firstError !== undefined) throw firstError;

  const result = namespaces.map((ns) => outcomes.get(ns)!);
  return { aborted: opts.signal.aborted && result.some((o) => !o.done), namespaces: result, writes: writes() };
}

async function extractNamespace(ctx: Context, start: Checkpoint): Promise<NamespaceOutcome> {
  const ns = start.namespace;
  let cp: Checkpoint = { ...start };
  let vanished = 0;
  const outcome = (): NamespaceOutcome => ({ namespace: ns, recordsPublished: cp.recordsPublished, pages: cp.pages, vanished, done: cp.done });

  ctx.onProgress?.(ns, cp.recordsPublished, cp.done);
  if (cp.done) return outcome();
  const log = ctx.log.child({ namespace: ns });
  if (cp.pages > 0) log.info({ pages: cp.pages, recordsPublished: cp.recordsPublished }, 'resuming namespace from its checkpoint');

  const listAt = (token: string | null): Promise<ListPage> => {
    const p = ctx.source.listPage(ns, token, ctx.listLimit ?? DEFAULT_LIST_LIMIT);
    void p.catch(() => undefined); // a look-ahead may be dropped on stop; its failure surfaces when awaited
    return p;
  };
  /** Kafka writes: retried while the run goes on; a stop between attempts leaves the page unacknowledged. */
  const persist = <T>(operation: ExtractionOperation, fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> =>
    retry(fn, {
      ...ctx.retryPolicy,
      signal,
      onRetry: ({ error, delayMs }) => {
        log.warn({ operation, delayMs, err: errorMessage(error) }, 'retrying');
        ctx.onRetry?.({ operation, namespace: ns, error, delayMs });
      },
    });
  /** One marker per partition: every partition's consumer sees the end of this namespace. */
  const endMarkers = async (count: number): Promise<OutgoingMessage[]> => {
    const marker: EndOfNamespace = { kind: 'end', namespace: ns, count };
    const value = await persist('encode', async () => ctx.encode(marker), ctx.stop);
    return Array.from({ length: ctx.topicPartitions }, (_, partition) => ({ key: recordKey(ns, ''), value, partition }));
  };

  let holdsSlot = false;
  const takeMultiPageSlot = async (): Promise<void> => {
    if (holdsSlot) return;
    await ctx.multiPage.acquire(ctx.stop);
    holdsSlot = true;
  };

  try {
    const listingComplete = cp.pages > 0 && cp.paginationToken === null;
    let nextPage: Promise<ListPage> | null = null;
    if (!listingComplete) {
      // Resuming in the middle of a namespace: it has more than one page.
      if (cp.paginationToken !== null) await takeMultiPageSlot();
      nextPage = listAt(cp.paginationToken);
    }
    while (nextPage !== null) {
      if (ctx.stop.aborted) return outcome();
      const page = await nextPage;
      if (page.next !== null && page.next === cp.paginationToken) {
        throw new EtlError('INTERNAL', `list returned the same pagination token it was given ("${page.next}"); stopping rather than looping`);
      }
      const last = page.next === null;
      // One page of look-ahead (the next list runs while this page is fetched and sent), for a
      // namespace that holds a multi-page slot.
      nextPage = !last && holdsSlot ? listAt(page.next) : null;

      const chunks = fetchChunks(page.ids, ctx.options.fetchBatchSize);
      const fetched = await Promise.all(chunks.map((ids) => ctx.source.fetch(ns, ids)));
      const { records, vanished: gone } = pageToRecords(ns, page.ids, fetched.flat());
      if (gone.length > 0) {
        vanished += gone.length;
        log.warn({ count: gone.length, sample: gone.slice(0, 5) }, 'ids listed but deleted before fetch; skipped');
        ctx.onVanished?.(ns, gone);
      }

      const published = cp.recordsPublished + records.length;
      const messages: OutgoingMessage[] = [];
      if (records.length > 0) {
        const values = await persist('encode', () => Promise.all(records.map(async (r) => ctx.encode(r))), ctx.stop);
        for (let i = 0; i < records.length; i++) messages.push({ key: recordKey(ns, records[i]!.id), value: values[i]! });
      }
      // The last page carries the end markers: after this namespace's records on every partition.
      if (last) messages.push(...(await endMarkers(published)));
      await persist('send', () => ctx.sends.submit(messages), ctx.stop);
      // Acknowledged: from here the page counts, whatever the signal says.
      cp = { ...cp, paginationToken: page.next, recordsPublished: published, pages: cp.pages + 1, done: last, updatedAt: Date.now() };
      await persist('checkpoint', () => ctx.saves.submit([cp]), undefined);
      ctx.onProgress?.(ns, cp.recordsPublished, cp.done);
      log.debug({ page: cp.pages, records: records.length, recordsPublished: cp.recordsPublished }, 'page published');

      if (!last && nextPage === null) {
        await takeMultiPageSlot();
        nextPage = listAt(page.next);
      }
    }

    if (listingComplete) {
      // Every page was published before a stop; only the markers are missing.
      if (ctx.stop.aborted) return outcome();
      const markers = await endMarkers(cp.recordsPublished);
      await persist('send', () => ctx.sends.submit(markers), ctx.stop);
      cp = { ...cp, done: true, updatedAt: Date.now() };
      await persist('checkpoint', () => ctx.saves.submit([cp]), undefined);
      ctx.onProgress?.(ns, cp.recordsPublished, true);
    }
    if (cp.done) log[cp.pages > 1 ? 'info' : 'debug']({ recordsPublished: cp.recordsPublished, pages: cp.pages, vanished }, 'namespace extracted');
    return outcome();
  } catch (err) {
    // A stop surfaces as the signal's reason from a sleep or a budget wait: a clean stop, not a failure.
    if (ctx.stop.aborted && (err === ctx.stop.reason || isRetriable(err))) return outcome();
    throw located(err, ns, cp.pages + 1);
  } finally {
    if (holdsSlot) ctx.multiPage.release();
  }
}
