import {
  EtlError,
  errorMessage,
  isRetriable,
  recordKey,
  retry,
  type EndOfNamespace,
  type ListPage,
  type LogRecord,
  type OutgoingMessage,
  type PacedSource,
  type SourceCallOperation,
  type SourceRetryOptions,
} from '@p2m/core';
import type { Logger } from 'pino';
import type { Checkpoint } from './checkpoints.ts';
import type { GroupCommit } from './group-commit.ts';
import { fetchChunks, pageToRecords } from './task.ts';

/**
 * One namespace of an extraction run: list a page → fetch its ids in chunks → records → send →
 * once Kafka acknowledged the send, save the checkpoint (next token, records published). The last
 * page goes out with the namespace's end-of-namespace markers (one per partition) in the same send,
 * and its checkpoint says `done`. A restart resumes from the last checkpoint, so a page (and its
 * markers) may be sent twice but never skipped, and the count is the checkpoint's plus this page's,
 * so a page sent twice is counted once.
 */

export type ExtractionOperation = SourceCallOperation | 'encode' | 'send' | 'checkpoint';

export interface NamespaceOutcome {
  namespace: string;
  recordsPublished: number;
  pages: number;
  /** Vanished ids seen in this run. */
  vanished: number;
  done: boolean;
}

/** What the namespaces of one run share. */
export interface RunContext {
  source: PacedSource;
  encode: (record: LogRecord) => Promise<Buffer> | Buffer;
  topicPartitions: number;
  /** See `ExtractionOptions.partitionById`. */
  partitionById: boolean;
  fetchBatchSize: number;
  listLimit: number;
  retryPolicy: SourceRetryOptions;
  /** The caller's signal or the run's own fail-fast. */
  stop: AbortSignal;
  log: Logger;
  /** Slots for namespaces past their first page (`namespaceConcurrency`). */
  multiPage: Slots;
  /** The records topic's writes and the checkpoint saves, group-committed across namespaces. */
  sends: GroupCommit<OutgoingMessage>;
  saves: GroupCommit<Checkpoint>;
  onProgress?: ((namespace: string, extracted: number, done: boolean) => void) | undefined;
  onVanished?: ((namespace: string, ids: string[]) => void) | undefined;
  onRetry?: ((info: { operation: ExtractionOperation; namespace: string; error: unknown; delayMs: number }) => void) | undefined;
}

/** A counting semaphore whose waits end on abort. */
export class Slots {
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

export async function extractNamespace(run: RunContext, start: Checkpoint): Promise<NamespaceOutcome> {
  return new NamespaceExtraction(run, start).run();
}

class NamespaceExtraction {
  private readonly ctx: RunContext;
  private readonly ns: string;
  private readonly log: Logger;
  private cp: Checkpoint;
  private vanished = 0;
  private holdsSlot = false;

  constructor(ctx: RunContext, start: Checkpoint) {
    this.ctx = ctx;
    this.ns = start.namespace;
    this.cp = { ...start };
    this.log = ctx.log.child({ namespace: this.ns });
  }

  async run(): Promise<NamespaceOutcome> {
    this.ctx.onProgress?.(this.ns, this.cp.recordsPublished, this.cp.done);
    if (this.cp.done) return this.outcome();
    if (this.cp.pages > 0) this.log.info({ pages: this.cp.pages, recordsPublished: this.cp.recordsPublished }, 'resuming namespace from its checkpoint');
    try {
      const listingComplete = this.cp.pages > 0 && this.cp.paginationToken === null;
      if (listingComplete) await this.publishEnd();
      else await this.publishPages();
      if (this.cp.done) {
        const { recordsPublished, pages } = this.cp;
        this.log[pages > 1 ? 'info' : 'debug']({ recordsPublished, pages, vanished: this.vanished }, 'namespace extracted');
      }
      return this.outcome();
    } catch (err) {
      // A stop surfaces as the signal's reason from a sleep or a budget wait: a clean stop, not a failure.
      if (this.ctx.stop.aborted && (err === this.ctx.stop.reason || isRetriable(err))) return this.outcome();
      throw located(err, this.ns, this.cp.pages + 1);
    } finally {
      if (this.holdsSlot) this.ctx.multiPage.release();
    }
  }

  private outcome(): NamespaceOutcome {
    return { namespace: this.ns, recordsPublished: this.cp.recordsPublished, pages: this.cp.pages, vanished: this.vanished, done: this.cp.done };
  }

