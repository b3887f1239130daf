import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { hasErrnoCode } from './errors';
import type { Log } from './log';

// Descriptors kept for what is not a client connection or its backend socket: stdio, the event
// loop's own, readiness checks, a child's spawn, and libuv's spare for its EMFILE trick.
const RESERVED_FDS = 32;

/** What the listener asks of a connection: at the cap, and when shutdown drains. */
export interface ListenerConnection {
  /** True while the connection is still being sniffed or idles between health requests (not routed, not answering). */
  readonly isUnrouted: boolean;
  /** SPEC (Shutdown): closes it at once when unrouted, after its answer when answering; a tunnel is left alone. */
  closeIfNotRouted(): void;
  /** Closes it at once. */
  destroy(): void;
}

/** The public net.Server: accepts, tracks open connections, stops accepting, waits for the last one. */
export class Listener<C extends ListenerConnection> {
  private readonly server: Server;
  private readonly open = new Set<C>();
  private emptyWaiters: Array<() => void> = [];
  /** stopAccepting() was called: a listen still under way closes as soon as it binds. */
  private stopped = false;
  private readonly cap: number | undefined;

  constructor(
    private readonly log: Log,
    private readonly accept: (socket: Socket, release: (connection: C) => void) => C,
  ) {
    // allowHalfOpen: a client's FIN ends only its direction (SPEC 2: half-close honoured).
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, this.onConnection);
    this.server.on('error', this.onServerError);
    // Out of descriptors, libuv accepts and closes the excess by itself (its EMFILE trick) and
    // tells nobody, and backend connects and readiness checks fail with EMFILE. A cap under the
    // open-file limit keeps a backend socket for every client and makes each refusal visible.
    this.cap = connectionCap(readOpenFileLimit());
  }

  /** How many connections are open now. */
  get openCount(): number {
    return this.open.size;
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
        const address = this.server.address() as AddressInfo;
        // A shutdown that began while we were binding: the port must not stay open behind it.
        if (this.stopped) this.server.close();
        resolve(address);
      });
    });
  }

  /** Stops accepting new connections; open ones go on. */
  stopAccepting(): void {
    this.stopped = true;
    if (this.server.listening) this.server.close();
  }

  /** Closes the connections that are not routed (SPEC: Shutdown). */
  closeUnrouted(): void {
    for (const connection of this.open) connection.closeIfNotRouted();
  }

  /** Closes every open connection; returns how many there were. */
  destroyAll(): number {
    const count = this.open.size;
    for (const connection of this.open) connection.destroy();
    return count;
  }

  /** Resolves when no connection is open. */
  whenEmpty(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  private readonly onConnection = (socket: Socket): void => {
    if (this.cap !== undefined && this.open.size >= this.cap && !this.makeRoom()) {
      socket.on('error', () => undefined);
      socket.destroy();
      this.logDrop();
      return;
    }
    const connection = this.accept(socket, this.release);
    this.open.add(connection);
  };

  /**
   * SPEC 3: at the cap, room is made by closing the oldest connection still being sniffed (or
   * idle between health requests), so that silent or slow connections cannot starve health
   * checks, as nginx reuses its idle keep-alive connections. Tunnels are never closed for room.
   * The set keeps insertion order, so the first unrouted one is the oldest. False when all are routed.
   */
  private makeRoom(): boolean {
    for (const connection of this.open) {
      if (!connection.isUnrouted) continue;
      // Out of the count now: its close event comes later, and the next accept must not pick it again.
      this.open.delete(connection);
      connection.destroy();
      this.logDrop();
      return true;
    }
    return false;
  }

  private readonly release = (connection: C): void => {
    if (!this.open.delete(connection) || this.open.size > 0) return;
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const resolve of waiters) resolve();
  };

  private logDrop(): void {
    // One line per burst: log.ts summarises the rest ("… and N more in the last second").
    this.log.warn('connection dropped: open-file limit', { maxConnections: this.cap });
  }

  private readonly onServerError = (err: NodeJS.ErrnoException): void => {
    // Accept failures that libuv does not hide (EMFILE once even its spare descriptor is gone)
    // cost the connection being accepted, never the process; libuv goes on accepting.
    if (this.server.listening) this.log.warn('accept failed', { reason: err.code ?? err.message });
  };
}

/**
 * The most client connections that `openFileLimit` descriptors carry, each with its backend
 * socket, after a reserve; undefined (no cap) when the limit is unknown or unlimited.
 */
export function connectionCap(openFileLimit: number | undefined): number | undefined {
  if (openFileLimit === undefined || !Number.isFinite(openFileLimit)) return undefined;
  return Math.max(1, Math.floor((openFileLimit - RESERVED_FDS) / 2));
}

/** The soft open-file limit (Linux: /proc/self/limits; Node has raised it to the hard limit), if known. */
function readOpenFileLimit(): number | undefined {
  let limits: string;
  try {
    limits = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
}
