import { z } from 'zod';
import { JobSpecSchema } from '@p2m/core';
import {
  CollectionPlanSchema,
  ErrorResponseSchema,
  ErrorsPageSchema,
  HealthSchema,
  JOB_ID_PATTERN,
  JobListSchema,
  JobViewSchema,
  ReplayRequestSchema,
} from './api-schemas.ts';
import { ROUTES, type RouteSpec } from './routes.ts';

/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas (zod v4's
 * `z.toJSONSchema`, JSON Schema 2020-12, which is OpenAPI 3.1's own dialect). Request bodies are
 * described as accepted (`io: 'input'`: fields with defaults are optional), responses as sent.
 */

type JsonSchema = Record<string, unknown>;
export type OpenApiDocument = Record<string, unknown> & {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
};
export interface OpenApiOperation {
  operationId: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required: boolean; schema: JsonSchema }[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  [key: string]: unknown;
}

const COMPONENTS: { name: string; schema: z.ZodType; io: 'input' | 'output' }[] = [
  { name: 'JobSpec', schema: JobSpecSchema, io: 'input' },
  { name: 'ReplayRequest', schema: ReplayRequestSchema, io: 'input' },
  { name: 'JobView', schema: JobViewSchema, io: 'output' },
  { name: 'JobList', schema: JobListSchema, io: 'output' },
  { name: 'ErrorsPage', schema: ErrorsPageSchema, io: 'output' },
  { name: 'CollectionPlan', schema: CollectionPlanSchema, io: 'output' },
  { name: 'Health', schema: HealthSchema, io: 'output' },
  { name: 'Error', schema: ErrorResponseSchema, io: 'output' },
];

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid; `error.issues` names each offending field (e.g. `target.collection`)',
  401: 'Missing or wrong API token',
  404: 'No such job',
  409: 'Conflict: the target collection exists, or the job is not in a state that allows this',
  413: 'The request body is too large',
  415: 'The body is not application/json',
  500: 'The controller failed; the body says nothing of its internals, `error.requestId` finds the log line',
  503: 'A system the controller depends on is unavailable; retry later',
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

function schemaRef(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const component = COMPONENTS.find((c) => c.schema === schema && c.io === io);
  return component ? { $ref: `#/components/schemas/${component.name}` } : jsonSchema(schema, io);
}

function operation(route: RouteSpec): OpenApiOperation {
  const op: OpenApiOperation = {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    responses: {},
  };
  if (route.description) op.description = route.description;
  if (route.public) op.security = [];

  const parameters: NonNullable<OpenApiOperation['parameters']> = [];
  if (route.path.includes('{id}')) {
    parameters.push({ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: JOB_ID_PATTERN.source } });
  }
  if (route.query) {
    const query = jsonSchema(route.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
    }
  }
  if (parameters.length) op.parameters = parameters;

  if (route.body) {
    op.requestBody = {
      required: route.body.required,
      description: route.body.description,
      content: { 'application/json': { schema: schemaRef(route.body.schema, 'input') } },
    };
  }

  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    const contentType = response.contentType ?? 'application/json';
    const schema = response.schema
      ? schemaRef(response.schema, 'output')
      : contentType.startsWith('application/json')
        ? { type: 'object' }
        : { type: 'string' };
    responses[status] = { description: response.description, content: { [contentType]: { schema } } };
  }
  for (const status of route.errors) {
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  op.responses = responses;
  return op;
}

export interface OpenApiOptions {
  version?: string;
}

export function buildOpenApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of ROUTES as readonly RouteSpec[]) {
    const item = (paths[route.path] ??= {});
    item[route.method.toLowerCase()] = operation(route);
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const c of COMPONENTS) schemas[c.name] = jsonSchema(c.schema, c.io);
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'p2m controller',
      version: options.version ?? '0.1.0',
      description:
        'Drive and watch Pinecone → Milvus migration jobs. Every route but /healthz, /metrics and the Jobs page needs `Authorization: Bearer <P2M_API_TOKEN>`. Secrets are never echoed back or logged.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'jobs', description: 'Migration jobs' },
      { name: 'operations', description: 'Health, metrics, this document and the Jobs page' },
    ],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'The controller’s API token (P2M_API_TOKEN; `npx p2m stack up` writes it to .p2m/stack.env)',
        },
      },
    },
  };
}
