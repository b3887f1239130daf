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
  /** SPEC: a tunnel that one side has closed is closed whole after this long. */
  readonly halfCloseTimeoutMs: number;
  readonly onClose: (result: TunnelResult) => void;
}

/**
 * Splices a client and a connected backend: bytes in order both ways, half-close honoured,
 * backpressure through pipe(); an error on either side destroys both. Both sockets must have
 * been created with allowHalfOpen.
 */
export function splice(client: Socket, backend: Socket, options: SpliceOptions): void {
  let firstError: Error | undefined;
  let halfCloseTimer: NodeJS.Timeout | undefined;
  let halfCloseTimedOut = false;
  let open = 2;

  const fail = (err: Error): void => {
    firstError ??= err;
    // A reset is passed on as a reset, so that the peer sees what happened rather than a clean end.
    for (const socket of [client, backend]) {
      if (hasErrnoCode(err, 'ECONNRESET') && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
  };
  const onEnd = (): void => {
    halfCloseTimer ??= setTimeout(() => {
      halfCloseTimedOut = true;
      client.destroy();
      backend.destroy();
    }, options.halfCloseTimeoutMs);
  };
  const onClose = (): void => {
    if (--open > 0) return;
    if (halfCloseTimer) clearTimeout(halfCloseTimer);
    options.onClose({
      toBackendBytes: backend.bytesWritten,
      toClientBytes: backend.bytesRead,
      error: firstError,
      halfCloseTimedOut,
    });
  };
  const onSocketClose = (socket: Socket, peer: Socket) => (): void => {
    // A socket that closed before both its directions ended cleanly was cut: cut its peer too.
    if (!(socket.readableEnded && socket.writableFinished)) peer.destroy();
    onClose();
  };

  client.on('error', fail);
  backend.on('error', fail);
  client.on('end', onEnd);
  backend.on('end', onEnd);
  client.on('close', onSocketClose(client, backend));
  backend.on('close', onSocketClose(backend, client));

  if (options.sniffed.length > 0) backend.write(options.sniffed);
  if (options.clientEnded) {
    backend.end();
    onEnd();
  } else {
    client.pipe(backend);
  }
  backend.pipe(client);
}
