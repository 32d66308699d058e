import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps the garbage of a long scan from growing the controller's memory. Reading a records topic
 * allocates several times its size in short-lived objects and buffers (KafkaJS's messages and
 * fetch buffers, decoded records, answers from the target). With 2 MB semi-spaces, whatever a batch
 * in flight holds outlives two scavenges and is promoted, so the old generation fills at the scan's
 * rate; V8 lets it grow well past the live set before it collects, and Buffers held by dead objects
 * (external memory) wait for the same collection. A 1,000,000-record scan raised the controller's
 * RSS by 240–290 MB that way (measured) with a live set under 60 MB.
 *
 * A full collection whenever heap plus external memory has grown by an eighth of what was live after
 * the last one (at least `minHeadroomMb`) keeps the peak near the live set whatever the number of
 * records. A collection costs in proportion to the live set, so tying the headroom to it keeps the
 * cost per record constant. Measured side by side on a 1,000,000-record verification (dim 8): a
 * headroom of max(32 MB, live/4) over the heap alone let the heap grow 40 MB and the buffers 11 MB
 * over the settled figure; see bench/README.md for the current figures.
 *
 * The collector is reached through `--expose-gc`, turned on at run time for this (V8 reads the flag
 * when a new context asks for `gc`); a process that started with `--expose-gc` uses its own.
 */
export class HeapPacer {
  readonly #gc: (() => void) | null;
  readonly #minHeadroom: number;
  #limit = 0;

  constructor(minHeadroomMb = 8) {
    this.#gc = exposedGc();
    this.#minHeadroom = minHeadroomMb * 1024 * 1024;
    this.#collect();
  }

  /** Collects when memory grew past the headroom since the last collection. Cheap to call often. */
  check(): void {
    if (this.#gc && inUse() > this.#limit) this.#collect();
  }

  /** The scan is over: one last collection gives its garbage back now, not at V8's next whim. */
  done(): void {
    this.#collect();
  }

  #collect(): void {
    if (!this.#gc) return;
    this.#gc();
    const live = inUse();
    this.#limit = live + Math.max(this.#minHeadroom, live / 8);
  }
}

/** Heap in use plus memory outside it that heap objects hold (Buffers, ArrayBuffers). */
function inUse(): number {
  const s = getHeapStatistics();
  return s.used_heap_size + s.external_memory;
}

function exposedGc(): (() => void) | null {
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === 'function') return own;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
