import { afterEach, describe, expect, it } from 'vitest';
import { EtlError, JOB_STATUSES, canTransition, loaderGroup, recordsTopic, type JobRecord, type JobStatus } from '@p2m/core';
import { createControllerWorld, type ControllerWorld } from '../testing/index.ts';
import { DECISIONS } from './decide.fixture.ts';

/**
 * The command side of the lifecycle (what the API asks for) on the real service over fakes, with no
 * driver: each row puts a job in a state, runs a command, and names the edge it takes or the refusal.
 */
let world: ControllerWorld;
afterEach(async () => {
  await world?.stop();
});

async function started(): Promise<ControllerWorld> {
  world = createControllerWorld({ drive: false });
  await world.start();
  return world;
}

const spec = (collection: string) => ({ source: { apiKey: 'pcsk_k', index: 'docs-index' }, target: { address: 'fake:19530', collection } });

/** A job in `status`, as the rest of the cluster would have left it. */
async function jobIn(status: JobStatus, collection = `c_${status.toLowerCase()}`): Promise<JobRecord> {
  const view = await world.service.create(spec(collection));
  const record = world.service.board.jobs.get(view.id)!;
  const moved = { ...record, status, updatedAt: new Date(Date.now() + 5).toISOString() };
  await world.service.board.putJob(moved);
  return moved;
}

interface CommandRow {
  edge?: string;
  from: JobStatus;
  command: 'cancel' | 'resume' | 'replay';
  want: JobStatus | 'JOB_STATE';
}
const COMMANDS: CommandRow[] = [
  { edge: 'PENDING→CANCELLING', from: 'PENDING', command: 'cancel', want: 'CANCELLING' },
  { edge: 'IN_PROGRESS→CANCELLING', from: 'IN_PROGRESS', command: 'cancel', want: 'CANCELLING' },
  { edge: 'VERIFYING→CANCELLING', from: 'VERIFYING', command: 'cancel', want: 'CANCELLING' },
  { from: 'CANCELLING', command: 'cancel', want: 'CANCELLING' },
  { from: 'SUCCESSFUL', command: 'cancel', want: 'JOB_STATE' },
  { edge: 'FAILED→IN_PROGRESS', from: 'FAILED', command: 'resume', want: 'IN_PROGRESS' },
  { edge: 'CANCELLED→IN_PROGRESS', from: 'CANCELLED', command: 'resume', want: 'IN_PROGRESS' },
  { from: 'IN_PROGRESS', command: 'resume', want: 'JOB_STATE' },
  { from: 'SUCCESSFUL', command: 'resume', want: 'JOB_STATE' },
  { edge: 'SUCCESSFUL→IN_PROGRESS', from: 'SUCCESSFUL', command: 'replay', want: 'IN_PROGRESS' },
  { from: 'FAILED', command: 'replay', want: 'IN_PROGRESS' },
  { from: 'CANCELLED', command: 'replay', want: 'IN_PROGRESS' },
  { from: 'VERIFYING', command: 'replay', want: 'JOB_STATE' },
];

describe('job commands', () => {
  for (const row of COMMANDS) {
    it(`${row.command} of a ${row.from} job → ${row.want}`, async () => {
      await started();
      const record = await jobIn(row.from);
      const run = row.command === 'replay' ? world.service.replay(record.id, {}) : world.service[row.command](record.id);
      if (row.want === 'JOB_STATE') {
        await expect(run).rejects.toMatchObject({ code: 'JOB_STATE' });
        expect(world.service.board.jobs.get(record.id)!.status).toBe(row.from);
        return;
      }
      const view = await run;
      expect(view.status).toBe(row.want);
      if (row.command !== 'cancel') expect(view.generation).toBe(record.generation + 1);
      if (row.command === 'replay') expect(view.mode).toBe('replay');
    });
  }

  it('create sets the job up while the caller waits: topics, the collection, IN_PROGRESS', async () => {
    await started();
    const view = await world.service.create(spec('made_here'));
    expect(view.status).toBe('IN_PROGRESS');
    expect(world.milvus.collections.get('made_here')?.plan?.collection).toBe('made_here');
    expect(await world.log.admin().topicExists(recordsTopic(view.id))).toBe(true);
  });

  it('a set-up the target refuses for good FAILs the job at set-up and answers with the refusal', async () => {
    await started();
    world.milvus.failNext('createCollection', new EtlError('TARGET_UNSUPPORTED', 'this Milvus cannot make the collection', { retriable: false }));
    await expect(world.service.create(spec('refused'))).rejects.toThrow('this Milvus cannot make the collection');
    const [failed] = await world.service.list();
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'TARGET_UNSUPPORTED', at: 'set-up' } });
  });

  it('refuses a collection that exists, a replay into one, and a replay while loaders still run', async () => {
    await started();
    world.milvus.foreignCollection('theirs');
    await expect(world.service.create(spec('theirs'))).rejects.toMatchObject({ code: 'TARGET_COLLECTION_EXISTS', field: 'target.collection' });
    const done = await jobIn('SUCCESSFUL', 'mine');
    await expect(world.service.replay(done.id, { collection: 'theirs' })).rejects.toMatchObject({ code: 'TARGET_COLLECTION_EXISTS' });
    const loader = world.log.consumer({ groupId: loaderGroup(done.id), topics: [recordsTopic(done.id)], fromBeginning: true });
    const running = loader.run(async () => undefined);
    await expect(world.service.replay(done.id, {})).rejects.toMatchObject({ code: 'JOB_STATE', message: /loaders of job .* are still running/ });
    await loader.stop();
    await running;
    expect((await world.service.replay(done.id, {})).status).toBe('IN_PROGRESS');
  });

  it('every edge of the lifecycle is taken by a decision or a command (PENDING→CANCELLED by neither: a cancel goes through CANCELLING)', () => {
    const allowed = JOB_STATUSES.flatMap((from) => JOB_STATUSES.filter((to) => from !== to && canTransition(from, to)).map((to) => `${from}→${to}`));
    const taken = new Set([...DECISIONS.flatMap((d) => (d.edge ? [d.edge] : [])), ...COMMANDS.flatMap((c) => (c.edge ? [c.edge] : [])), 'PENDING→FAILED']);
    expect(allowed.filter((e) => !taken.has(e))).toEqual(['PENDING→CANCELLED']);
    expect([...taken].filter((e) => !allowed.includes(e))).toEqual([]);
  });
});

describe('a long-running controller', () => {
  it('forgets the figures of finished jobs at the next tick, and their views keep the frozen progress', async () => {
    await started();
    const views = await Promise.all(['a', 'b', 'c'].map((c) => world.service.create(spec(`c_${c}`))));
    await world.service.list();
    expect(world.service.trackedJobs).toBe(3);
    for (const v of views.slice(0, 2)) {
      const record = world.service.board.jobs.get(v.id)!;
      const finalProgress = { ...world.service.view(record).progress, recordsPerSecond: 42 };
      await world.service.board.putJob({ ...record, status: 'SUCCESSFUL', finalProgress, updatedAt: new Date(Date.now() + 5).toISOString() });
    }
    world.service.tick();
    expect(world.service.trackedJobs).toBe(1);
    const finished = await world.service.get(views[0]!.id);
    expect(finished.status).toBe('SUCCESSFUL');
    expect(finished.progress.recordsPerSecond).toBe(42);
    expect(world.service.trackedJobs).toBe(1);
  });
});
