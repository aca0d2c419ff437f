import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a database server, for cutting the
 * network between workers and their database: `cut()` resets every open
 * connection and refuses new ones until `restore()`.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  /** Connections accepted and forwarded so far. */
  accepted = 0;
  /** Connections refused (reset at accept) while cut. */
  refused = 0;

  private constructor(
    private readonly server: Server,
    /** The port the proxy listens on. */
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Starts a proxy to `targetHost:targetPort` on a free port of 127.0.0.1. */
  static async start(
    targetPort: number,
    targetHost = '127.0.0.1',
  ): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new Error('the proxy has no TCP address');
    const proxy = new TcpProxy(server, address.port, {
      host: targetHost,
      port: targetPort,
    });
    server.on('connection', (client: Socket) => proxy.accept(client));
    return proxy;
  }

  /** Open client and server sockets. */
  get openSockets(): number {
    return this.sockets.size;
  }

  get isCut(): boolean {
    return this.refusing;
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      this.refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.accepted += 1;
    const upstream = connect(this.target.port, this.target.host);
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => other.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        other.destroy();
      });
      socket.pipe(other);
    }
  }

  /** Resets every open connection (both sides) and refuses new ones. */
  cut(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** Accepts and forwards connections again. */
  restore(): void {
    this.refusing = false;
  }

  /** Resets every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
