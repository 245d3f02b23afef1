import net, { type AddressInfo } from 'node:net';

/**
 * A TCP relay on loopback in front of a real server: counts the connections clients open through it, and can cut
 * them all at once (RST), as a network drop or a failover does.
 */
export interface TcpRelay {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Reset every connection open now, both sides. */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((down) => {
    accepted++;
    const up = net.connect(target.port, target.host);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        (s === down ? up : down).destroy();
      });
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    cutAll() {
      for (const s of sockets) s.resetAndDestroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
