// Several processes set up schema-registry subjects at the same moment against the real registry.
// A job's records subject is new, and both the process that creates the job and the controller that
// owns its partition set it up (topics, the subject's compatibility, the schema): Apicurio answers
// the loser of two concurrent compatibility updates 409 "A rule named 'COMPATIBILITY' already
// exists", which failed the job for good at set-up with an "[object Object]" message (issue 14).
// The first test hits that race on purpose (processes released together, many subjects); the
// second creates jobs through several controller processes at once, end to end.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '@p2m/core';
import { REPO_ROOT } from '@p2m/stack';
import type { Emulator } from '@p2m/emulator';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';

const PROCESSES = 3;
const JOBS_PER_PROCESS = 4;

const SET_UP_PROCESSES = 4;
const SUBJECTS_PER_ROUND = 16;
const ROUNDS = 3;

interface SetUpResult {
  topic: string;
  id?: number;
  error?: string;
}

/** Processes that set up subjects on "go" (registry-set-up-process.ts); resolves once all are ready. */
async function startSetUpProcesses(count: number, url: string) {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, [join(import.meta.dirname, 'registry-set-up-process.ts'), url], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
  const next = async (i: number): Promise<string> => {
    const { value, done } = await lines[i]!.next();
    if (done) throw new Error(`set-up process ${i} ended early`);
    return value;
  };
  for (let i = 0; i < count; i++) expect(await next(i)).toBe('ready');
  return {
    /** Every process sets up `topics` at once; the results of all. */
    async round(topics: string[]): Promise<SetUpResult[]> {
      for (const child of children) child.stdin.write(`${topics.join(',')}\n`);
      const answers = await Promise.all(children.map((_, i) => next(i)));
      return answers.flatMap((a) => JSON.parse(a) as SetUpResult[]);
    },
    close(): void {
      for (const child of children) child.stdin.end();
    },
  };
}

describe('schema registry set-up from several processes at once', () => {
  let emulator: Emulator;
  const controllers: ServiceProcess[] = [];
  const token = newApiToken();

  beforeAll(async () => {
    emulator = await startSeededEmulator('race-src', { seed: 5, count: 20, dim: 4, namespaces: 1 });
    controllers.push(
      ...(await Promise.all(Array.from({ length: PROCESSES }, (_, i) => startService('controller', { name: `race-controller-${i}`, apiToken: token })))),
    );
  });
  afterAll(async () => {
    await Promise.all(controllers.map((c) => c.stop()));
    await emulator?.close();
  });

  it('several processes set up the same fresh subjects at the same instant: every one succeeds', async () => {
    const processes = await startSetUpProcesses(SET_UP_PROCESSES, getTestStack().registry.url);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const topics = Array.from({ length: SUBJECTS_PER_ROUND }, () => `p2m.job.${uniqueName('race')}.records`);
        const results = await processes.round(topics);
        expect(results).toHaveLength(SET_UP_PROCESSES * SUBJECTS_PER_ROUND);
        expect(results.filter((r) => r.error !== undefined)).toEqual([]);
        // The same schema everywhere: one id, whoever won each race.
        expect(new Set(results.map((r) => r.id)).size).toBe(1);
      }
    } finally {
      processes.close();
    }
  });

  it('no job fails at set-up, and no message reads "[object Object]"', async () => {
    const apis = controllers.map((c) => new ApiClient(c.url, token));
    const created = await Promise.all(
      apis.flatMap((api) =>
        Array.from({ length: JOBS_PER_PROCESS }, () =>
          api.post<JobView>('/v1/jobs', {
            source: { apiKey: API_KEY, index: 'race-src', controllerHostUrl: emulator.controllerHostUrl },
            target: { address: milvusAddress(), collection: uniqueName('race') },
          }),
        ),
      ),
    );
    for (const res of created) expect(res.status, res.text).toBe(201);
    const ids = created.map((res) => res.body.id);
    // No extractor or loader runs here, so a job that got through its set-up stays IN_PROGRESS.
    const settled = await Promise.all(ids.map((id) => pollJob(apis[0]!, id, ['IN_PROGRESS', 'FAILED'], 60_000)));
    for (const job of settled) expect({ id: job.id, status: job.status, error: job.error }).toEqual({ id: job.id, status: 'IN_PROGRESS', error: undefined });

    await Promise.all(ids.map((id) => apis[0]!.post(`/v1/jobs/${id}/cancel`)));
    await Promise.all(ids.map((id) => pollJob(apis[0]!, id, ['CANCELLED'], 60_000)));
    for (const c of controllers) expect(c.output()).not.toContain('[object Object]');
    for (const body of apis[0]!.bodies) expect(body).not.toContain('[object Object]');
  });
});
