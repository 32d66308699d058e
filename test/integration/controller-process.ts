// The pipeline's services as separate OS processes (`node bin/p2m.js service <role>`), as the
// local stack and docker-compose run them, against the test stack's Kafka, registry and Milvus.
// Each process's stdout and stderr are kept in memory (a secrets test scans them) and copied to
// test-artifacts/logs/ for debugging.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, createWriteStream, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { JobView } from '@p2m/core';
import { serviceArgs } from '@p2m/stack';
import { SECRET_KEY } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const LOG_DIR = join(REPO_ROOT, 'test-artifacts', 'logs');

export type ServiceRole = 'controller' | 'extractor' | 'loader';

export interface ServiceProcess {
  readonly name: string;
  readonly role: ServiceRole;
  readonly pid: number;
  /** The controller's base URL (controller only). */
  readonly url: string;
  /** Everything the process wrote so far, stdout and stderr interleaved as received. */
  output(): string;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM and wait for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServiceOptions {
  name?: string;
  /** The controller's bearer token (controller role). */
  apiToken?: string;
  /** Loader workers in one loader process. */
  loaders?: number;
  /** Extra or overriding environment. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function newApiToken(): string {
  return `p2m-api-${randomBytes(18).toString('hex')}`;
}

/** Environment every service of one test run shares (same Kafka, registry, secret key). */
export function serviceEnv(extra: Record<string, string> = {}): Record<string, string> {
  const stack = getTestStack();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    // No `.p2m/stack.env` of a user's stack may fill in anything.
    P2M_STATE_DIR: join(REPO_ROOT, '.p2m-test', 'no-stack-env'),
    P2M_KAFKA_BROKERS: stack.kafka.brokers.join(','),
    P2M_REGISTRY_URL: stack.registry.url,
    P2M_SECRET_KEY: SECRET_KEY,
    P2M_LOG_LEVEL: process.env.P2M_TEST_SERVICE_LOG_LEVEL ?? 'info',
    P2M_SINK_DEADLINE_MS: '60000',
    NODE_ENV: 'production',
    ...extra,
  };
  return env;
}

let counter = 0;

/** Starts `p2m service <role>` and resolves once it logged "service started" (with its URL). */
export async function startService(role: ServiceRole, options: ServiceOptions = {}): Promise<ServiceProcess> {
  counter += 1;
  const name = options.name ?? `${role}-${counter}`;
  const env = serviceEnv({
    ...(role === 'controller' ? { P2M_API_TOKEN: options.apiToken ?? newApiToken(), P2M_CONTROLLER_HOST: '127.0.0.1', P2M_CONTROLLER_PORT: '0' } : {}),
    ...options.env,
  });
  const args = serviceArgs(role);
  if (role === 'loader' && options.loaders) args.push('--loaders', String(options.loaders));
  mkdirSync(LOG_DIR, { recursive: true });
  const file: WriteStream = createWriteStream(join(LOG_DIR, `${name}-${process.pid}.log`), { flags: 'a' });
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const chunks: string[] = [];
  let pending = '';
  let url = '';
  let started: (() => void) | null = null;
  const onData = (buf: Buffer): void => {
    const text = buf.toString('utf8');
    chunks.push(text);
    file.write(text);
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.includes('service started')) continue;
      try {
        url = (JSON.parse(line) as { url?: string | null }).url ?? '';
      } catch {
        // not a JSON line
      }
      started?.();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      file.end();
      res({ code, signal });
    });
  });
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`${name} did not report "service started" within ${timeoutMs} ms:\n${chunks.join('').slice(-3000)}`)),
      timeoutMs,
    );
    started = () => {
      clearTimeout(timer);
      res();
    };
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`${name} exited (${code ?? signal}) before it started:\n${chunks.join('').slice(-3000)}`));
    });
  });
  if (role === 'controller' && !url) throw new Error(`${name} started without a URL in its log`);
  const proc: ServiceProcess = {
    name,
    role,
    pid: child.pid!,
    url,
    output: () => chunks.join(''),
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return proc;
}

/** A small JSON client for the controller's API, keeping every response body it saw. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly token: string;
  /** Every response body received, as text (a secrets test scans them). */
  readonly bodies: string[] = [];

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  withBase(baseUrl: string): ApiClient {
    const next = new ApiClient(baseUrl, this.token);
    // One record of bodies across controller restarts.
    (next as { bodies: string[] }).bodies = this.bodies;
    return next;
  }

  async request<T = any>(
    method: string,
    path: string,
    options: { body?: unknown; token?: string | null; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.token : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    this.bodies.push(text);
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = text ? JSON.parse(text) : undefined;
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  }

  get<T = any>(path: string, options?: { token?: string | null }): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T = any>(path: string, body?: unknown, options?: { token?: string | null }): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, { ...options, body });
  }
}

/** Polls `GET /v1/jobs/{id}` until the job is in one of `statuses`. */
export async function pollJob(api: ApiClient, id: string, statuses: readonly string[], timeoutMs = 300_000, intervalMs = 300): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  let last: JobView;
  for (;;) {
    const res = await api.get<JobView>(`/v1/jobs/${id}`);
    if (res.status !== 200) throw new Error(`GET /v1/jobs/${id} answered ${res.status}: ${res.text}`);
    last = res.body;
    if (statuses.includes(last.status)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `job ${id} still ${last.status} after ${timeoutMs} ms (waiting for ${statuses.join('|')}): ${JSON.stringify(last.progress?.total)} ${JSON.stringify(last.error ?? null)}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
