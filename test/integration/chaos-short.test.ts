// The short chaos run (the full one is `npm run chaos`): a hybrid migration through separate
// controller, extractor and loader processes while a seeded schedule SIGKILLs and restarts each of
// them, restarts the Kafka broker and Milvus, and makes the source answer 429s, 5xx, slowly or not
// at all. The job must end SUCCESSFUL, with an empty DLQ, and the target must equal the source.
// The seed is printed with the schedule: P2M_CHAOS_SEED=N replays a failing run.
import { afterAll, describe, expect, it } from 'vitest';
import { errorMessage } from '@p2m/core';
import { ALL_KINDS, runChaos, type ChaosResult, type FaultKind } from '../chaos/lib.ts';
import { newApiToken, startService, type ServiceProcess } from './controller-process.ts';
import { milvusAddress, uniqueName } from './pipeline-harness.ts';
import { killComponent, startComponent } from './stack.ts';

const SEED = Number(process.env.P2M_CHAOS_SEED || 20261125);
const COUNT = 12_000;
// P2M_CHAOS_KINDS=kill-loader,restart-kafka,... narrows the faults to bisect a failure.
const KINDS = process.env.P2M_CHAOS_KINDS ? (process.env.P2M_CHAOS_KINDS.split(',') as FaultKind[]) : ALL_KINDS;

describe('chaos, short', () => {
  const live: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(live.map((p) => p.kill('SIGKILL').catch(() => undefined)));
  });

  it(
    `seed ${SEED}: every process killed, Kafka and Milvus restarted, source faults → SUCCESSFUL, DLQ empty, target equals source`,
    { timeout: 600_000 },
    async () => {
      let result: ChaosResult;
      try {
        result = await runChaos(
          {
            milvusAddress: milvusAddress(),
            async spawn(role, name, apiToken) {
              const p = await startService(role, { name, apiToken, ...(role === 'loader' ? { loaders: 2 } : {}) });
              live.push(p);
              return p;
            },
            killComponent: (name, signal) => killComponent(name, signal),
            startComponent: (name) => startComponent(name),
            log: (line) => console.log(line),
          },
          {
            seed: SEED,
            count: COUNT,
            faults: KINDS.length,
            kinds: KINDS,
            tag: uniqueName('s'),
            apiToken: newApiToken(),
            timeoutMs: 540_000,
            fetchPerSecond: 5,
          },
        );
      } catch (err) {
        throw new Error(`chaos run with seed ${SEED} failed (replay: P2M_CHAOS_SEED=${SEED}): ${errorMessage(err)}`);
      }
      console.log(
        `chaos: seed ${SEED} result ${JSON.stringify({ ...result, injected: result.injected.map((f) => `${f.elapsedMs}ms ${f.kind}: ${f.detail}`) }, null, 1)}`,
      );
      expect(result.error, `seed ${SEED}`).toBeNull();
      expect(result.status, `seed ${SEED}`).toBe('SUCCESSFUL');
      expect(result.dlq, `seed ${SEED}`).toBe(0);
      expect(result.problems, `seed ${SEED}`).toEqual([]);
      // The faults really happened while the job ran: each kind at least once.
      expect(new Set(result.injected.map((f) => f.kind)), `seed ${SEED}`).toEqual(new Set(KINDS));
      if (KINDS.includes('source-faults')) {
        // 5xx and drops always come; 429s only when the extractor was fetching during the window.
        expect(result.emulator.errors + result.emulator.drops).toBeGreaterThan(0);
      }
    },
  );
});
