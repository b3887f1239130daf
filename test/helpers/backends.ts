import { EventEmitter, once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { defer } from './cleanup';
import { destroyAndWait } from './raw';

/** One connection that a test backend accepted, with every byte it received, in order. */
export class BackendConnection {
  private readonly chunks: Buffer[] = [];
  /** The client's FIN arrived. */
  ended = false;
  closed = false;

  constructor(readonly socket: Socket) {}

  /** Every byte received so far. */
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** How many reads the bytes arrived in. */
  get chunkCount(): number {
    return this.chunks.length;
  }

  record(chunk: Buffer): void {
    this.chunks.push(chunk);
  }
}

/** Shared by the raw TCP backends: accept, record, wait for a condition, close everything. */
abstract class RecordingBackend {
  readonly connections: BackendConnection[] = [];
  protected readonly changes = new EventEmitter();
  protected server!: Server;

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The latest connection's bytes (a test with one connection reads this). */
  get received(): Buffer {
    return this.connections.at(-1)?.received ?? Buffer.alloc(0);
  }

  /** Resolves once `predicate` holds; it is re-checked on every accept, read, end and close. */
  async waitUntil(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.changes.removeListener('change', onChange);
        reject(new Error(`backend: timed out waiting for ${what}`));
      }, timeoutMs);
      const onChange = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.changes.removeListener('change', onChange);
        resolve();
      };
      this.changes.on('change', onChange);
    });
  }

  /** Resolves once the latest connection has received at least `n` bytes. */
  waitForBytes(n: number, timeoutMs = 5000): Promise<void> {
    return this.waitUntil(`${n} bytes`, () => this.received.length >= n, timeoutMs);
  }

  protected async listen(port: number, host: string): Promise<void> {
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.listen(port, host);
    await once(this.server, 'listening');
    defer(() => this.close());
  }

  /** Stops listening and destroys every accepted socket. */
  async close(): Promise<void> {
    await Promise.all(this.connections.map((c) => destroyAndWait(c.socket)));
    if (this.server.listening) {
      this.server.close();
      await once(this.server, 'close');
    }
  }

  private accept(socket: Socket): void {
    const connection = new BackendConnection(socket);
    this.connections.push(connection);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      connection.record(chunk);
      this.onData(connection, chunk);
      this.changes.emit('change');
    });
    socket.on('end', () => {
      connection.ended = true;
      this.onEnd(connection);
      this.changes.emit('change');
    });
    socket.on('close', () => {
      connection.closed = true;
      this.changes.emit('change');
    });
    this.changes.emit('change');
  }

  protected abstract onData(connection: BackendConnection, chunk: Buffer): void;
  protected abstract onEnd(connection: BackendConnection): void;
}

/**
 * A raw TCP echo backend: on each connection it answers `<name>>` once, then echoes every byte,
 * and ends its side after the client's FIN. A client therefore receives `prefix + what it sent`
 * and knows who answered; `connections[i].received` holds the exact bytes that arrived.
 */
export class EchoBackend extends RecordingBackend {
  readonly prefix: Buffer;

  private constructor(readonly name: string) {
    super();
    this.prefix = Buffer.from(`${name}>`, 'latin1');
  }

  /** Starts listening on host:port (port 0: a free one); closed when the test ends. */
  static async start(name = 'backend', options: { port?: number; host?: string } = {}): Promise<EchoBackend> {
    const backend = new EchoBackend(name);
    await backend.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    return backend;
  }

  /** What a client that sent `bytes` gets back from this backend. */
  echoOf(bytes: Buffer | string): Buffer {
    return Buffer.concat([this.prefix, typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes]);
  }

  protected onData(connection: BackendConnection, chunk: Buffer): void {
    if (connection.chunkCount === 1) connection.socket.write(this.prefix);
    connection.socket.write(chunk);
  }

  protected onEnd(connection: BackendConnection): void {
    connection.socket.end();
  }
}

/** A backend that accepts connections and never says a word (a hung app). */
export class SilentBackend extends RecordingBackend {
  static async start(options: { port?: number; host?: string } = {}): Promise<SilentBackend> {
    const backend = new SilentBackend();
    await backend.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    return backend;
  }

  protected onData(): void {}
  protected onEnd(): void {}
}

/** A `ws` echo server: every message comes back with its type (text or binary); upgrade paths are recorded. */
export class WsBackend {
  /** The request target of every upgrade it accepted, in order. */
  readonly upgradePaths: string[] = [];
  private constructor(readonly wss: WebSocketServer) {
    wss.on('connection', (ws: WebSocket, request) => {
      this.upgradePaths.push(request.url ?? '');
      ws.on('error', () => undefined);
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    });
  }

  /** Starts on host, port 0; terminated and closed when the test ends. */
  static async start(host = '127.0.0.1'): Promise<WsBackend> {
    const wss = new WebSocketServer({ host, port: 0, maxPayload: 64 * 1024 * 1024 });
    const backend = new WsBackend(wss);
    await once(wss, 'listening');
    defer(() => backend.close());
    return backend;
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** A raw TCP server in this process; each accepted socket goes to `onSocket`; closed at the end of the test. */
export async function startRawServer(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(async () => {
    await Promise.all(sockets.map(destroyAndWait));
    server.close();
    await once(server, 'close');
  });
  return { server, port: (server.address() as AddressInfo).port };
}
