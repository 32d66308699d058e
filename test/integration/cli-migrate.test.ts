// `p2m migrate` as a person runs it, against the test stack: it ends when its job ends, every time
// (a finished migrate once stayed for 10 minutes holding a Kafka and a Milvus connection), a job
// cancelled through the API ends it at once with CANCELLED and a non-zero exit, and its terminal
// holds progress and results in words: the log lines go to a file (issue 14).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedIndex, type Emulator } from '@p2m/emulator';
import { REPO_ROOT } from '@p2m/stack';
import { isJsonLine, NODE_WARNING, runCli, type CliRun } from './cli-process.ts';
import { ApiClient, newApiToken, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, SECRET_KEY, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';

const RUNS = Number(process.env.P2M_TEST_MIGRATE_RUNS ?? 20);
/** What the acceptance allows between the outcome on the terminal and the end of the process. */
const EXIT_WITHIN_MS = 5_000;
/** A list call answers after this long on the slow index: its job is still running when cancelled. */
const LIST_LATENCY_MS = 700;

/** The environment of a person's shell pointed at the test stack; no `.p2m/stack.env` of a user's. */
function cliEnv(): Record<string, string> {
  const stack = getTestStack();
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    P2M_STATE_DIR: join(REPO_ROOT, '.p2m-test', 'cli'),
    P2M_KAFKA_BROKERS: stack.kafka.brokers.join(','),
    P2M_REGISTRY_URL: stack.registry.url,
    P2M_SECRET_KEY: SECRET_KEY,
    PINECONE_API_KEY: API_KEY,
  };
}

function migrateArgs(emulator: Emulator, index: string, extra: string[] = []): string[] {
  return [
    'migrate',
    '--source-index',
    index,
    '--collection',
    uniqueName('cli'),
    '--pinecone-url',
    emulator.controllerHostUrl,
    '--milvus-address',
    milvusAddress(),
    '--loaders',
    '1',
    ...extra,
  ];
}

/** The line that says how the job ended ("Job <id> SUCCESSFUL after 4s: …"). */
const outcome = (run: CliRun) => run.waitForLine((l) => /^Job \S+ (SUCCESSFUL|FAILED|CANCELLED) after/.test(l.text), 180_000);

describe('p2m migrate in a terminal', () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startSeededEmulator('cli-tiny', { seed: 3, count: 12, dim: 4, namespaces: 1 });
    await seedIndex({ seed: 4, count: 400, dim: 4, namespaces: 2, index: 'cli-slow', url: emulator.controllerHostUrl, apiKey: API_KEY });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it(`ends when its job ends, every time: ${RUNS} runs each exit 0 within ${EXIT_WITHIN_MS / 1000} s of SUCCESSFUL`, { timeout: RUNS * 90_000 }, async () => {
    const lateOrFailed: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = runCli(migrateArgs(emulator, 'cli-tiny'), cliEnv());
      const line = await outcome(run).catch((err: unknown) => {
        run.kill();
        throw err;
      });
      const exit = await Promise.race([run.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
      if (exit === null) run.kill();
      const took = exit === null ? Infinity : exit.at - line.at;
      if (!line.text.includes('SUCCESSFUL') || exit?.code !== 0 || took > EXIT_WITHIN_MS) {
        lateOrFailed.push(
          `run ${i + 1}: "${line.text}", exit ${exit === null ? 'none within 60 s' : `${exit.code ?? exit.signal} ${took} ms after it`}\n${run.text().slice(-1500)}`,
        );
      }
    }
    expect(lateOrFailed).toEqual([]);
  });

  it('a job cancelled through the API ends the command with CANCELLED and a non-zero exit within 5 s', async () => {
    const token = newApiToken();
    const controller: ServiceProcess = await startService('controller', { name: 'cli-cancel-controller', apiToken: token });
    try {
      emulator.setFaults({ latencyMs: LIST_LATENCY_MS, operations: ['list'], indexes: ['cli-slow'] });
      const run = runCli(migrateArgs(emulator, 'cli-slow'), cliEnv());
      const progress = await run.waitForLine((l) => /^job \S+ IN PROGRESS/.test(l.text));
      const id = /^job (\S+)/.exec(progress.text)![1]!;
      const api = new ApiClient(controller.url, token);
      const cancelled = await api.post(`/v1/jobs/${id}/cancel`);
      expect(cancelled.status, cancelled.text).toBe(200);
      const cancelledAt = Date.now();
      const exit = await Promise.race([run.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
      const tookMs = Date.now() - cancelledAt;
      if (exit === null) run.kill();
      expect(exit, run.text()).not.toBeNull();
      expect(exit!.code).not.toBe(0);
      expect(tookMs, run.text()).toBeLessThanOrEqual(5_000);
      expect(run.text()).toMatch(new RegExp(`job ${id} ended CANCELLED: cancelled on request`));
      expect(run.text()).toContain(`Job ${id} CANCELLED after`);
    } finally {
      emulator.setFaults({});
      await controller.stop();
    }
  });

  it('shows progress and results in words; the log lines go to the file it names, and --verbose shows them too', async () => {
    const quiet = runCli(migrateArgs(emulator, 'cli-tiny'), cliEnv());
    const exit = await quiet.exited;
    expect(exit.code, quiet.text()).toBe(0);
    expect(quiet.lines.filter((l) => isJsonLine(l.text))).toEqual([]);
    expect(quiet.lines.filter((l) => NODE_WARNING.test(l.text))).toEqual([]);
    expect(quiet.text()).toContain('Verification PASSED');
    const named = /^p2m: logs go to (\S+)/.exec(quiet.lines[0]?.text ?? '');
    expect(named, quiet.text()).not.toBeNull();
    const logFile = resolve(REPO_ROOT, named![1]!);
    expect(existsSync(logFile)).toBe(true);
    const logged = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(logged.length).toBeGreaterThan(5);
    expect(logged.every(isJsonLine)).toBe(true);
    expect(logged.some((l) => l.includes('"job status"') && l.includes('SUCCESSFUL'))).toBe(true);

    const verbose = runCli(migrateArgs(emulator, 'cli-tiny', ['--verbose']), cliEnv());
    expect((await verbose.exited).code, verbose.text()).toBe(0);
    expect(verbose.lines.filter((l) => l.stream === 'stderr' && isJsonLine(l.text)).length).toBeGreaterThan(5);
  });
});
