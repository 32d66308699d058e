import fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { EtlError, JobSpecSchema, SpecError, type JobService, type JobStatus } from '@p2m/core';
import { ErrorsQuerySchema, JOB_ID_PATTERN, JobsQuerySchema, ReplayRequestSchema } from './api-schemas.ts';
import { pageJobs } from './job-list.ts';
import { BearerAuth } from './auth.ts';
import { fieldIssues, notFound, toHttpError, unauthorized } from './error-response.ts';
import { ControllerMetrics } from './metrics.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { jobsPage } from './page/index.ts';
import { LOG_REDACT_PATHS, REDACTED, redactSecrets, scrubString, secretValues } from './redaction.ts';
import { ROUTES, fastifyPath, type OperationId, type RouteSpec } from './routes.ts';

export interface ControllerServerOptions {
  jobs: JobService;
  /** The bearer token every route but /healthz, /metrics and the Jobs page requires. */
  apiToken: string;
  /** Default: a new ControllerMetrics. Pass the one the runtimes in this process record into. */
  metrics?: ControllerMetrics;
  /** A pino logger (secrets are redacted on a child of it); default: pino to stdout at `info`. */
  logger?: Logger;
  /** Default 127.0.0.1: the controller is not exposed unless asked. */
  host?: string;
  /** Default 8080 (DESIGN.md); 0 picks a free port. */
  port?: number;
  /** Largest request body in bytes; larger ones get 413. Default 1 MiB. */
  bodyLimit?: number;
  /** Shown in the OpenAPI document. */
  version?: string;
  /** Liveness probe beyond "the process answers": throw to make /healthz answer 503. */
  health?: () => Promise<void> | void;
}

export type ControllerServer = FastifyInstance & {
  /** Listen on the configured host and port; resolves with the base URL, e.g. http://127.0.0.1:8080. */
  start(): Promise<string>;
};

export const DEFAULT_CONTROLLER_PORT = 8080;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** What each route carries in its fastify config. */
interface RouteConfig {
  /** Served without the bearer token. */
  public?: boolean;
  operationId?: string;
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Secret values a request carried, cut out of anything sent back or logged about it. */
const requestSecrets = new WeakMap<FastifyRequest, string[]>();
const requestStart = new WeakMap<FastifyRequest, bigint>();

export function createControllerServer(options: ControllerServerOptions): ControllerServer {
  const { jobs } = options;
  const auth = new BearerAuth(options.apiToken);
  const metrics = options.metrics ?? new ControllerMetrics();
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_CONTROLLER_PORT;
  // The caller's bindings (component, ...) are kept as they are; only redaction is added.
  const baseLogger = options.logger ?? pino({ level: process.env.P2M_LOG_LEVEL ?? 'info' }).child({ component: 'http' });
  const logger = baseLogger.child({}, { redact: { paths: LOG_REDACT_PATHS, censor: REDACTED } });
  const openApi = buildOpenApiDocument({ version: options.version });
  const page = jobsPage();

  const app = fastify({
    loggerInstance: logger,
    // One line per request from the onResponse hook below, without bodies or headers.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    requestIdHeader: false,
    // Job ids are up to 200 characters (api-schemas.ts); longer ones are simply not found.
    routerOptions: { maxParamLength: 1024 },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  // JSON only (anything else is 415), and an empty body on a POST such as /cancel is no body.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    void defaultJson(request, body as string, done);
  });

  app.addHook('onRequest', async (request, reply) => {
    requestStart.set(request, process.hrtime.bigint());
    requestSecrets.set(request, [options.apiToken]);
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id === 'string' && JOB_ID_PATTERN.test(id)) {
      // The job id on every log line about this request.
      request.log = reply.log = request.log.child({ jobId: id });
    }
    if ((request.routeOptions.config as RouteConfig).public === true) return;
    if (!auth.accepts(request.headers.authorization)) {
      const e = unauthorized();
      return reply.code(e.status).header('www-authenticate', 'Bearer realm="p2m"').send(e.body);
    }
  });

  app.addHook('preValidation', async (request) => {
    if (request.body !== undefined) requestSecrets.get(request)?.push(...secretValues(request.body));
  });

