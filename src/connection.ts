import type { Socket } from 'node:net';
import { CONNECT_TIMEOUT_MS, type BackendTarget, type CancelConnect } from './backend-target';
import { ANSWERED_ERRORS, type AnsweredErrorCode, type BackendUnreachableError } from './errors';
import { renderError } from './health';
import type { Log } from './log';
import type { ConnectionRoute, Metrics } from './metrics';
import { splice, type TunnelResult } from './pipe';
import { BodyError, createBodySkipper, type BodySkipper } from './body-skipper';
import type { HeadMemo } from './head-memo';
import { sniff, type LocalTarget, type RequestHead, type SniffRules, type Verdict } from './sniff';

/** What every connection shares: the rules, the backend, the answers, the counters. */
export interface ConnectionContext {
  readonly rules: SniffRules;
  /** Verdicts of answered heads, shared by every connection (head-memo.ts says why that is safe). */
  readonly memo: HeadMemo<Verdict>;
  readonly headerTimeoutMs: number;
  readonly halfCloseTimeoutMs: number;
  readonly backend: BackendTarget;
  readonly metrics: Metrics;
  readonly log: Log;
  /** The bytes of the answer to a local request; a promise when a check or a scrape runs first. */
  answerLocal(target: LocalTarget, head: RequestHead): Buffer | Promise<Buffer>;
  /** How long a closing connection lingers (LINGER_MS by default; a test lengthens it to measure what it drops). */
  readonly lingerMs?: number;
  /** Sees the first bytes of each stream routed to the backend, synchronously (diagnose.ts: a platform probe on an unanswered path). */
  routedToBackend(sniffed: Buffer): void;
}

/**
 * - `sniffing`: reading a request head; the header timer runs.
 * - `answering`: a local answer is being prepared; later bytes wait in the buffer.
 * - `connecting`: routed to the backend, which is connecting; later bytes wait in the buffer.
 * - `refusing`: the backend is unreachable and the first bytes do not yet tell whether they are HTTP.
 * - `piping`: handed to the tunnel; this object no longer touches the stream.
 * - `closing`: our last answer is written; waiting for the client to close (lingering close).
 * - `closed`: the client socket is gone.
 */
export type ConnectionState = 'sniffing' | 'answering' | 'connecting' | 'refusing' | 'piping' | 'closing' | 'closed';

const EMPTY = Buffer.alloc(0);
// After a final answer, unread client bytes are drained this long so that the kernel does not
// answer them with a reset that could destroy our answer in flight (nginx's lingering close).
const LINGER_MS = 2000;
// An upper-case method token and a space: the stream began like HTTP (SPEC 3, 503 vs close).
const HTTP_LIKE = /^(?:\r?\n)?[A-Z][A-Z0-9_-]* /;
const TOKEN_PREFIX = /^(?:\r?\n)?[A-Z][A-Z0-9_-]*$|^\r?\n?$/;
// How many first bytes tell HTTP-like from not when the backend is unreachable.
const REFUSE_PROBE_BYTES = 64;

const kConnection = Symbol('healthgate.connection');

/** A client socket carrying its Connection, so that listeners are shared functions, not closures. */
interface ClientSocket extends Socket {
  [kConnection]: Connection;
}

// Module-level listeners (as ws does): accepting a connection allocates no closures. Measured
// against plain closures (with pipe.ts's, bench/analysis.md): RSS per open connection in the
// storm 6.6 → 5.5 KB, in two runs; CPU per connection within the noise.
function onClientData(this: ClientSocket, chunk: Buffer): void {
  this[kConnection].onClientData(chunk);
}
function onClientEnd(this: ClientSocket): void {
  this[kConnection].onClientEnd();
}
function onClientError(this: ClientSocket, err: NodeJS.ErrnoException): void {
  this[kConnection].onClientError(err);
}
function onClientClose(this: ClientSocket): void {
  this[kConnection].onClientClose();
}
function onClientDrain(this: ClientSocket): void {
  this[kConnection].onClientDrain();
}
function onHeaderTimeout(connection: Connection): void {
  connection.onHeaderTimeout();
}
function onLingerTimeout(connection: Connection): void {
  connection.destroy();
}

