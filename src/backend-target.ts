import { connect, type Socket } from 'node:net';
import { BackendUnreachableError, type ConnectAttempt } from './errors';

/** SPEC 3: a backend that does not accept within 2 s is unreachable. */
export const CONNECT_TIMEOUT_MS = 2000;

/** Called once with a connected socket, or with why none could be had. */
export type ConnectCallback = (err: BackendUnreachableError | undefined, socket: Socket | undefined) => void;

/**
 * The backend's address. For `localhost` both 127.0.0.1 and ::1 are tried, and the one that
 * answered is remembered until a connect to it fails (SPEC: an app may bind either).
 */
export class BackendTarget {
  private remembered: string | undefined;
  private readonly candidates: readonly string[];

  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    this.candidates = host.toLowerCase() === 'localhost' ? ['127.0.0.1', '::1'] : [host];
  }

  /** A host:port label for logs. */
  get label(): string {
    return hostPort(this.host, this.port);
  }

  /** The addresses a connect tries: 127.0.0.1 and ::1 for `localhost`, else the host as given. */
  get addresses(): readonly string[] {
    return this.candidates;
  }

  /**
   * Connects with allowHalfOpen and no Nagle delay, trying each candidate within `timeoutMs` in
   * all.
   */
  connect(timeoutMs: number, callback: ConnectCallback): CancelConnect {
    const order = this.remembered ? [this.remembered, ...this.candidates.filter((h) => h !== this.remembered)] : this.candidates;
    const deadline = Date.now() + timeoutMs;
    let cancelCurrent: CancelConnect = () => undefined;
    let cancelled = false;
    // SPEC (Diagnostics): the error says what was tried, each address and its error code.
    const attempts: ConnectAttempt[] = [];
    const attempt = (index: number, lastError: BackendUnreachableError | undefined): void => {
      const remaining = deadline - Date.now();
      if (index >= order.length || remaining <= 0) {
        const timedOut = lastError?.timedOut ?? true;
        callback(new BackendUnreachableError(lastError?.message ?? 'backend connect timed out', timedOut, attempts), undefined);
        return;
      }
      const host = order[index];
      cancelCurrent = connectOnce(host, this.port, remaining, (err, socket) => {
        if (socket) {
          this.remembered = host;
          callback(undefined, socket);
          return;
        }
        if (this.remembered === host) this.remembered = undefined;
        if (err) attempts.push(...err.attempts);
        if (!cancelled) attempt(index + 1, err);
      });
    };
    attempt(0, undefined);
    return () => {
      cancelled = true;
      cancelCurrent();
    };
  }
}

/** Stops a connect under way: its socket is destroyed at once and its callback never runs. */
export type CancelConnect = () => void;

function connectOnce(host: string, port: number, timeoutMs: number, callback: ConnectCallback): CancelConnect {
  const socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
  const timer = setTimeout(() => {
    socket.destroy();
    settle(
      new BackendUnreachableError(`no connect to ${host}:${port} within ${timeoutMs} ms`, true, [
        { address: hostPort(host, port), code: 'ETIMEDOUT' },
      ]),
    );
  }, timeoutMs);
  let settled = false;
  function finish(): boolean {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('connect', onConnect);
    socket.removeListener('error', onError);
    return true;
  }
  function settle(err: BackendUnreachableError | undefined): void {
    if (finish()) callback(err, err ? undefined : socket);
  }
  function onConnect(): void {
    settle(undefined);
  }
  function onError(err: NodeJS.ErrnoException): void {
    socket.destroy();
    const code = err.code ?? 'error';
    settle(new BackendUnreachableError(`${code} from ${host}:${port}`, false, [{ address: hostPort(host, port), code }]));
  }
  socket.once('connect', onConnect);
  socket.on('error', onError);
  return () => {
    // A client that left while we connected: its backend socket must not hold a descriptor (and
    // an embedder's event loop) for up to the connect timeout.
    if (finish()) socket.destroy();
  };
}

/** `host:port`, with an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
