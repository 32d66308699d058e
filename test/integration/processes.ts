// Pipeline services as separate OS processes (`node bin/p2m.js service <role>`), the way the stack
// and docker-compose run them, so a test can SIGKILL one mid-work and start it again. Each process's
// output goes to test-artifacts/processes/<run>/<name>.log for debugging a failed run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { TERMINAL_STATUSES, type JobView } from '@p2m/core';
import { createKafka } from '@p2m/kafka';
import { REPO_ROOT, serviceArgs } from '@p2m/stack';
import type { Runtime } from '@p2m/cli';
import { SECRET_KEY } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';

export type ServiceRole = 'extractor' | 'loader';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  readonly name: string;
  readonly role: ServiceRole;
  readonly pid: number;
  readonly logFile: string;
  /** Parsed pino lines (and raw text lines as `{ msg }`) seen so far. */
  readonly lines: Record<string, unknown>[];
  /** Settles when the process exits, with its code or signal. */
  readonly exited: Promise<ExitInfo>;
  /** Whether the process has exited. */
  hasExited(): boolean;
  /** Resolves with the first line `match` accepts (already seen or still to come). */
  waitForLine(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends `signal` and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
}

const LOG_DIR = join(REPO_ROOT, 'test-artifacts', 'processes', `${new Date().toISOString().replaceAll(':', '-')}-${process.pid}`);
const all = new Set<ServiceProcess>();

/** The environment every spawned service gets: the test stack, the test runtime's secret key. */
export function serviceEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const stack = getTestStack();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    P2M_KAFKA_BROKERS: stack.kafka.brokers.join(','),
    P2M_REGISTRY_URL: stack.registry.url,
    // The same key as the in-process runtime (pipeline-harness), so sealed job secrets open.
    P2M_SECRET_KEY: SECRET_KEY,
    // info: the "service started" line is what tells a test the process is ready.
    P2M_LOG_LEVEL: process.env.P2M_TEST_SERVICE_LOG_LEVEL ?? 'info',
    P2M_SINK_DEADLINE_MS: '60000',
    // Never pick up a user's `.p2m/stack.env`.
    P2M_STATE_DIR: join(REPO_ROOT, '.p2m-test', 'no-stack-env'),
    ...extra,
  };
  // vitest sets NODE_ENV=test, which makes the Milvus SDK log every request at debug.
  delete env.NODE_ENV;
  return env;
}

/**
 * Starts `p2m service <role>` and resolves once it logged "service started" (it has joined Kafka and
 * follows the job board). Rejects, with the tail of its output, if it exits or stalls before that.
 */
export async function spawnService(
  role: ServiceRole,
  name: string,
  options: { args?: string[]; env?: Record<string, string>; startTimeoutMs?: number } = {},
): Promise<ServiceProcess> {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${name}.log`);
  const out: WriteStream = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, [...serviceArgs(role), ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: serviceEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${name}`);
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>();
  let exitInfo: ExitInfo | null = null;

  const onText = (stream: 'out' | 'err') => {
    let pending = '';
    return (chunk: Buffer): void => {
      out.write(chunk);
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const text of parts) {
        if (!text.trim()) continue;
        let line: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(text);
          line = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { msg: text, stream };
        } catch {
          line = { msg: text, stream };
        }
        lines.push(line);
        for (const w of waiters) {
          if (w.match(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    };
  };
  child.stdout!.on('data', onText('out'));
  child.stderr!.on('data', onText('err'));
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      out.write(`\n--- exited: code ${code} signal ${signal} ---\n`);
      resolve(exitInfo);
    });
  });
  void exited.then(() => out.end());

  const tail = (): string =>
    lines
      .slice(-15)
      .map((l) => JSON.stringify(l))
      .join('\n');

  const proc: ServiceProcess = {
    name,
    role,
    pid: child.pid,
    logFile,
    lines,
    exited,
    hasExited: () => exitInfo !== null,
    waitForLine(match, timeoutMs = 120_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name}: the awaited log line did not come within ${timeoutMs} ms; last lines:\n${tail()}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((info) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${info.code}, signal ${info.signal}) before the awaited log line; last lines:\n${tail()}`));
        });
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (exitInfo) return exitInfo;
      // By pid, this one process only.
      process.kill(child.pid!, signal);
      return exited;
    },
  };
  all.add(proc);
  void exited.then(() => all.delete(proc));
  await proc.waitForLine((l) => l.msg === 'service started', options.startTimeoutMs ?? 120_000);
  return proc;
}

/**
 * Stops a service the way the stack does (SIGTERM) and reports how it ended; a process still
 * running after `graceMs` is killed, and the result then says so (signal SIGKILL).
 */
export async function stopService(proc: ServiceProcess, graceMs = 10_000): Promise<ExitInfo & { withinGrace: boolean }> {
  if (proc.hasExited()) return { ...(await proc.exited), withinGrace: true };
  process.kill(proc.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const first = await Promise.race([proc.exited, late]);
  clearTimeout(timer);
  if (first === 'late') {
    const info = await proc.kill('SIGKILL');
    return { ...info, withinGrace: false };
  }
  return { ...first, withinGrace: true };
}

/** For afterAll: kills whatever a test left running (a failed test must not leak processes). */
export async function killAllServices(): Promise<void> {
  await Promise.all([...all].map((p) => p.kill('SIGKILL').catch(() => undefined)));
}

/** Polls the job until `ready(view)` holds (the moment to crash something), failing on a terminal status. */
export async function waitForJob(runtime: Runtime, id: string, ready: (view: JobView) => boolean, what: string, timeoutMs = 300_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await runtime.jobs!.get(id);
    if (ready(view)) return view;
    if (TERMINAL_STATUSES.has(view.status))
      throw new Error(`job ${id} ended ${view.status} while waiting for ${what}: ${JSON.stringify(view.error ?? view.progress.total)}`);
    if (Date.now() > deadline) throw new Error(`job ${id}: no ${what} within ${timeoutMs} ms (${view.status}, ${JSON.stringify(view.progress.total)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Members of a consumer group on the test stack's Kafka. Process-crash tests count on being the
 * only workers there: another test run sharing the stack (engineers in one checkout) runs
 * extractors and loaders that follow every job on the board, including this test's.
 */
export async function groupMembers(group: string): Promise<number> {
  const kafka = createKafka({ brokers: getTestStack().kafka.brokers, clientId: 'p2m-test-groups' });
  try {
    return await kafka.admin().groupMemberCount(group);
  } finally {
    await kafka.close();
  }
}

export const SHARED_STACK_HINT =
  'another test run shares this test stack and its workers take part in this job; run the process-crash tests with the stack to themselves';

/**
 * Waits until nobody is in `group`: a member SIGKILLed by an earlier test lingers until its session
 * (30 s) expires. Still occupied after that means someone else's live workers: fail, saying so.
 */
export async function expectGroupEmpty(group: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let members = await groupMembers(group);
  while (members > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1_000));
    members = await groupMembers(group);
  }
  if (members > 0) throw new Error(`${members} member(s) in ${group} before this test started any: ${SHARED_STACK_HINT}`);
}
