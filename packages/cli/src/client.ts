import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  EtlError,
  SpecError,
  type CollectionPlan,
  type ErrorCode,
  type ErrorsPage,
  type FieldIssue,
  type JobService,
  type JobStatus,
  type JobView,
} from '@p2m/core';

/**
 * The controller's HTTP API as a JobService, so the CLI (and anything else out of process) drives
 * jobs with the same calls as the embedded path. Failures are EtlErrors carrying the API's code,
 * message and hint; SPEC_INVALID answers come back as a SpecError with the field issues.
 */

export const DEFAULT_CONTROLLER_URL = 'http://127.0.0.1:8080';

export interface ControllerConnection {
  url: string;
  token: string | undefined;
  /** Where the token came from, for error hints. */
  tokenSource: 'option' | 'env' | 'stack.env' | 'none';
}

/**
 * `--url` / `--token` → `$P2M_CONTROLLER_URL` / `$P2M_API_TOKEN` → the local stack's `stack.env`
 * (in `$P2M_STACK_DIR` or `.p2m/`) → the default URL.
 */
export function resolveConnection(
  options: { url?: string | undefined; token?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ControllerConnection {
  const stackEnv = readStackEnv(resolve(cwd, env.P2M_STACK_DIR || '.p2m', 'stack.env'));
  const url = options.url || env.P2M_CONTROLLER_URL || stackEnv.P2M_CONTROLLER_URL || DEFAULT_CONTROLLER_URL;
  if (options.token) return { url, token: options.token, tokenSource: 'option' };
  if (env.P2M_API_TOKEN) return { url, token: env.P2M_API_TOKEN, tokenSource: 'env' };
  if (stackEnv.P2M_API_TOKEN) return { url, token: stackEnv.P2M_API_TOKEN, tokenSource: 'stack.env' };
  return { url, token: undefined, tokenSource: 'none' };
}

/** KEY=VALUE lines (optionally `export`ed, optionally quoted); a missing file is empty. */
export function readStackEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match || line.startsWith('#')) continue;
    let value = match[2]!.trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]!)) value = value.slice(1, -1);
    out[match[1]!] = value;
  }
  return out;
}

/** Every ErrorCode, so an answer's code can be kept when core knows it (checked by the compiler). */
const CORE_CODES: Record<ErrorCode, true> = {
  SPEC_INVALID: true,
  SOURCE_UNAUTHORIZED: true,
  SOURCE_INDEX_NOT_FOUND: true,
  SOURCE_POD_INDEX: true,
  SOURCE_UNSUPPORTED: true,
  TARGET_COLLECTION_EXISTS: true,
  TARGET_UNSUPPORTED: true,
  TARGET_UNAVAILABLE: true,
  LOG_UNAVAILABLE: true,
  RATE_LIMITED: true,
  TRANSIENT: true,
  RECORD_INVALID: true,
  RECORD_REJECTED: true,
  JOB_NOT_FOUND: true,
  JOB_STATE: true,
  STACK: true,
  CANCELLED: true,
  INTERNAL: true,
};

/** An error answer from the controller: HTTP status and the API's own code, which may be HTTP-only. */
export class ControllerError extends EtlError {
  readonly status: number;
  readonly apiCode: string;
  constructor(status: number, apiCode: string, message: string, hint: string | undefined) {
    const code: ErrorCode = apiCode in CORE_CODES ? (apiCode as ErrorCode) : status >= 500 ? 'INTERNAL' : 'STACK';
    super(code, message, { hint, retriable: status === 503 || status === 502 || status === 504 });
    this.name = 'ControllerError';
    this.status = status;
    this.apiCode = apiCode;
  }
}

export interface ControllerClientOptions {
  url: string;
  token?: string | undefined;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  /** For the hint when the controller refuses the token. */
  tokenSource?: ControllerConnection['tokenSource'];
  fetch?: typeof fetch;
}

export interface JobsQuery {
  status?: JobStatus[] | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** `GET /v1/jobs` with a filter or a limit. */
export interface JobsPage {
  jobs: JobView[];
  total: number;
  next: string | null;
  counts: Record<JobStatus, number>;
}

export interface ErrorsQuery {
  cursor?: string | undefined;
  limit?: number | undefined;
}

export class ControllerClient implements JobService {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #tokenSource: ControllerConnection['tokenSource'];
  readonly #fetch: typeof fetch;

  constructor(options: ControllerClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#tokenSource = options.tokenSource ?? (options.token ? 'option' : 'none');
    this.#fetch = options.fetch ?? fetch;
  }

  static fromConnection(connection: ControllerConnection, options: Partial<ControllerClientOptions> = {}): ControllerClient {
    return new ControllerClient({ ...options, url: connection.url, token: connection.token, tokenSource: connection.tokenSource });
  }

