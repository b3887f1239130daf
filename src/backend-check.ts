import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { BackendTarget } from './backend-target';
import type { BackendUnreachableError } from './errors';
import type { CheckMode } from './config';
import type { BackendState } from './health';

/** The outcome of one readiness check. */
export interface CheckResult {
  readonly ok: boolean;
  readonly backend: BackendState;
  /** Why the check failed: 'backend down', 'backend timeout' or 'no handshake'. */
  readonly reason?: string;
  /** What a failed connect tried: each address and its error code (`127.0.0.1:8081 ECONNREFUSED`). */
  readonly tried?: readonly string[];
}

/** SPEC: one check times out after 1 s; its result is cached for at most 1 s. */
export const CHECK_TIMEOUT_MS = 1000;
export const CHECK_CACHE_MS = 1000;

const UNCHECKED: CheckResult = Object.freeze({ ok: true, backend: 'unchecked' });
// A masked client close frame with status 1000 (RFC 6455 5.5.1): clients must mask what they send.
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

/**
 * Readiness of the backend by `tcp` (accepts a connection), `websocket` (answers a handshake with 101)
 * or `none` (always ok). Checks run on demand; concurrent callers share one check and its result
 * for up to 1 s, so an answer arrives within 2 s even when the backend hangs.
 */
export class BackendCheck {
  private cached: { result: CheckResult; at: number } | undefined;
  private inFlight: Promise<CheckResult> | undefined;

  constructor(
    private readonly mode: CheckMode,
    private readonly target: BackendTarget,
    private readonly checkPath: string,
    private readonly onResult: (result: CheckResult) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached result when it is fresh, or undefined when a check must run. */
  fresh(): CheckResult | undefined {
    if (this.mode === 'none') return UNCHECKED;
    if (this.cached && this.now() - this.cached.at < CHECK_CACHE_MS) return this.cached.result;
    return undefined;
  }

  /** A result no older than 1 s, from the cache or a check that takes at most 1 s. */
  check(): Promise<CheckResult> {
    const fresh = this.fresh();
    if (fresh) return Promise.resolve(fresh);
    this.inFlight ??= new Promise<CheckResult>((resolve) => {
      const run = this.mode === 'websocket' ? this.checkHandshake.bind(this) : this.checkTcp.bind(this);
      run((result) => {
        this.cached = { result, at: this.now() };
        this.inFlight = undefined;
        this.onResult(result);
        resolve(result);
      });
    });
    return this.inFlight;
  }

  private checkTcp(done: (result: CheckResult) => void): void {
    this.target.connect(CHECK_TIMEOUT_MS, (err, socket) => {
      socket?.destroy();
      done(err ? down(err) : { ok: true, backend: 'up' });
    });
  }

  private checkHandshake(done: (result: CheckResult) => void): void {
    const started = this.now();
    this.target.connect(CHECK_TIMEOUT_MS, (err, socket) => {
      if (!socket) return done(down(err));
      const remaining = Math.max(1, CHECK_TIMEOUT_MS - (this.now() - started));
      awaitHandshake(socket, this.target.label, this.checkPath, remaining, done);
    });
  }
}

function down(err: BackendUnreachableError | undefined): CheckResult {
  const tried = (err?.attempts ?? []).map(({ address, code }) => `${address} ${code}`);
  return { ok: false, backend: 'down', reason: err?.timedOut ? 'backend timeout' : 'backend down', ...(tried.length > 0 ? { tried } : {}) };
}

function awaitHandshake(socket: Socket, hostHeader: string, path: string, timeoutMs: number, done: (result: CheckResult) => void): void {
  let received = Buffer.alloc(0);
  let settled = false;
  const finish = (result: CheckResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    if (result.ok) {
      // Whatever the backend says after our close frame is not ours to read; a backend that
      // never closes its side is cut after one more timeout.
      socket.end(CLOSE_FRAME);
      socket.resume();
      const linger = setTimeout(() => socket.destroy(), CHECK_TIMEOUT_MS);
      socket.once('close', () => clearTimeout(linger));
    } else {
      socket.destroy();
    }
    done(result);
  };
  const noHandshake: CheckResult = { ok: false, backend: 'down', reason: 'no handshake' };
  const timer = setTimeout(() => finish(noHandshake), timeoutMs);
  const onData = (chunk: Buffer): void => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end < 0 && received.length < 16_384) return;
    const statusLine = received.toString('latin1', 0, received.indexOf('\r\n'));
    finish(/^HTTP\/1\.[01] 101\b/.test(statusLine) ? { ok: true, backend: 'up' } : noHandshake);
  };
  socket.on('error', () => finish(noHandshake));
  socket.on('end', () => finish(noHandshake));
  socket.on('data', onData);
  socket.write(
    [
      `GET ${path} HTTP/1.1`,
      `Host: ${hostHeader}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      'User-Agent: healthgate-check',
      '',
      '',
    ].join('\r\n'),
  );
}
