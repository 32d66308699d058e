import { describe, expect, it } from 'vitest';
import { decide } from './decide.ts';
import { DECISIONS, LIMITS, NOW, job, seen } from './decide.fixture.ts';

describe('decide', () => {
  for (const row of DECISIONS) {
    it(row.name, () => {
      const actions = decide(job(row.job), seen(row.seen));
      expect(actions).toHaveLength(row.want.length);
      row.want.forEach((want, i) => expect(actions[i]).toMatchObject(want));
    });
  }

  it('a job whose cancel time is missing counts its grace from its last update', () => {
    const cancelling = job({ status: 'CANCELLING', cancelRequestedAt: undefined, updatedAt: new Date(NOW - LIMITS.cancelGraceMs - 1).toISOString() });
    expect(decide(cancelling, seen({ loaderMembers: 3 }))).toMatchObject([{ kind: 'finish', status: 'CANCELLED' }]);
  });
});
