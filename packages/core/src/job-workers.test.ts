import { describe, expect, it } from 'vitest';
import { InMemoryLog } from '@p2m/testing';
import { JobBoard } from './board.ts';
import { EtlError } from './errors.ts';
import { JobWorkers } from './job-workers.ts';
import type { JobRecord } from './job-record.ts';
import { createLogger } from './logger.ts';
import { CHECKPOINTS_TOPIC, JOBS_TOPIC } from './topics.ts';

const logger = createLogger('test', { level: 'silent' });

async function board(): Promise<JobBoard> {
  const log = new InMemoryLog();
  for (const topic of [JOBS_TOPIC, CHECKPOINTS_TOPIC]) await log.admin().ensureTopic({ topic, partitions: 2, compacted: true });
  const b = new JobBoard(log);
  await b.start();
  return b;
}

const job = (patch: Partial<JobRecord>): JobRecord => ({
  id: 'j1',
  status: 'IN_PROGRESS',
  createdAt: '',
  updatedAt: new Date().toISOString(),
  generation: 1,
  mode: 'extract',
  topicJobId: 'j1',
  spec: {} as JobRecord['spec'],
  sealedSecrets: '',
  plan: {} as JobRecord['plan'],
  ...patch,
});
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('JobWorkers', () => {
  it('runs wanted jobs once, aborts them when the job moves on or a new generation starts, and stops', async () => {
    const b = await board();
    const events: string[] = [];
    const workers = new JobWorkers({
      role: 'loader',
      board: b,
      workerId: 'w1',
      logger,
      wants: (r) => r.status === 'IN_PROGRESS',
      run: (r, signal) =>
        new Promise<void>((resolve) => {
          events.push(`start g${r.generation}`);
          signal.addEventListener('abort', () => (events.push(`abort g${r.generation}`), resolve()));
        }),
    });
    workers.start();
    await b.putJob(job({}));
    await b.putJob(job({ updatedAt: new Date(Date.now() + 1).toISOString() })); // the same generation again: no relaunch
    await settle();
    await b.putJob(job({ generation: 2, updatedAt: new Date(Date.now() + 2).toISOString() }));
    await settle();
    await b.putJob(job({ generation: 2, status: 'CANCELLING', updatedAt: new Date(Date.now() + 3).toISOString() }));
    await settle();
    expect(events).toEqual(['start g1', 'abort g1', 'start g2', 'abort g2']);
    await workers.stop();
    await b.putJob(job({ generation: 3, updatedAt: new Date(Date.now() + 4).toISOString() }));
    await settle();
    expect(events).toHaveLength(4);
    await b.stop();
  });

  it('reports a failure with its code, what to do and where, as the worker status the controller reads', async () => {
    const b = await board();
    const workers = new JobWorkers({
      role: 'extractor',
      board: b,
      workerId: 'x1',
      logger,
      wants: () => true,
      run: async () => {
        throw new EtlError('SOURCE_UNAUTHORIZED', 'Pinecone refused the API key', { hint: 'check source.apiKey', details: { at: 'namespace a, page 3' } });
      },
    });
    workers.start();
    await b.putJob(job({}));
    await settle();
    expect([...(b.workers.get('j1')?.values() ?? [])]).toMatchObject([
      {
        role: 'extractor',
        workerId: 'x1',
        generation: 1,
        state: 'failed',
        error: { code: 'SOURCE_UNAUTHORIZED', message: 'Pinecone refused the API key; check source.apiKey', at: 'namespace a, page 3' },
      },
    ]);
    await workers.stop();
    await b.stop();
  });
});
