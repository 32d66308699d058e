export { createPineconeSource, transportOf, DEFAULT_FETCH_TIMEOUT_MS, LIST_PAGE_LIMIT, type PineconeSourceOptions, type PineconeTransport } from './source.ts';
export { toIndexDescription, normalizeHost } from './describe.ts';
export { toEtlError, httpStatusError, type FailureContext, type SourceOperation } from './errors.ts';
export { PineconeHttpFailure, PineconeNetworkFailure, PineconeRequestTimeout } from './http.ts';
export { decodeFetchResponse, type FetchResponse } from './grpc-wire.ts';
