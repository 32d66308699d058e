import * as grpc from '@grpc/grpc-js';
import { milvusGrpcClient, parseAddress } from './grpc-writer.ts';

/**
 * Queries on a gRPC channel of verification's own (`MilvusService/Query`), request and answer as
 * bytes (`query-request.ts` encodes and decodes them): the Node SDK's answer decoding costs more CPU
 * than the server's work when a million 768-d rows are read back.
 */
export interface QueryChannel {
  /** Sends one serialized QueryRequest; resolves with the serialized QueryResults, rejects with the gRPC error. */
  query(request: Buffer, timeoutMs: number): Promise<Buffer>;
  close(): void;
}

const QUERY = '/milvus.proto.milvus.MilvusService/Query';

export function createQueryChannel(options: { address: string; token?: string | undefined; ssl?: boolean | undefined }): QueryChannel {
  const { target, tls } = parseAddress(options.address, options.ssl);
  const client = milvusGrpcClient(target, tls);
  const metadata = new grpc.Metadata({ waitForReady: true });
  if (options.token) metadata.set('authorization', Buffer.from(options.token, 'utf8').toString('base64'));
  return {
    query: (request, timeoutMs) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest<Buffer, Buffer>(
          QUERY,
          (b) => b,
          (b) => b,
          request,
          metadata,
          { deadline: Date.now() + timeoutMs },
          (err, response) => {
            if (err) reject(err);
            else resolve(response!);
          },
        );
      }),
    close: () => client.close(),
  };
}
