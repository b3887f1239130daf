import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { defer } from './cleanup';
import { within } from './wait';

/** How a client writes its bytes: in one write, or one byte per write, each awaited. */
export interface WriteOptions {
  readonly oneByteAtATime?: boolean;
}

/** Writes `bytes` and resolves when the kernel has taken them (each byte alone with `oneByteAtATime`). */
export async function writeBytes(socket: Socket, bytes: Buffer | string, options: WriteOptions = {}): Promise<void> {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  if (!options.oneByteAtATime) {
    await new Promise<void>((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
    return;
  }
  // setNoDelay: each byte leaves in a segment of its own, so the peer really sees 1-byte reads.
  socket.setNoDelay(true);
  for (let i = 0; i < data.length; i++) {
    await new Promise<void>((resolve, reject) => socket.write(data.subarray(i, i + 1), (err) => (err ? reject(err) : resolve())));
    // A write that completes at once calls back on nextTick: without a turn of the event loop,
    // an in-process healthgate would read all the bytes in one go after the loop ends.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * A bare connected socket, destroyed when the test ends, that keeps nothing it receives: for a test
 * that counts or streams gigabytes itself (RawClient would hold every byte). Errors are left to the
 * test: a reset may be the expected end.
 */
export async function connectSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host });
  defer(() => destroyAndWait(socket));
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/**
 * A raw TCP client that keeps everything it receives, for exact-byte assertions: wait for a
 * predicate over the bytes so far, cut answers off the front, half-close, reset.
 */
export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;
  private isClosed = false;
  /** Set when the socket saw an error (a reset from the peer, usually). */
  error: NodeJS.ErrnoException | undefined;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err;
    });
    // Not events.once(): that rejects on 'error', and a reset is a normal end for some tests.
    this.closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connects to host:port; the socket is destroyed when the test ends. */
  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new RawClient(await connectSocket(port, host));
  }

  /** Everything received and not yet taken. */
  get received(): Buffer {
    return this.buffer;
  }

  /** True once the peer has sent its FIN (or the socket closed). */
  get peerEnded(): boolean {
    return this.ended || this.isClosed;
  }

  write(bytes: Buffer | string, options: WriteOptions = {}): Promise<void> {
    return writeBytes(this.socket, bytes, options);
  }

  /** Half-closes: sends our FIN, keeps reading. */
  end(): void {
    this.socket.end();
  }

  /** Resolves with the bytes so far once `predicate` holds; rejects if the peer ends first or after `timeoutMs`. */
  async waitFor(what: string, predicate: (received: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (predicate(this.buffer)) return this.buffer;
      if (this.peerEnded) {
        throw new Error(`peer ended before ${what}; received ${JSON.stringify(this.buffer.toString('latin1').slice(0, 300))}`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.buffer.toString('latin1').slice(0, 300))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once at least `n` bytes have arrived. */
  waitForBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    return this.waitFor(`${n} bytes`, (b) => b.length >= n, timeoutMs);
  }

  /** Removes and returns the first `n` received bytes. */
  take(n: number): Buffer {
    const head = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return head;
  }

  /** Resolves with every byte received until the socket closed. */
  async readToClose(timeoutMs = 5000): Promise<Buffer> {
    try {
      await within(this.closed, timeoutMs, 'close');
    } catch (err) {
      throw new Error(`${(err as Error).message}; received ${JSON.stringify(this.buffer.toString('latin1').slice(0, 300))}`, {
        cause: err,
      });
    }
    return this.buffer;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Connects, writes `bytes` (optionally one byte at a time), half-closes when `end` is set, and
 * resolves with everything received until the connection closed.
 */
export async function rawRequest(
  port: number,
  bytes: Buffer | string,
  options: WriteOptions & { end?: boolean; host?: string; timeoutMs?: number } = {},
): Promise<Buffer> {
  const client = await RawClient.connect(port, options.host);
  await client.write(bytes, options).catch((err: unknown) => {
    // healthgate may answer and close before the last byte is written (a 503 as soon as the
    // request line shows HTTP): what it sent is still there to read.
    if (!client.peerEnded) throw err;
  });
  if (options.end) client.end();
  return client.readToClose(options.timeoutMs);
}

// freePort's ports come from a block of its own per jest worker, below Linux's ephemeral range
// (32768-60999 by default). A port taken with listen(0) and released could be handed by the
// kernel to another worker's listen(0) or to an outgoing connection before the test binds it;
// then an app started on it fails to bind, and healthgate's backend is some other test's server
// (a Node 24 run in CI saw an upgrade hang up that way). These ports are never handed out by the
// kernel, and no two workers share one.
const PORTS_PER_WORKER = 1000;
const FIRST_PORT = 20_000 + (Number(process.env.JEST_WORKER_ID ?? '1') - 1) * PORTS_PER_WORKER;
let nextPort = 0;

/** Whether `port` can be bound on `host` now (and releases it). */
async function canBind(port: number, host: string): Promise<boolean> {
  const server = createServer();
  server.listen(port, host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  } catch {
    return false;
  }
  server.close();
  await once(server, 'close');
  return true;
}

/** A port that nothing listens on right now, for a test to bind later or to leave down (a backend that is down). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < PORTS_PER_WORKER; tries++) {
    const port = FIRST_PORT + (nextPort++ % PORTS_PER_WORKER);
    if (await canBind(port, host)) return port;
  }
  throw new Error(`no free port in ${FIRST_PORT}-${FIRST_PORT + PORTS_PER_WORKER - 1}`);
}

/** Destroys a socket and resolves once it has closed. */
export async function destroyAndWait(socket: Socket): Promise<void> {
  if (socket.closed) return;
  const closed = once(socket, 'close');
  socket.destroy();
  await closed;
}

/** Whether a TCP connect to 127.0.0.1:`port` is accepted or refused now (the listener is open or closed). */
export function connectOutcome(port: number, host = '127.0.0.1'): Promise<'accepted' | 'refused'> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.on('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.on('error', () => resolve('refused'));
  });
}