  app.addHook('preSerialization', async (request, _reply, payload) => {
    const secrets = requestSecrets.get(request) ?? [];
    // The OpenAPI document names the secret fields (it describes them), it holds none.
    const config = request.routeOptions.config as RouteConfig;
    return config.operationId === 'getOpenApi' ? payload : redactSecrets(payload, secrets);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const started = requestStart.get(request);
    const seconds = started === undefined ? 0 : Number(process.hrtime.bigint() - started) / 1e9;
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeHttp(request.method, route, reply.statusCode, seconds);
    const line = { method: request.method, route, status: reply.statusCode, ms: Math.round(seconds * 1000) };
    // Polling (the Jobs page, Prometheus) would drown the log at info; changes and failures stay visible.
    if (request.method === 'GET' && reply.statusCode < 500) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toHttpError(err, request.id);
    const secrets = requestSecrets.get(request) ?? [];
    if (e.status >= 500) {
      const error = err as { name?: string; code?: unknown; message?: string; stack?: string; cause?: unknown };
      const cause = error.cause instanceof Error ? error.cause.message : undefined;
      request.log.error(
        {
          err: {
            type: error.name,
            code: error.code,
            message: scrubString(String(error.message), secrets),
            stack: error.stack === undefined ? undefined : scrubString(error.stack, secrets),
            cause: cause === undefined ? undefined : scrubString(cause, secrets),
          },
        },
        'request failed',
      );
    } else {
      request.log.info({ code: e.body.error.code, status: e.status }, 'request refused');
    }
    if (e.status === 401) reply.header('www-authenticate', 'Bearer realm="p2m"');
    return reply.code(e.status).send(e.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const e = notFound(request.method, request.url);
    return reply.code(e.status).send(e.body);
  });

  const jobId = (request: FastifyRequest): string => {
    const id = (request.params as { id?: unknown }).id;
    if (typeof id !== 'string' || !JOB_ID_PATTERN.test(id)) {
      throw new EtlError('JOB_NOT_FOUND', 'no such job', { hint: 'npx p2m jobs list shows the jobs' });
    }
    return id;
  };

  const handlers: Record<OperationId, Handler> = {
    async createJob(request, reply) {
      const spec = parseWith(JobSpecSchema, request.body);
      const view = await jobs.create(spec);
      request.log = reply.log = request.log.child({ jobId: view.id });
      return reply.code(201).send(view);
    },
    async listJobs(request) {
      const query = parseWith(JobsQuerySchema, request.query ?? {});
      return pageJobs(await jobs.list(), { status: query.status?.split(',') as JobStatus[] | undefined, limit: query.limit, cursor: query.cursor });
    },
    async getJob(request) {
      return jobs.get(jobId(request));
    },
    async cancelJob(request) {
      return jobs.cancel(jobId(request));
    },
    async resumeJob(request) {
      return jobs.resume(jobId(request));
    },
    async replayJob(request, reply) {
      const id = jobId(request);
      const body = parseWith(ReplayRequestSchema, request.body ?? {});
      const view = await jobs.replay(id, { collection: body.collection });
      return reply.code(view.id === id ? 200 : 201).send(view);
    },
    async listJobErrors(request) {
      const id = jobId(request);
      const query = parseWith(ErrorsQuerySchema, request.query ?? {});
      return jobs.errors(id, { cursor: query.cursor, limit: query.limit });
    },
    async getJobPlan(request) {
      const view = await jobs.get(jobId(request));
      if (!view.plan) {
        throw new EtlError('JOB_STATE', `job ${view.id} has no plan yet (it is ${view.status})`, {
          hint: 'the plan is made when the job starts; ask again in a moment, or POST /v1/plan to preview a spec',
        });
      }
      return view.plan;
    },
    async previewPlan(request) {
      return jobs.preview(parseWith(JobSpecSchema, request.body));
    },
    async getOpenApi() {
      return openApi;
    },
    async getMetrics(request, reply) {
      try {
        metrics.syncFromJobs(await jobs.list());
      } catch (err) {
        // Stale job gauges beat no metrics at all: the process metrics still tell what is wrong.
        request.log.warn({ err: { message: scrubString(String((err as Error)?.message), [options.apiToken]) } }, 'metrics: could not list jobs');
      }
      return reply.type(metrics.contentType).send(await metrics.metrics());
    },
    async getHealth(request, reply) {
      try {
        await options.health?.();
      } catch (err) {
        request.log.warn({ err: { message: String((err as Error)?.message) } }, 'health check failed');
        return reply.code(503).send({ error: { code: 'TRANSIENT', message: 'the controller is not healthy' } });
      }
      return { status: 'ok' };
    },
    async getJobsPage(_request, reply) {
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', page.contentSecurityPolicy)
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY')
        .send(page.html);
    },
  };

  for (const route of ROUTES as readonly RouteSpec[]) {
    app.route({
      method: route.method,
      url: fastifyPath(route.path),
      config: { public: route.public === true, operationId: route.operationId } satisfies RouteConfig,
      handler: handlers[route.operationId as OperationId],
    });
  }

  return Object.assign(app, {
    async start(): Promise<string> {
      await app.listen({ host, port });
      const address = app.server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      app.log.info({ url }, 'controller listening');
      return url;
    },
  });
}

/** Validate with a zod schema; a failure is a SpecError naming each offending field (→ 400). */
function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new SpecError(fieldIssues(result.error), 'fix the fields named in issues and send the request again');
  return result.data;
}
