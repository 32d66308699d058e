// A small pool of worker threads that write fetch chunks. Everything big is shared, not copied:
// vector slabs are SharedArrayBuffers the workers are sent once and then know by id, and each
// chunk is written into one of a set of shared output buffers that the main thread hands to the
// socket directly and takes back when the socket is done with it. Only ids, metadata text and
// sparse vectors travel in the job message.
//
// Work is shared by claiming: every chunk of a response is queued for the workers, and when the
// main thread reaches a chunk no worker has started, it takes the chunk back and writes it
// itself. A compare-and-swap on a shared flag decides who writes each chunk, so neither thread
// waits for work the other could do and no chunk is written twice.

import { Worker } from 'node:worker_threads';
import { chunkBound } from './fetch-json.ts';
import type { ChunkPlan } from './fetch-json.ts';

export interface FormattedChunk {
  bytes: Buffer;
  release: () => void;
}

/** A chunk queued for the workers. */
export interface ChunkJob {
  /** The worker's result, once it has claimed and written the chunk. */
  readonly result: Promise<FormattedChunk>;
  /** Takes the chunk back if no worker has started it; true when the caller must write it. */
  reclaim(): boolean;
}

interface Pending {
  resolve: (value: FormattedChunk) => void;
  reject: (err: Error) => void;
  output: number;
}

interface PoolWorker {
  worker: Worker;
  /** Slab ids this worker has been sent. */
  slabs: Set<number>;
  /** Output buffers this worker has been sent. */
  outputs: number;
}

const OUTPUT_BYTES = 2 * 1024 * 1024;
/** Shared output buffers are never freed (the workers hold them too), so there are few. */
const MAX_OUTPUTS = 24;
/** Claim flags, indexed by job id modulo their number: 0 queued, 1 worker, 2 main thread. */
const CLAIM_SLOTS = 4096;

export class FormatPool {
  private readonly size: number;
  private workers: PoolWorker[] = [];
  private next = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** Jobs posted and not yet answered (written or skipped): bounds the reuse of claim flags. */
  private queued = 0;
  private readonly outputs: { sab: SharedArrayBuffer; buf: Buffer }[] = [];
  private readonly freeOutputs: number[] = [];
  private readonly claims = new Int32Array(new SharedArrayBuffer(CLAIM_SLOTS * 4));
  private closed = false;
  private readonly known = new Set<number>();
  /** Tells the workers to let go of a slab once the main thread no longer holds it. */
  private readonly finalizer = new FinalizationRegistry<number>((id) => {
    this.known.delete(id);
    for (const w of this.workers) {
      if (w.slabs.delete(id)) w.worker.postMessage({ type: 'drop', id });
    }
  });

  constructor(threads: number) {
    this.size = threads;
  }

  get enabled(): boolean {
    return this.size > 0 && !this.closed;
  }

  /** Queues `plan` for the workers, or returns undefined when the caller should write it. */
  submit(plan: ChunkPlan): ChunkJob | undefined {
    if (!this.enabled || this.queued >= CLAIM_SLOTS / 2 || chunkBound(plan) > OUTPUT_BYTES) return undefined;
    const output = this.takeOutput();
    if (output === undefined) return undefined;
    this.start();
    const id = ++this.seq;
    const w = this.workers[this.next++ % this.workers.length]!;
    while (w.outputs < this.outputs.length) {
      w.worker.postMessage({ type: 'output', index: w.outputs, sab: this.outputs[w.outputs]!.sab });
      w.outputs++;
    }
    for (let i = 0; i < plan.slabIds.length; i++) {
      const slab = plan.slabIds[i]!;
      if (slab < 0 || w.slabs.has(slab)) continue;
      const bits = plan.bits[i]!;
      w.worker.postMessage({ type: 'slab', id: slab, bits });
      w.slabs.add(slab);
      if (!this.known.has(slab)) {
        this.known.add(slab);
        this.finalizer.register(bits, slab);
      }
    }
    const claim = id % CLAIM_SLOTS;
    Atomics.store(this.claims, claim, 0);
    const result = new Promise<FormattedChunk>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, output });
    });
    w.worker.postMessage({ type: 'job', id, claim, output, plan: { ...plan, bits: [] } });
    this.queued++;
    return {
      result,
      reclaim: () => {
        if (Atomics.compareExchange(this.claims, claim, 0, 2) !== 0) return false;
        this.pending.delete(id);
        this.freeOutputs.push(output);
        return true;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.worker.terminate()));
    for (const p of this.pending.values()) p.reject(new Error('format pool closed'));
    this.pending.clear();
  }

  private takeOutput(): number | undefined {
    const free = this.freeOutputs.pop();
    if (free !== undefined) return free;
    if (this.outputs.length >= MAX_OUTPUTS) return undefined;
    const sab = new SharedArrayBuffer(OUTPUT_BYTES);
    this.outputs.push({ sab, buf: Buffer.from(sab) });
    return this.outputs.length - 1;
  }

  private start(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(new URL('./format-worker.ts', import.meta.url), { workerData: { claims: this.claims } });
      worker.unref();
      worker.on('message', (m: { id: number; length: number }) => {
        this.queued--;
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        const output = p.output;
        p.resolve({ bytes: this.outputs[output]!.buf.subarray(0, m.length), release: () => this.freeOutputs.push(output) });
      });
      worker.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.closed = true; // format everything on the main thread from now on
      });
      this.workers.push({ worker, slabs: new Set(), outputs: 0 });
    }
  }
}
