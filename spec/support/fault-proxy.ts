// A TCP proxy for one upstream (a ZooKeeper server), to inject network faults between a client and it.
//
// Modes apply to every connection, open and new:
//   pass      forward both ways
//   drop      destroy both sides of every connection; new connections are accepted and destroyed at once
//   freeze    silent partition: sockets stay open, bytes in both directions are read and discarded
//             (not buffered); a side closing is not passed on; new connections are accepted, frozen,
//             and not connected upstream
//   blackhole client->server forwarded, server->client discarded (requests applied, answers lost)
// restore() (= setMode('pass')) destroys every connection that lived through a freeze or blackhole,
// since its byte stream is broken, so the client reconnects cleanly.
import net from 'node:net';

export type ProxyMode = 'pass' | 'drop' | 'freeze' | 'blackhole';

interface Connection {
  client: net.Socket;
  upstream: net.Socket | undefined;
  /** Lived through freeze/blackhole: its streams lost bytes. */
  broken: boolean;
  clientClosed: boolean;
  upstreamClosed: boolean;
}

function parseUpstream(upstream: { host: string; port: number } | string): { host: string; port: number } {
  if (typeof upstream !== 'string') return upstream;
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(upstream.trim());
  if (!match) throw new Error(`bad upstream '${upstream}', expected host:port`);
  return { host: match[1] || '127.0.0.1', port: Number(match[2]) };
}

export class FaultProxy {
  readonly port: number;
  readonly connectString: string;
  private currentMode: ProxyMode = 'pass';
  private readonly connections = new Set<Connection>();
  private readonly bytes = { toServer: 0, toClient: 0 };
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly upstream: { host: string; port: number },
  ) {
    this.port = (server.address() as net.AddressInfo).port;
    this.connectString = `127.0.0.1:${this.port}`;
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', () => undefined);
  }

  static async start(upstream: { host: string; port: number } | string): Promise<FaultProxy> {
    const target = parseUpstream(upstream);
    const server = net.createServer({ noDelay: true } as net.ServerOpts);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new FaultProxy(server, target);
  }

  get mode(): ProxyMode {
    return this.currentMode;
  }

  setMode(mode: ProxyMode): void {
    this.currentMode = mode;
    switch (mode) {
      case 'pass':
        for (const conn of this.connections) if (conn.broken) this.destroy(conn);
        break;
      case 'drop':
        for (const conn of this.connections) this.destroy(conn);
        break;
      case 'freeze':
      case 'blackhole':
        for (const conn of this.connections) conn.broken = true;
        break;
    }
  }

  drop(): void {
    this.setMode('drop');
  }
  freeze(): void {
    this.setMode('freeze');
  }
  blackhole(): void {
    this.setMode('blackhole');
  }
  restore(): void {
    this.setMode('pass');
  }

  /** Open client connections. */
  connectionCount(): number {
    let count = 0;
    for (const conn of this.connections) if (!conn.clientClosed) count++;
    return count;
  }

  bytesForwarded(): { toServer: number; toClient: number } {
    return { ...this.bytes };
  }

  /** Closes the listener and every socket. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const conn of this.connections) this.destroy(conn);
    });
    return this.closing;
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.closing || this.currentMode === 'drop') {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const conn: Connection = {
      client,
      upstream: undefined,
      broken: this.currentMode !== 'pass',
      clientClosed: false,
      upstreamClosed: false,
    };
    this.connections.add(conn);

    client.on('close', () => {
      conn.clientClosed = true;
      // The close travels client->server: passed on unless that direction is cut.
      if (this.currentMode !== 'freeze') conn.upstream?.destroy();
      this.forgetIfDone(conn);
    });

    if (this.currentMode !== 'freeze') this.connectUpstream(conn);

    client.on('data', (chunk: Buffer) => {
      if (this.currentMode === 'pass' || this.currentMode === 'blackhole') {
        const upstream = conn.upstream;
        if (upstream && !upstream.destroyed) {
          this.bytes.toServer += chunk.length;
          if (!upstream.write(chunk)) {
            client.pause();
            upstream.once('drain', () => client.resume());
          }
        }
      }
      // freeze (or no upstream): discarded
    });
  }

  private connectUpstream(conn: Connection): void {
    const { client } = conn;
    const upstream = net.connect({ host: this.upstream.host, port: this.upstream.port });
    conn.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined);
    client.pause(); // hold client bytes until the upstream is connected
    upstream.once('connect', () => {
      if (!client.destroyed) client.resume();
    });
    upstream.on('close', () => {
      conn.upstreamClosed = true;
      // The close travels server->client: passed on only in 'pass'.
      if (this.currentMode === 'pass' && !conn.broken) client.destroy();
      this.forgetIfDone(conn);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.currentMode === 'pass' && !client.destroyed) {
        this.bytes.toClient += chunk.length;
        if (!client.write(chunk)) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
      }
      // freeze/blackhole: discarded
    });
  }

  private destroy(conn: Connection): void {
    conn.client.destroy();
    conn.upstream?.destroy();
    this.connections.delete(conn);
  }

  private forgetIfDone(conn: Connection): void {
    if (conn.clientClosed && (conn.upstream === undefined || conn.upstreamClosed))
      this.connections.delete(conn);
  }
}

/** One proxy per member, and the combined connect string of the proxies. */
export async function proxiesFor(
  connectStrings: string[],
): Promise<{ proxies: FaultProxy[]; connectString: string; close(): Promise<void> }> {
  const upstreams = connectStrings
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const proxies: FaultProxy[] = [];
  try {
    for (const upstream of upstreams) proxies.push(await FaultProxy.start(upstream));
  } catch (error) {
    await Promise.all(proxies.map((p) => p.close()));
    throw error;
  }
  return {
    proxies,
    connectString: proxies.map((p) => p.connectString).join(','),
    close: async () => {
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}
