import { Client, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { EtlError, ProtobufWireError, type SourceVector } from '@p2m/core';
import { httpStatusError, type FailureContext } from './errors.ts';
import { decodeFetchResponse, encodeFetchRequest } from './grpc-wire.ts';
import { PineconeNetworkFailure, PineconeRequestTimeout } from './http.ts';

/**
 * Fetch over Pinecone's gRPC data plane (`/VectorService/Fetch` on the index host, the service the
 * Python client's gRPC mode uses), beside the SDK's REST fetch: `P2M_PINECONE_TRANSPORT=grpc`.
 * Only fetch moves: it carries the vectors. list, describe and the rest stay on the official SDK.
 * An `https://` host is reached with TLS on port 443 (or its own port), an `http://` one (the
 * emulator) in plaintext. Failures become the same `EtlError`s as REST's, through the HTTP status
 * each gRPC code stands for, so the pacing and retries treat both transports alike.
 */

const FETCH_METHOD = '/VectorService/Fetch';
/** Pinecone answers at most 1,000 ids per fetch: ~12 MB at 3,072 dimensions, with metadata. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export interface GrpcFetcher {
  fetch(namespace: string, ids: string[], ctx: FailureContext): Promise<SourceVector[]>;
  close(): void;
}

/** The gRPC code's HTTP equivalent, as Pinecone's REST gateway maps them. */
const HTTP_OF: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.FAILED_PRECONDITION]: 400,
  [status.OUT_OF_RANGE]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.CANCELLED]: 499,
  [status.UNIMPLEMENTED]: 501,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 504,
};

export function grpcTarget(host: string): { address: string; tls: boolean } {
  const url = new URL(/^[a-z]+:\/\//i.test(host) ? host : `https://${host}`);
  const tls = url.protocol !== 'http:';
  // URL keeps an IPv6 host in brackets, as a gRPC target needs it.
  return { address: `${url.hostname}:${url.port || (tls ? '443' : '80')}`, tls };
}

export function grpcFailure(err: ServiceError, ctx: FailureContext, timeoutMs: number, address: string): EtlError {
  if (err.code === status.DEADLINE_EXCEEDED) {
    const timeout = new PineconeRequestTimeout(timeoutMs, `grpc://${address}${FETCH_METHOD}`);
    return new EtlError('TRANSIENT', `Pinecone did not answer ${ctx.operation} over gRPC within ${timeoutMs} ms`, { retriable: true, cause: timeout });
  }
  if (err.code === status.UNAVAILABLE && !err.details) {
    const network = new PineconeNetworkFailure(`grpc://${address}`, err);
    return new EtlError('TRANSIENT', `Pinecone failed ${ctx.operation} over gRPC: ${network.message}`, { retriable: true, cause: network });
  }
  const http = HTTP_OF[err.code] ?? 500;
  const retryAfter = err.metadata?.get('retry-after')[0];
  const retryAfterMs = typeof retryAfter === 'string' && Number.isFinite(Number(retryAfter)) ? Number(retryAfter) * 1000 : undefined;
  return httpStatusError(http, err.details ?? '', ctx, retryAfterMs, err);
}

export function createGrpcFetcher(options: { host: string; apiKey: string; timeoutMs: number }): GrpcFetcher {
  const { address, tls } = grpcTarget(options.host);
  const client = new Client(address, tls ? credentials.createSsl() : credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
    'grpc.keepalive_time_ms': 60_000,
  });
  const metadata = new Metadata();
  metadata.set('api-key', options.apiKey);

  return {
    fetch(namespace, ids, ctx) {
      return new Promise<SourceVector[]>((resolve, reject) => {
        client.makeUnaryRequest<{ ids: string[]; namespace: string }, Buffer>(
          FETCH_METHOD,
          (req) => encodeFetchRequest(req.ids, req.namespace),
          (bytes) => bytes,
          { ids, namespace },
          metadata.clone(),
          { deadline: Date.now() + options.timeoutMs },
          (err, bytes) => {
            if (err) return reject(grpcFailure(err, ctx, options.timeoutMs, address));
            try {
              const res = decodeFetchResponse(bytes ?? Buffer.alloc(0));
              const out: SourceVector[] = [];
              const seen = new Set<string>();
              for (const id of ids) {
                const v = res.vectors.get(id);
                if (!v || seen.has(id)) continue;
                seen.add(id);
                out.push(v);
              }
              resolve(out);
            } catch (decodeErr) {
              if (!(decodeErr instanceof ProtobufWireError)) return reject(decodeErr);
              reject(
                new EtlError('TRANSIENT', `Pinecone's gRPC answer to ${ctx.operation} could not be read: ${decodeErr.message}`, {
                  retriable: true,
                  cause: decodeErr,
                }),
              );
            }
          },
        );
      });
    },
    close: () => client.close(),
  };
}
