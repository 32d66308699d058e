import { retry, type VectorRecord } from '@p2m/core';
import { HeapPacer } from './heap-pacer.ts';
import { LogJoin, type Copy, type JoinOptions, type JoinResult } from './log-join.ts';

/**
 * Reconciliation, the long phase: one pass over the records topic, every record looked up in the
 * target by primary key in large batches (a point lookup on every Milvus, Lite included, where any
 * other query scans the whole collection), and compared field by field. Memory is bounded by the
 * batches in flight plus what did not match: nothing is kept per matching record.
 *
 * The log may hold a record several times: a page sent again after an extractor restart, usually
 * the same content. All copies of a (namespace, id) land in one partition, in order, and the
 * loader wrote them in that order, so the last copy is what the target must hold (last write wins):
 * a copy that differs is remembered until a later copy of the same record matches.
 *
 * What is not in the target is settled on the spot, because every copy of a record sees the same
 * target: in the DLQ (accounted), its id held by another namespace's record (`id` mode: written to
 * the DLQ now, naming both namespaces), or missing.
 */
export async function joinLogWithTarget(o: JoinOptions): Promise<JoinResult> {
  const { plan, tracker } = o;
  const batchSize = o.batchSize ?? 2_048;
  const maxInFlight = o.inFlight ?? 3;
  const join = new LogJoin(o);
  // The adapter's admin is the client's shared one: not closed here.
  const offsets = await retry(() => o.log.admin().topicOffsets(o.topic), o.logPolicy);
  const partitions = Math.max(1, offsets.length);
  tracker.recordsTotal = offsets.reduce((s, p) => s + Number(BigInt(p.high) - BigInt(p.low)), 0);

  // Lookups run while the scan reads on; their answers are applied in log order (last write wins).
  const inFlight: { batch: Copy[]; rows: Promise<VectorRecord[]> }[] = [];
  let batch: Copy[] = [];
  const settleOldest = async (): Promise<void> => {
    const head = inFlight.shift()!;
    await join.apply(head.batch, await head.rows);
    tracker.recordsChecked += head.batch.length;
    tracker.work(tracker.recordsChecked, tracker.recordsTotal);
  };
  const dispatch = async (): Promise<void> => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    join.lookups++;
    const rows = retry(
      () =>
        o.sink.readByKeys(
          plan,
          b.map((c) => c.record),
        ),
      o.sinkPolicy,
    );
    rows.catch(() => undefined); // awaited in order by settleOldest; a failure surfaces there
    inFlight.push({ batch: b, rows });
    while (inFlight.length >= maxInFlight) await settleOldest();
  };

  const heap = new HeapPacer(o.heapHeadroomMb);
  // A reader that rejoins its group reads from the start again: messages already seen are skipped.
  const seen = new Map<number, bigint>();
  try {
    await o.log.scanToEnd(o.topic, async (m) => {
      const offset = BigInt(m.offset);
      const last = seen.get(m.partition);
      if (last !== undefined && offset <= last) return;
      seen.set(m.partition, offset);
      if (!m.value) return;
      if ((offset & 1023n) === 0n) heap.check();
      const r = await o.decode(m.value);
      const t = join.namespace(r.namespace);
      if (r.kind === 'end') {
        t.published = Math.max(t.published ?? 0, r.count);
        if (++t.markers === partitions) tracker.namespacesDone++;
        return;
      }
      join.logRecords++;
      t.copies++;
      batch.push({ record: r, partition: m.partition, offset: m.offset });
      if (batch.length >= batchSize) await dispatch();
    });
    await dispatch();
    while (inFlight.length > 0) await settleOldest();
  } finally {
    await Promise.allSettled(inFlight.map((f) => f.rows));
    await join.close();
    heap.done();
  }
  return join.result();
}