/** One client socket: sniffing → answering | piping → closed. */
export class Connection {
  private state: ConnectionState = 'sniffing';
  /**
   * Bytes received and neither answered nor piped: the first `length` bytes of `store`. The first
   * chunk is kept as Node gave it, without a copy (each read has a buffer of its own, which
   * nothing else writes into); a second chunk moves both into a buffer of ours that grows by
   * doubling, so that a head sent one byte at a time costs O(n), not O(n²).
   */
  private store: Buffer = EMPTY;
  private length = 0;
  private headerTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private bodySkipper: BodySkipper | undefined;
  private clientEnded = false;
  private receivedAny = false;
  private route: ConnectionRoute | undefined;
  private closeAfterAnswer = false;
  /** Reading is paused until the client takes the answers that wait in the socket. */
  private awaitingDrain = false;
  /** Set while the backend connects: a client that leaves meanwhile stops the connect. */
  private cancelConnect: CancelConnect | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
    readonly id: number,
    private readonly onClosed: (connection: Connection) => void,
  ) {
    (socket as ClientSocket)[kConnection] = this;
    socket.on('error', onClientError);
    socket.on('data', onClientData);
    socket.on('end', onClientEnd);
    socket.on('close', onClientClose);
    ctx.metrics.connectionOpened();
    this.armHeaderTimer();
  }

  /** True while the connection is being sniffed, idles between health requests, or waits to be refused: nothing routed, nothing being answered. */
  get isUnrouted(): boolean {
    return this.state === 'sniffing' || this.state === 'refusing';
  }

  /** The client's address as `ip:port`, for logs. */
  get peer(): string {
    const address = this.socket.remoteAddress ?? '?';
    return `${address.includes(':') ? `[${address}]` : address}:${this.socket.remotePort ?? '?'}`;
  }

  /**
   * SPEC (Shutdown): connections still being sniffed or idle between health requests are closed at
   * once; one preparing an answer closes after it; routed ones are left to end by themselves.
   */
  closeIfNotRouted(): void {
    if (this.isUnrouted) this.destroy();
    else if (this.state === 'answering') this.closeAfterAnswer = true;
  }

  /** Closes the client socket at once, whatever the state. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Socket events, through the module-level listeners above. */
  onClientData(chunk: Buffer): void {
    this.receivedAny = true;
    // closing: lingering close drops what the client still sends; appending it would buffer
    // without bound for the whole linger time (a half-open client can send hundreds of MB).
    if (this.state === 'closing') return;
    const rest = this.bodySkipper ? this.skipBody(chunk) : chunk;
    if (rest.length > 0) this.append(rest);
    switch (this.state) {
      case 'sniffing':
        this.process();
        break;
      case 'refusing':
        this.refuse();
        break;
      case 'answering':
      case 'connecting':
        // Bounded: pipelined bytes beyond one head wait in the kernel, not here.
        if (this.length > this.ctx.rules.maxHeaderBytes) this.socket.pause();
        break;
      default:
        // closing: lingering close drops what the client still sends.
        break;
    }
  }

  onClientEnd(): void {
    this.clientEnded = true;
    if (this.state === 'sniffing') this.process();
    else if (this.state === 'refusing') this.refuse();
  }

  onClientError(err: NodeJS.ErrnoException): void {
    // A client that resets or vanishes costs only its own connection.
    if (this.ctx.log.debugEnabled) {
      this.ctx.log.debug('client error', { conn: this.id, peer: this.peer, reason: err.code ?? err.message, state: this.state });
    }
    this.socket.destroy();
  }

  onClientClose(): void {
    // Not reached once piping: detach() removed this listener, and the tunnel reports the close.
    this.setState('closed');
    if (!this.route) this.classify(this.receivedAny ? 'rejected' : 'silent');
    if (!this.receivedAny && this.ctx.log.debugEnabled) this.ctx.log.debug('silent connection', { conn: this.id, peer: this.peer });
    this.finish();
  }

  onHeaderTimeout(): void {
    this.headerTimer = undefined;
    if (this.state === 'refusing') {
      this.destroy();
      return;
    }
    if (this.state !== 'sniffing') return;
    // SPEC 3: silence (at the start or between keep-alive requests) closes silently; a partial head is 408.
    if (this.length === 0 && !this.bodySkipper) this.destroy();
    else this.reject('HG_HEAD_TIMEOUT', `no complete head within ${this.ctx.headerTimeoutMs} ms`);
  }

  private setState(next: ConnectionState): void {
    // While answering, the header timer may still fire: onHeaderTimeout ignores every state but
    // sniffing, and the answer re-arms it.
    if (next !== 'sniffing' && next !== 'answering') this.clearHeaderTimer();
    this.state = next;
  }

  private armHeaderTimer(): void {
    // Keep-alive requests re-arm the same timer rather than allocate one each.
    if (this.headerTimer) this.headerTimer.refresh();
    else this.headerTimer = setTimeout(onHeaderTimeout, this.ctx.headerTimeoutMs, this);
  }

  private clearHeaderTimer(): void {
    if (this.headerTimer) clearTimeout(this.headerTimer);
    this.headerTimer = undefined;
  }

  /** Appends to the buffer, growing it by doubling so that a head sent byte by byte costs O(n). */
  private append(chunk: Buffer): void {
    if (this.length === 0 && this.store.length === 0) {
      this.store = chunk;
      this.length = chunk.length;
      return;
    }
    if (this.length + chunk.length > this.store.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.length + chunk.length, this.store.length * 2, 1024));
      this.store.copy(grown, 0, 0, this.length);
      this.store = grown;
    }
    chunk.copy(this.store, this.length);
    this.length += chunk.length;
  }

  private get buffered(): Buffer {
    return this.store.subarray(0, this.length);
  }

  /** Drops the first `n` buffered bytes (an answered request). */
  private consume(n: number): void {
    const rest = this.store.subarray(n, this.length);
    this.store = rest.length > 0 ? rest : EMPTY;
    this.length = rest.length;
  }

  private skipBody(chunk: Buffer): Buffer {
    const ended = this.bodySkipper!.skip(chunk);
    if (ended === undefined) return EMPTY;
    this.bodySkipper = undefined;
    if (ended instanceof BodyError) {
      this.rejectBody(ended);
      return EMPTY;
    }
    return chunk.subarray(ended);
  }

  /** SPEC 1: a body that cannot be framed is a 400 and a close; nothing after it is sniffed or routed. */
  private rejectBody(err: BodyError): void {
    if (this.state === 'answering') {
      // The answer has not gone out: the 400 takes its place (a late answer finds us closing).
      this.reject('HG_BAD_REQUEST', err.message);
      return;
    }
    // The answer is already out: a 400 now would read as the answer to a request never sent.
    this.ctx.metrics.countError('HG_BAD_REQUEST');
    this.ctx.log.warn('bad request body after the answer: closing', { peer: this.peer, reason: 'HG_BAD_REQUEST', detail: err.message });
    this.endAndLinger();
  }

  /**
   * Runs the sniffer over the buffer until it needs more bytes or the connection leaves `sniffing`.
   * SPEC 1: a loop over the buffered requests, never recursion per request (20,000 pipelined
   * requests in one read must not grow the stack); an answer that is ready at once is written and
   * the loop goes on, one that is not re-enters here from its promise, on a fresh stack.
   */
  private process(): void {
    while (this.state === 'sniffing') {
      if (this.socket.writableNeedDrain) {
        // The client does not read its answers: stop reading its requests until it does.
        this.waitForDrain();
        return;
      }
      if (this.length === 0) {
        if (this.clientEnded && !this.bodySkipper) this.endAndLinger();
        return;
      }
      const verdict = sniff(this.buffered, this.ctx.rules, this.ctx.memo);
      switch (verdict.kind) {
        case 'need-more':
          if (this.clientEnded) {
            // The head can no longer complete: nothing to answer, nothing to route.
            this.ctx.log.debug('client closed mid-head', { conn: this.id, peer: this.peer });
            this.destroy();
          }
          return;
        case 'local':
          if (!this.answer(verdict.target, verdict.head, verdict.headLength)) return;
          break;
        case 'backend':
          this.connectBackend();
          return;
        case 'reject':
          this.reject(verdict.code, verdict.detail);
          return;
      }
    }
  }

  /** Pauses reading until the client has taken our answers; then sniffs on. */
  private waitForDrain(): void {
    if (this.awaitingDrain) return;
    this.awaitingDrain = true;
    this.socket.pause();
    this.socket.once('drain', onClientDrain);
  }

  onClientDrain(): void {
    this.awaitingDrain = false;
    if (this.state !== 'sniffing') return;
    this.socket.resume();
    this.process();
  }

  /** Answers a local request; true when the answer went out at once and the next request may be sniffed. */
  private answer(target: LocalTarget, head: RequestHead, headLength: number): boolean {
    this.setState('answering');
    this.consume(headLength);
    this.bodySkipper = createBodySkipper(head.body, this.ctx.rules.maxHeaderBytes);
    if (this.bodySkipper && this.length > 0) {
      const pending = this.buffered;
      this.store = EMPTY;
      this.length = 0;
      const rest = this.skipBody(pending);
      if (this.state !== 'answering') return false;
      if (rest.length > 0) this.append(rest);
    }
    if (!this.route) this.classify('health');
    // SPEC 1: `Expect: 100-continue` gets the answer at once, without a 100; a client that waits
    // for a 100 before sending its body then never sends it, so while the body is missing the
    // answer closes the connection (as nginx does) rather than wait for a body that is not coming.
    if (head.expectContinue && this.bodySkipper) head = { ...head, keepAlive: false };
    if (this.ctx.log.debugEnabled) {
      this.ctx.log.debug('health request', { conn: this.id, peer: this.peer, method: head.method, path: head.path });
    }
    const answer = this.ctx.answerLocal(target, head);
    if (Buffer.isBuffer(answer)) return this.writeAnswer(answer, head);
    answer.then(
      (bytes) => {
        if (this.writeAnswer(bytes, head)) this.process();
      },
      (err: unknown) => {
        this.ctx.log.error('local answer failed', { conn: this.id, error: String(err) });
        this.destroy();
      },
    );
    return false;
  }

  /** Writes an answer; true when the connection is back to sniffing the next request. */
  private writeAnswer(bytes: Buffer, head: RequestHead): boolean {
    if (this.state !== 'answering') return false;
    this.socket.write(bytes);
    if (!head.keepAlive || this.closeAfterAnswer) {
      this.endAndLinger();
      return false;
    }
    this.setState('sniffing');
    this.armHeaderTimer();
    if (this.socket.isPaused() && !this.awaitingDrain) this.socket.resume();
    return true;
  }

  private connectBackend(): void {
    this.setState('connecting');
    // At routing, not at hand-over: a probe on an unanswered path is worth a warning also when
    // the app is down. The sniffer reads these bytes synchronously and keeps none of them.
    this.ctx.routedToBackend(this.buffered);
    this.cancelConnect = this.ctx.backend.connect(CONNECT_TIMEOUT_MS, (err, backend) => this.onBackendConnect(err, backend));
  }

  private onBackendConnect(err: BackendUnreachableError | undefined, backend: Socket | undefined): void {
    this.cancelConnect = undefined;
    if (this.state !== 'connecting') {
      // Not reached: a client that leaves cancels the connect. Kept so that a socket never leaks.
      backend?.destroy();
      return;
    }
    if (!backend) {
      this.ctx.log.debug('backend unreachable', { conn: this.id, reason: err?.message });
      this.setState('refusing');
      this.armHeaderTimer();
      this.refuse();
      return;
    }
    this.handOver(backend);
  }

  /** SPEC 3: an unreachable backend gets 503 for a stream that began like HTTP, a close otherwise. */
  private refuse(): void {
    const head = this.buffered.subarray(0, REFUSE_PROBE_BYTES).toString('latin1');
    if (HTTP_LIKE.test(head)) {
      this.reject('HG_BACKEND_UNREACHABLE', `backend ${this.ctx.backend.label} unreachable`, ['Retry-After: 1']);
    } else if (TOKEN_PREFIX.test(head) && !this.clientEnded && this.length < REFUSE_PROBE_BYTES) {
      // Still undecided (an upper-case token without its space yet): wait for more, up to the header
      // timeout. A token as long as the probe is no method: waiting would buffer without bound.
    } else {
      this.classify('rejected');
      this.ctx.log.debug('backend unreachable, not HTTP: closing', { conn: this.id, peer: this.peer });
      this.destroy();
    }
  }

  private handOver(backend: Socket): void {
    this.classify('backend');
    this.setState('piping');
    const sniffed = this.length > 0 ? Buffer.from(this.buffered) : EMPTY;
    this.store = EMPTY;
    this.length = 0;
    this.detach();
    splice(this.socket, backend, {
      sniffed,
      clientEnded: this.clientEnded,
      halfCloseTimeoutMs: this.ctx.halfCloseTimeoutMs,
      onClose: (result) => this.onTunnelClose(result),
    });
  }

  private onTunnelClose(result: TunnelResult): void {
    this.ctx.metrics.addTunnelBytes(result.toBackendBytes, result.toClientBytes);
    if (result.error && this.ctx.log.debugEnabled) {
      this.ctx.log.debug('tunnel error', { conn: this.id, peer: this.peer, reason: (result.error as NodeJS.ErrnoException).code });
    }
    if (result.halfCloseTimedOut) this.ctx.log.debug('half-closed tunnel timed out', { conn: this.id, peer: this.peer });
    this.setState('closed');
    this.finish();
  }

  /** Answers an error once, then closes (SPEC 3). */
  private reject(code: AnsweredErrorCode, detail: string, extraHeaders: readonly string[] = []): void {
    const { status } = ANSWERED_ERRORS[code];
    this.classify('rejected');
    this.ctx.metrics.countError(code);
    this.ctx.log.warn(`answered ${status}`, { peer: this.peer, reason: code, detail });
    this.socket.write(renderError(status, detail, extraHeaders));
    this.endAndLinger();
  }

  private endAndLinger(): void {
    this.setState('closing');
    this.bodySkipper = undefined;
    this.socket.end();
    this.socket.resume();
    this.lingerTimer = setTimeout(onLingerTimeout, this.ctx.lingerMs ?? LINGER_MS, this);
  }

  private classify(route: ConnectionRoute): void {
    if (this.route === route) return;
    this.route = route;
    this.ctx.metrics.countConnection(route);
  }

  private detach(): void {
    this.socket.removeListener('error', onClientError);
    this.socket.removeListener('data', onClientData);
    this.socket.removeListener('end', onClientEnd);
    this.socket.removeListener('close', onClientClose);
    this.socket.removeListener('drain', onClientDrain);
  }

  private finish(): void {
    this.cancelConnect?.();
    this.cancelConnect = undefined;
    this.ctx.metrics.connectionClosed();
    this.clearHeaderTimer();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.onClosed(this);
  }
}
