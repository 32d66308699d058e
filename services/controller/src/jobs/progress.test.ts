import { describe, expect, it } from 'vitest';
import type { JobProgress, VerificationReport } from '@p2m/core';
import { settleProgress } from './progress.ts';

describe('settleProgress', () => {
  it('a verified job keeps the verified counts, not running tallies that counted replays twice', () => {
    // A crash made the extractor publish a page of "a" twice: the loaders counted it twice.
    const running: JobProgress = {
      namespaces: [
        { namespace: '', sourceCount: 10, extracted: 10, loaded: 10, failed: 0, extractionDone: true },
        { namespace: 'a', sourceCount: 300, extracted: 300, loaded: 398, failed: 2, extractionDone: true },
      ],
      total: { sourceCount: 310, extracted: 310, loaded: 408, failed: 2 },
      recordsPerSecond: 0,
      etaSeconds: 0,
      consumerLag: 0,
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
    const ns = (namespace: string, targetCount: number, dlq: number) => ({
      namespace,
      sourceCount: 0,
      extracted: 0,
      targetCount,
      dlq,
      missing: 0,
      missingSample: [],
      ok: true,
    });
    const report = { passed: true, namespaces: [ns('', 10, 0), ns('a', 299, 1)] } as unknown as VerificationReport;
    const settled = settleProgress(running, report);
    expect(settled.total).toEqual({ sourceCount: 310, extracted: 310, loaded: 309, failed: 1 });
    expect(settled.namespaces.map((n) => [n.namespace, n.loaded, n.failed])).toEqual([
      ['', 10, 0],
      ['a', 299, 1],
    ]);
    expect(settled.consumerLag).toBe(0);
  });
});
