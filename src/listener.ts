import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { hasErrnoCode } from './errors';
import type { Log } from './log';

/** The public net.Server: accepts, tracks open connections, stops accepting, waits for the last one. */
export class Listener<C> {
  private readonly server: Server;
  private readonly open = new Set<C>();
  private emptyWaiters: Array<() => void> = [];

  constructor(
    private readonly log: Log,
    private readonly accept: (socket: Socket, release: (connection: C) => void) => C,
  ) {
    // allowHalfOpen: a client's FIN ends only its direction (SPEC 2: half-close honoured).
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, this.onConnection);
    this.server.on('error', this.onServerError);
  }

  /** Open connections now. */
  get connections(): ReadonlySet<C> {
    return this.open;
  }

  /** Listens on host:port; `::` falls back to `0.0.0.0` where IPv6 is off. Resolves with the bound address. */
  async listen(port: number, host: string): Promise<AddressInfo> {
    try {
      return await this.listenOnce(port, host);
    } catch (err) {
      if (host === '::' && hasErrnoCode(err, 'EAFNOSUPPORT', 'EADDRNOTAVAIL')) return this.listenOnce(port, '0.0.0.0');
      throw err;
    }
  }

  private listenOnce(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port, host, backlog: 4096 }, () => {
        this.server.removeListener('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting new connections; open ones go on. */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
  }

  /** Resolves when no connection is open. */
  whenEmpty(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  private readonly onConnection = (socket: Socket): void => {
    const connection = this.accept(socket, this.release);
    this.open.add(connection);
  };

  private readonly release = (connection: C): void => {
    if (!this.open.delete(connection) || this.open.size > 0) return;
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const resolve of waiters) resolve();
  };

  private readonly onServerError = (err: NodeJS.ErrnoException): void => {
    // Accept failures (EMFILE when descriptors run out) cost the connection being accepted, never
    // the process; libuv closes that connection and goes on accepting.
    if (this.server.listening) this.log.warn('accept failed', { reason: err.code ?? err.message });
  };
}
