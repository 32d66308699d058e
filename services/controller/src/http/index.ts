export { createControllerServer, DEFAULT_BODY_LIMIT, DEFAULT_CONTROLLER_PORT, type ControllerServer, type ControllerServerOptions } from './server.ts';
export { ControllerMetrics, type ControllerMetricsOptions } from './metrics.ts';
export { buildOpenApiDocument, type OpenApiDocument, type OpenApiOperation } from './openapi.ts';
export { ROUTES, type RouteSpec, type OperationId } from './routes.ts';
export * from './api-schemas.ts';