  create(spec: unknown): Promise<JobView> {
    return this.#json('POST', '/v1/jobs', spec);
  }

  preview(spec: unknown): Promise<CollectionPlan> {
    return this.#json('POST', '/v1/plan', spec);
  }

  async list(): Promise<JobView[]> {
    return (await this.#json<{ jobs: JobView[] }>('GET', '/v1/jobs')).jobs;
  }

  /** One page of jobs, newest first: only the given statuses, at most `limit`, after `cursor`. */
  listPage(query: JobsQuery = {}): Promise<JobsPage> {
    const params = new URLSearchParams();
    if (query.status !== undefined && query.status.length > 0) params.set('status', query.status.join(','));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    return this.#json('GET', `/v1/jobs${params.size ? `?${params.toString()}` : ''}`);
  }

  get(id: string): Promise<JobView> {
    return this.#json('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  cancel(id: string): Promise<JobView> {
    return this.#json('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  resume(id: string): Promise<JobView> {
    return this.#json('POST', `/v1/jobs/${encodeURIComponent(id)}/resume`);
  }

  replay(id: string, options: { collection?: string | undefined } = {}): Promise<JobView> {
    const body = options.collection === undefined ? {} : { collection: options.collection };
    return this.#json('POST', `/v1/jobs/${encodeURIComponent(id)}/replay`, body);
  }

  errors(id: string, page: ErrorsQuery = {}): Promise<ErrorsPage> {
    const query = new URLSearchParams();
    if (page.cursor !== undefined) query.set('cursor', page.cursor);
    if (page.limit !== undefined) query.set('limit', String(page.limit));
    const qs = query.size ? `?${query}` : '';
    return this.#json('GET', `/v1/jobs/${encodeURIComponent(id)}/errors${qs}`);
  }

  /** The collection plan of a job. */
  plan(id: string): Promise<CollectionPlan> {
    return this.#json('GET', `/v1/jobs/${encodeURIComponent(id)}/plan`);
  }

  health(): Promise<{ status: string }> {
    return this.#json('GET', '/healthz');
  }

  openApi(): Promise<Record<string, unknown>> {
    return this.#json('GET', '/openapi.json');
  }

  async metrics(): Promise<string> {
    return (await this.#request('GET', '/metrics')).text();
  }

  async #json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await this.#request(method, path, body);
    try {
      return (await res.json()) as T;
    } catch (cause) {
      throw new EtlError('STACK', `the controller at ${this.url} sent a reply that is not JSON for ${method} ${path}`, { cause });
    }
  }

  async #request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.#fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      const timedOut = (cause as Error)?.name === 'TimeoutError';
      throw new EtlError(
        timedOut ? 'TRANSIENT' : 'STACK',
        timedOut ? `the controller at ${this.url} did not answer within ${Math.round(this.#timeoutMs / 1000)} s` : `cannot reach the controller at ${this.url}`,
        {
          cause,
          retriable: true,
          hint: timedOut
            ? 'try again; if it persists, look at the controller log'
            : 'start the local stack with "npx p2m stack up", or point --url / P2M_CONTROLLER_URL at a running controller',
        },
      );
    }
    if (res.ok) return res;
    throw await this.#errorFrom(res, method, path);
  }

  async #errorFrom(res: Response, method: string, path: string): Promise<EtlError> {
    let body: { error?: { code?: unknown; message?: unknown; hint?: unknown; issues?: unknown } } | undefined;
    try {
      body = (await res.json()) as typeof body;
    } catch {
      body = undefined;
    }
    const error = body?.error;
    if (!error || typeof error.code !== 'string' || typeof error.message !== 'string') {
      return new ControllerError(res.status, 'HTTP', `the controller at ${this.url} answered ${method} ${path} with HTTP ${res.status}`, undefined);
    }
    const hint = typeof error.hint === 'string' ? error.hint : undefined;
    if (error.code === 'SPEC_INVALID' && Array.isArray(error.issues) && error.issues.length > 0) {
      return new SpecError(error.issues as FieldIssue[], hint);
    }
    if (res.status === 401) {
      const where =
        this.#tokenSource === 'none'
          ? 'no API token was given: pass --token, set P2M_API_TOKEN, or run where .p2m/stack.env is (npx p2m stack up writes it)'
          : `the token from ${this.#tokenSource === 'option' ? '--token' : this.#tokenSource === 'env' ? 'P2M_API_TOKEN' : '.p2m/stack.env'} is not the controller's`;
      return new ControllerError(401, error.code, `the controller at ${this.url} refused the API token`, where);
    }
    return new ControllerError(res.status, error.code, error.message, hint);
  }
}
