import { expect } from 'vitest';
import type { JobView } from '@p2m/core';
import { ErrorResponseSchema, JobViewSchema } from './api-schemas.ts';
import type { Harness } from './harness.ts';

/** One harness per test, and the calls the HTTP tests make with it (test-only). */
export type Method = 'GET' | 'POST';

export async function call(h: Harness, method: Method, url: string, body?: unknown, headers: Record<string, string> = h.auth) {
  const res = await h.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, headers: res.headers, text: res.body, json: () => JSON.parse(res.body) as unknown };
}

export async function createJob(h: Harness, collection?: string): Promise<JobView> {
  const res = await call(h, 'POST', '/v1/jobs', h.spec(collection));
  expect(res.status).toBe(201);
  return JobViewSchema.parse(res.json()) as JobView;
}

export function errorOf(res: { json: () => unknown }) {
  return ErrorResponseSchema.parse(res.json()).error;
}
