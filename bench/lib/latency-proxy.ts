import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy that delays every chunk by half the round trip in each direction: Milvus as a
 * remote service (Zilliz Cloud from another region, say) on a machine where it is local. Chunks
 * keep their order (timers of equal delay fire in the order they were set).
 */
export async function startLatencyProxy(upstream: string, roundTripMs: number): Promise<{ address: string; close(): Promise<void> }> {
  const [host, port] = splitHostPort(upstream);
  const sockets = new Set<Socket>();
  const oneWay = roundTripMs / 2;
  const pipeDelayed = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, oneWay);
    });
    from.on('end', () => setTimeout(() => to.end(), oneWay));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), oneWay));
  };
  const server: Server = createServer((client) => {
    const remote = connect({ host, port });
    for (const s of [client, remote]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.once('close', () => sockets.delete(s));
    }
    pipeDelayed(client, remote);
    pipeDelayed(remote, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port: local } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${local}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function splitHostPort(address: string): [string, number] {
  const m = /^(?:https?:\/\/)?(.+):(\d+)$/.exec(address);
  if (!m) throw new Error(`not host:port: ${address}`);
  return [m[1]!, Number(m[2])];
}
