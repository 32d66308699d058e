// Worker thread that writes fetch chunks (see format-pool.ts): the float formatting is most of
// what a fetch costs, and a second core can do it while the main thread serves other requests.

import { parentPort, workerData } from 'node:worker_threads';
import { writeChunk } from './fetch-json.ts';
import type { ChunkPlan } from './fetch-json.ts';

type Message =
  | { type: 'slab'; id: number; bits: Uint32Array }
  | { type: 'drop'; id: number }
  | { type: 'output'; index: number; sab: SharedArrayBuffer }
  | { type: 'job'; id: number; claim: number; output: number; plan: ChunkPlan };

/** Vector slabs by id and output buffers by index, all shared with the main thread. */
const slabs = new Map<number, Uint32Array>();
const outputs: Buffer[] = [];
const claims = (workerData as { claims: Int32Array }).claims;

parentPort!.on('message', (m: Message) => {
  switch (m.type) {
    case 'slab':
      slabs.set(m.id, m.bits);
      break;
    case 'drop':
      slabs.delete(m.id);
      break;
    case 'output':
      outputs[m.index] = Buffer.from(m.sab);
      break;
    case 'job': {
      // The main thread may have taken this chunk back already; then it is not ours to write
      // (the reply still tells the pool the job has left the queue).
      if (Atomics.compareExchange(claims, m.claim, 0, 1) !== 0) {
        parentPort!.postMessage({ id: m.id, length: -1 });
        break;
      }
      const plan = m.plan;
      plan.bits = plan.slabIds.map((id) => (id < 0 ? null : slabs.get(id)!));
      parentPort!.postMessage({ id: m.id, length: writeChunk(plan, outputs[m.output]!) });
      break;
    }
  }
});
