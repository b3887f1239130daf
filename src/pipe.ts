import type { Socket } from 'node:net';
import { hasErrnoCode } from './errors';

/** What a tunnel reports when both of its sockets have closed. */
export interface TunnelResult {
  readonly toBackendBytes: number;
  readonly toClientBytes: number;
  /** The first error on either side (a reset, usually), if any. */
  readonly error: Error | undefined;
  readonly halfCloseTimedOut: boolean;
}

/** Options of one tunnel. */
export interface SpliceOptions {
  /** Bytes already read from the client: the backend sees them first, unchanged. */
  readonly sniffed: Buffer;
  /** The client already sent its FIN while it was being sniffed. */
  readonly clientEnded: boolean;
  /** SPEC: a tunnel that one side has closed is closed whole once no byte has moved for this long. */
  readonly halfCloseTimeoutMs: number;
  readonly onClose: (result: TunnelResult) => void;
}

const kPeer = Symbol('healthgate.peer');
const kTunnel = Symbol('healthgate.tunnel');

/** A socket of a tunnel, carrying its peer and the tunnel so that handlers need no closures. */
interface TunnelSocket extends Socket {
  [kPeer]: TunnelSocket;
  [kTunnel]: Tunnel;
}

/**
 * Splices a client and a connected backend: bytes in order both ways, half-close honoured,
 * backpressure honoured (a side whose peer cannot take more is paused until the peer drains);
 * an error on either side destroys both. Both sockets must have been created with allowHalfOpen.
 */
export function splice(client: Socket, backend: Socket, options: SpliceOptions): void {
  const tunnel = new Tunnel(client as TunnelSocket, backend as TunnelSocket, options.halfCloseTimeoutMs, options.onClose);
  if (options.sniffed.length > 0 && !backend.write(options.sniffed)) client.pause();
  if (options.clientEnded) {
    backend.end();
    tunnel.startHalfCloseTimer();
  } else {
    attach(client as TunnelSocket);
  }
  attach(backend as TunnelSocket);
  client.on('error', onTunnelError);
  backend.on('error', onTunnelError);
  client.on('close', onTunnelClose);
  backend.on('close', onTunnelClose);
  client.on('drain', onTunnelDrain);
  backend.on('drain', onTunnelDrain);
  if (!options.clientEnded && client.isPaused() && !backend.writableNeedDrain) client.resume();
}

// Buffers: every read gets a buffer of its own from Node (no `onread` option, no pool of ours).
// A write that cannot complete at once keeps a reference to its chunk, and no other socket, nor a
// later read of this one, ever reads into that memory (SPEC 2: a tunnel's bytes are its own).
// test/hardening/tunnel-isolation.test.ts stalls readers among many tunnels to catch the day a
// buffer is shared again; a shared read buffer was tried and leaked bytes across tunnels.

// Listeners live at module level, like ws's socket handlers: a tunnel costs two small objects of
// state, not a dozen closures (pipe() allocates about ten per direction). With connection.ts's,
// this keeps the storm's RSS per open connection at 5.5 KB instead of 6.6 (bench/analysis.md).
function attach(socket: TunnelSocket): void {
  socket.on('data', onTunnelData);
  socket.on('end', onTunnelEnd);
}

function onTunnelData(this: TunnelSocket, chunk: Buffer): void {
  if (!this[kPeer].write(chunk)) this.pause();
}

function onTunnelDrain(this: TunnelSocket): void {
  // Our write buffer emptied: let the peer, which feeds it, read again.
  const peer = this[kPeer];
  if (peer.isPaused() && !peer.readableEnded) peer.resume();
}

function onTunnelEnd(this: TunnelSocket): void {
  // A FIN ends only its direction: the peer's writable side.
  this[kPeer].end();
  this[kTunnel].startHalfCloseTimer();
}

function onTunnelIdle(this: TunnelSocket): void {
  this[kTunnel].halfCloseExpired();
}

function onTunnelError(this: TunnelSocket, err: Error): void {
  this[kTunnel].fail(err);
}

function onTunnelClose(this: TunnelSocket): void {
  // A socket that closed before both its directions ended cleanly was cut: cut its peer too.
  if (!(this.readableEnded && this.writableFinished)) this[kPeer].destroy();
  this[kTunnel].socketClosed();
}

class Tunnel {
  private open = 2;
  private firstError: Error | undefined;
  private halfClosed = false;
  private halfCloseTimedOut = false;

  // Not the options: the sniffed bytes are the backend's once written, not ours to keep.
  /** What the client socket had written before the tunnel (health answers on a keep-alive connection). */
  private readonly clientBytesBefore: number;

  constructor(
    private readonly client: TunnelSocket,
    private readonly backend: TunnelSocket,
    private readonly halfCloseTimeoutMs: number,
    private readonly onClose: (result: TunnelResult) => void,
  ) {
    this.clientBytesBefore = client.bytesWritten;
    client[kPeer] = backend;
    backend[kPeer] = client;
    client[kTunnel] = this;
    backend[kTunnel] = this;
  }

  /**
   * SPEC: once one side has closed, the tunnel is closed whole when no byte has moved either way
   * for halfCloseTimeoutMs (HAProxy's `timeout client-fin`). Node re-arms a socket's timeout on
   * every read and write, and every byte of a tunnel is read from or written to the client
   * socket, so the client socket's idle timeout is exactly that.
   */
  startHalfCloseTimer(): void {
    if (this.halfClosed) return;
    this.halfClosed = true;
    this.client.setTimeout(this.halfCloseTimeoutMs, onTunnelIdle);
  }

  halfCloseExpired(): void {
    this.halfCloseTimedOut = true;
    this.client.destroy();
    this.backend.destroy();
  }

  fail(err: Error): void {
    this.firstError ??= err;
    // A reset is passed on as a reset, so that the peer sees what happened rather than a clean end.
    const reset = hasErrnoCode(err, 'ECONNRESET');
    for (const socket of [this.client, this.backend]) {
      if (reset && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
  }

  socketClosed(): void {
    if (--this.open > 0) return;
    this.onClose({
      toBackendBytes: this.backend.bytesWritten,
      // Bytes written to the client, not bytes read from the backend: what the client was sent.
      toClientBytes: this.client.bytesWritten - this.clientBytesBefore,
      error: this.firstError,
      halfCloseTimedOut: this.halfCloseTimedOut,
    });
  }
}