  /** From the checkpoint's token to the last page; a namespace past its first page holds a multi-page slot. */
  private async publishPages(): Promise<void> {
    // Resuming in the middle of a namespace: it has more than one page.
    if (this.cp.paginationToken !== null) await this.takeMultiPageSlot();
    let nextPage: Promise<ListPage> | null = this.listAt(this.cp.paginationToken);
    while (nextPage !== null) {
      if (this.ctx.stop.aborted) return;
      const page: ListPage = await nextPage;
      if (page.next !== null && page.next === this.cp.paginationToken) {
        throw new EtlError('INTERNAL', `list returned the same pagination token it was given ("${page.next}"); stopping rather than looping`);
      }
      // One page of look-ahead (the next list runs while this page is fetched and sent), once the
      // namespace holds a multi-page slot.
      nextPage = page.next !== null && this.holdsSlot ? this.listAt(page.next) : null;
      await this.publishPage(page);
      if (page.next !== null && nextPage === null) {
        await this.takeMultiPageSlot();
        nextPage = this.listAt(page.next);
      }
    }
  }

  /** Fetch, send (with the end markers on the last page), and checkpoint once Kafka acknowledged. */
  private async publishPage(page: ListPage): Promise<void> {
    const ctx = this.ctx;
    const last = page.next === null;
    const fetched = await Promise.all(fetchChunks(page.ids, ctx.fetchBatchSize).map((ids) => ctx.source.fetch(this.ns, ids)));
    const { records, vanished } = pageToRecords(this.ns, page.ids, fetched.flat());
    if (vanished.length > 0) {
      this.vanished += vanished.length;
      this.log.warn({ count: vanished.length, sample: vanished.slice(0, 5) }, 'ids listed but deleted before fetch; skipped');
      ctx.onVanished?.(this.ns, vanished);
    }
    const published = this.cp.recordsPublished + records.length;
    const values = records.length > 0 ? await this.persist('encode', () => Promise.all(records.map(async (r) => ctx.encode(r))), ctx.stop) : [];
    const messages: OutgoingMessage[] = records.map((r, i) =>
      ctx.partitionById
        ? { key: recordKey(this.ns, r.id), value: values[i]!, partition: partitionOfId(r.id, ctx.topicPartitions) }
        : { key: recordKey(this.ns, r.id), value: values[i]! },
    );
    // The last page carries the end markers: after this namespace's records on every partition.
    if (last) messages.push(...(await this.endMarkers(published)));
    await this.persist('send', () => ctx.sends.submit(messages), ctx.stop);
    // Acknowledged: from here the page counts, whatever the signal says.
    await this.checkpoint({ paginationToken: page.next, recordsPublished: published, pages: this.cp.pages + 1, done: last });
    this.log.debug({ page: this.cp.pages, records: records.length, recordsPublished: published }, 'page published');
  }

  /** Every page was published before a stop; only the markers are missing. */
  private async publishEnd(): Promise<void> {
    if (this.ctx.stop.aborted) return;
    const markers = await this.endMarkers(this.cp.recordsPublished);
    await this.persist('send', () => this.ctx.sends.submit(markers), this.ctx.stop);
    await this.checkpoint({ done: true });
  }

  private async checkpoint(change: Partial<Checkpoint>): Promise<void> {
    this.cp = { ...this.cp, ...change, updatedAt: Date.now() };
    const cp = this.cp;
    await this.persist('checkpoint', () => this.ctx.saves.submit([cp]), undefined);
    this.ctx.onProgress?.(this.ns, cp.recordsPublished, cp.done);
  }

  /** One marker per partition: every partition's consumer sees the end of this namespace. */
  private async endMarkers(count: number): Promise<OutgoingMessage[]> {
    const marker: EndOfNamespace = { kind: 'end', namespace: this.ns, count };
    const value = await this.persist('encode', async () => this.ctx.encode(marker), this.ctx.stop);
    return Array.from({ length: this.ctx.topicPartitions }, (_, partition) => ({ key: recordKey(this.ns, ''), value, partition }));
  }

  private listAt(token: string | null): Promise<ListPage> {
    const p = this.ctx.source.listPage(this.ns, token, this.ctx.listLimit);
    void p.catch(() => undefined); // a look-ahead may be dropped on stop; its failure surfaces when awaited
    return p;
  }

  private async takeMultiPageSlot(): Promise<void> {
    if (this.holdsSlot) return;
    await this.ctx.multiPage.acquire(this.ctx.stop);
    this.holdsSlot = true;
  }

  /** Kafka writes: retried while the run goes on; a stop between attempts leaves the page unacknowledged. */
  private persist<T>(operation: ExtractionOperation, fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return retry(fn, {
      ...this.ctx.retryPolicy,
      signal,
      onRetry: ({ error, delayMs }) => {
        this.log.warn({ operation, delayMs, err: errorMessage(error) }, 'retrying');
        this.ctx.onRetry?.({ operation, namespace: this.ns, error, delayMs });
      },
    });
  }
}

/** The partition of an id's records when they are partitioned by id (FNV-1a over its UTF-8 bytes). */
export function partitionOfId(id: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(id, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h % partitions;
}
