import type { z } from 'zod';
import { JobSpecSchema } from '@p2m/core';
import {
  CollectionPlanSchema,
  ErrorsPageSchema,
  ErrorsQuerySchema,
  HealthSchema,
  JobListSchema,
  JobsQuerySchema,
  JobViewSchema,
  ReplayRequestSchema,
} from './api-schemas.ts';

/**
 * The routes of the controller's HTTP API (DESIGN.md, "Controller HTTP API"), as data: the server
 * registers them and binds a handler to each operation, and the OpenAPI document is generated from
 * the same table, so a route cannot exist without being documented or the other way round.
 */

export interface ResponseSpec {
  description: string;
  /** JSON body; absent for non-JSON bodies (`contentType` then says what it is). */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteSpec {
  operationId: string;
  method: 'GET' | 'POST';
  /** OpenAPI path syntax: `/v1/jobs/{id}`. */
  path: string;
  summary: string;
  description?: string;
  tag: 'jobs' | 'operations';
  /** Served without the bearer token. */
  public?: true;
  body?: { schema: z.ZodType; required: boolean; description: string };
  query?: z.ZodObject;
  responses: Record<number, ResponseSpec>;
  /** Error statuses this route can answer with, each with the shared error body. */
  errors: number[];
}

const job = { description: 'The job', schema: JobViewSchema };
const AUTH_ERRORS = [401, 500];
const JOB_ERRORS = [401, 404, 500];

export const ROUTES = [
  {
    operationId: 'createJob',
    method: 'POST',
    path: '/v1/jobs',
    summary: 'Create a migration job',
    description:
      'Validates the spec, plans the target collection and starts the job. Secrets in the spec (source.apiKey, target.token) are kept only while the job needs them and never returned.',
    tag: 'jobs',
    body: { schema: JobSpecSchema, required: true, description: 'The job spec' },
    responses: { 201: { description: 'The job was created', schema: JobViewSchema } },
    errors: [400, 401, 409, 413, 415, 500, 503],
  },
  {
    operationId: 'listJobs',
    method: 'GET',
    path: '/v1/jobs',
    summary: 'List jobs with their status and progress',
    description:
      'Newest first. `status` keeps the jobs in the given statuses (comma-separated); `limit` cuts the list into pages, and the `next` of one page, passed as `cursor`, gives the following one. Without `limit`, every job that matches.',
    tag: 'jobs',
    query: JobsQuerySchema,
    responses: {
      200: { description: 'One page of jobs (every job without `limit`), with the total that matches and the count per status', schema: JobListSchema },
    },
    errors: [400, ...AUTH_ERRORS],
  },
  {
    operationId: 'getJob',
    method: 'GET',
    path: '/v1/jobs/{id}',
    summary: 'A job: status, per-namespace progress, rate, ETA, consumer lag, verification report when done',
    tag: 'jobs',
    responses: { 200: job },
    errors: JOB_ERRORS,
  },
  {
    operationId: 'cancelJob',
    method: 'POST',
    path: '/v1/jobs/{id}/cancel',
    summary: 'Cancel an active job',
    tag: 'jobs',
    responses: { 200: { description: 'The job, now CANCELLING or CANCELLED', schema: JobViewSchema } },
    errors: [...JOB_ERRORS, 409],
  },
  {
    operationId: 'resumeJob',
    method: 'POST',
    path: '/v1/jobs/{id}/resume',
    summary: 'Resume a failed or cancelled job from its checkpoints and committed offsets',
    tag: 'jobs',
    responses: { 200: { description: 'The job, running again', schema: JobViewSchema } },
    errors: [...JOB_ERRORS, 409],
  },
  {
    operationId: 'replayJob',
    method: 'POST',
    path: '/v1/jobs/{id}/replay',
    summary: 'Re-read the job’s records topic into its collection or a new one, without touching Pinecone',
    tag: 'jobs',
    body: { schema: ReplayRequestSchema, required: false, description: 'Where to replay to (default: the job’s own collection)' },
    responses: {
      200: { description: 'The job, replaying into its collection', schema: JobViewSchema },
      201: { description: 'A new replay job was created', schema: JobViewSchema },
    },
    errors: [400, ...JOB_ERRORS, 409, 413, 415, 503],
  },
  {
    operationId: 'listJobErrors',
    method: 'GET',
    path: '/v1/jobs/{id}/errors',
    summary: 'Records in the job’s dead-letter topic, with the reason each one could not load (paged)',
    tag: 'jobs',
    query: ErrorsQuerySchema,
    responses: { 200: { description: 'One page of DLQ entries; pass `next` as `cursor` for the following page', schema: ErrorsPageSchema } },
    errors: [400, ...JOB_ERRORS],
  },
  {
    operationId: 'getJobPlan',
    method: 'GET',
    path: '/v1/jobs/{id}/plan',
    summary: 'The collection schema the job creates (or created) on the target',
    tag: 'jobs',
    responses: { 200: { description: 'The collection plan', schema: CollectionPlanSchema } },
    errors: [...JOB_ERRORS, 409],
  },
  {
    operationId: 'previewPlan',
    method: 'POST',
    path: '/v1/plan',
    summary: 'Preview the collection schema a job spec would create, without creating anything',
    tag: 'jobs',
    body: { schema: JobSpecSchema, required: true, description: 'The job spec to preview' },
    responses: { 200: { description: 'The collection plan', schema: CollectionPlanSchema } },
    errors: [400, 401, 409, 413, 415, 500, 503],
  },
  {
    operationId: 'getOpenApi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'operations',
    responses: { 200: { description: 'The OpenAPI 3.1 document', contentType: 'application/json' } },
    errors: AUTH_ERRORS,
  },
  {
    operationId: 'getMetrics',
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'operations',
    public: true,
    responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain; version=0.0.4' } },
    errors: [500],
  },
  {
    operationId: 'getHealth',
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness',
    tag: 'operations',
    public: true,
    responses: { 200: { description: 'The controller is up', schema: HealthSchema } },
    errors: [503],
  },
  {
    operationId: 'getJobsPage',
    method: 'GET',
    path: '/',
    summary: 'The Jobs page',
    description:
      'A static page with no data in it, so a browser can load it without a header; it asks for the API token once and sends it as a bearer token on every API call it makes.',
    tag: 'operations',
    public: true,
    responses: { 200: { description: 'HTML', contentType: 'text/html; charset=utf-8' } },
    errors: [],
  },
] as const satisfies readonly RouteSpec[];

export type OperationId = (typeof ROUTES)[number]['operationId'];

/** `/v1/jobs/{id}` → `/v1/jobs/:id` */
export function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}
