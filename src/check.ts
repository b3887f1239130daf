import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect, rootCertificates, type ConnectionOptions } from 'node:tls';
import WebSocket, { type ClientOptions } from 'ws';
import {
  isUnanswered,
  judgeHealth,
  judgeWebSocket,
  skippedStep,
  type CheckReport,
  type HttpOutcome,
  type StepResult,
  type StepTarget,
  type WsOutcome,
} from './check-report';

// `healthgate check <url>`: a client of a deployed service, as the platform and a browser see it
// (SPEC: healthgate check). It shares nothing with the proxy: plain node:http(s) and a ws client.

/** What to check and how; `url` is the service's origin (no path), times in milliseconds. */
export interface CheckOptions {
  readonly url: URL;
  /** One health GET per path, in order (default `/health`). */
  readonly healthPaths: readonly string[];
  /** The path of the WebSocket handshake (default `/`). */
  readonly wsPath: string;
  /** Bounds each step (default 5000). */
  readonly timeoutMs: number;
  /** PEM text of CA certificates trusted besides the system's, from `--ca`. */
  readonly ca: string | undefined;
  /** Skip certificate verification (`--insecure`). */
  readonly insecure: boolean;
  readonly userAgent: string;
}

/** Keeps a reader of an error page from holding a large body: the causes need only its start. */
const MAX_BODY_BYTES = 64 * 1024;
/** After the pong: how long a polite close may take before the socket is cut. */
const CLOSE_GRACE_MS = 1000;

/**
 * Runs the steps in order — one health GET per path, then a WebSocket handshake and a ping — and
 * resolves with every step's result. After a step that got no answer at all (DNS, TLS, refused,
 * timeout), the rest are skipped: they would fail the same way. Never rejects for a network fault.
 */
export async function check(options: CheckOptions): Promise<CheckReport> {
  const steps: StepResult[] = [];
  const plan = [
    ...options.healthPaths.map((path) => ({ step: 'health' as const, url: new URL(options.url.origin + path) })),
    { step: 'websocket' as const, url: webSocketUrl(options) },
  ];
  for (const { step, url } of plan) {
    if (steps.some(isUnanswered)) {
      steps.push(skippedStep(step, url));
      continue;
    }
    const target: StepTarget = { url, timeoutMs: options.timeoutMs };
    steps.push(
      step === 'health'
        ? judgeHealth(target, await getHealth(target, options))
        : judgeWebSocket(target, await pingWebSocket(target, options)),
    );
  }
  return { url: options.url.href, ok: steps.every((s) => s.ok), steps };
}

function webSocketUrl(options: CheckOptions): URL {
  // Concatenated, not resolved: a path like `//x` stays a path on this host.
  const url = new URL(options.url.origin + options.wsPath);
  url.protocol = options.url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
}

function tlsOptions(options: CheckOptions): { rejectUnauthorized: boolean; ca?: string[] } {
  return {
    rejectUnauthorized: !options.insecure,
    // --ca adds to the system's roots rather than replacing them.
    ...(options.ca !== undefined ? { ca: [...rootCertificates, options.ca] } : {}),
  };
}

function since(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

function errorFields(err: unknown): { code: string | undefined; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : undefined, message: err instanceof Error ? err.message : String(err) };
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Calls `done` once with the body's first MAX_BODY_BYTES (or what arrived before the close), as UTF-8. */
function readBody(res: IncomingMessage, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (): void => done(Buffer.concat(chunks).toString('utf8'));
  res.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_BODY_BYTES) finish();
  });
  res.on('end', finish);
  // A body cut short is still judged by what arrived; the error itself changes nothing.
  res.on('close', finish);
  res.on('error', () => undefined);
}

/** One GET with `Accept: application/json`, bounded by the step's timeout; resolves, never rejects. */
function getHealth(target: StepTarget, options: CheckOptions): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let connected = false;
    let settled = false;
    const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(target.url, {
      method: 'GET',
      // A fresh connection per request, closed after it: nothing keeps the CLI alive.
      agent: false,
      headers: { Accept: 'application/json', 'User-Agent': options.userAgent, Connection: 'close' },
      ...tlsOptions(options),
    });
    const finish = (outcome: HttpOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ type: 'timeout', connected, ms: since(started) }), target.timeoutMs);
    req.on('socket', (socket: Socket) => socket.once('connect', () => (connected = true)));
    req.on('error', (err) => finish({ type: 'error', ...errorFields(err), ms: since(started) }));
    req.on('response', (res) => {
      readBody(res, (body) =>
        finish({ type: 'response', status: res.statusCode ?? 0, headers: flatHeaders(res), body, ms: since(started) }),
      );
    });
    req.end();
  });
}

/** ws's own connect (net, or tls with SNI for a host name), watched for the TCP connect. */
function watchedConnect(secure: boolean, onConnect: () => void): ClientOptions['createConnection'] {
  const connect = (opts: NetConnectOpts & ConnectionOptions): Socket => {
    if (secure && !opts.servername && opts.servername !== '') {
      opts.servername = isIP(opts.host ?? '') ? '' : opts.host;
    }
    const socket = secure ? tlsConnect({ ...opts, path: undefined }) : netConnect(opts);
    socket.once('connect', onConnect);
    return socket;
  };
  // @types/ws names net.createConnection's overloads; ws itself calls it with one options object.
  return connect as unknown as ClientOptions['createConnection'];
}

/** Ends the step's socket: after a pong, a polite close (bounded); after anything else, a cut. */
function closeQuietly(ws: WebSocket, polite: boolean): void {
  if (ws.readyState === WebSocket.OPEN && polite) {
    ws.close(1000);
    // A server that never answers the close frame must not hold the CLI for ws's 30 s close timeout.
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    ws.once('close', () => clearTimeout(timer));
  } else {
    // A stuck server (no pong) would not answer a close frame either; a handshake is aborted.
    ws.terminate();
  }
}

/** A WebSocket handshake, then a ping and its pong, bounded together by the step's timeout; resolves, never rejects. */
function pingWebSocket(target: StepTarget, options: CheckOptions): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let connected = false;
    let openedAt: number | undefined;
    let settled = false;
    const ws = new WebSocket(target.url, {
      perMessageDeflate: false,
      followRedirects: false,
      headers: { 'User-Agent': options.userAgent },
      ...tlsOptions(options),
      createConnection: watchedConnect(target.url.protocol === 'wss:', () => (connected = true)),
    });
    const finish = (outcome: WsOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      closeQuietly(ws, outcome.type === 'pong');
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ type: 'timeout', connected, opened: openedAt !== undefined, ms: since(started) }),
      target.timeoutMs,
    );
    // Errors after the outcome (the abort of a refused handshake, a late reset) change nothing.
    ws.on('error', (err) => finish({ type: 'error', ...errorFields(err), ms: since(started) }));
    ws.on('unexpected-response', (_req, res) => {
      readBody(res, (body) =>
        finish({ type: 'response', status: res.statusCode ?? 0, headers: flatHeaders(res), body, ms: since(started) }),
      );
    });
    ws.on('open', () => {
      openedAt = performance.now();
      ws.ping();
    });
    ws.on('pong', () => {
      const handshakeMs = Math.round((openedAt! - started) * 10) / 10;
      finish({ type: 'pong', handshakeMs, pongMs: since(openedAt!) });
    });
    ws.on('close', (closeCode: number) => finish({ type: 'closed', closeCode, ms: since(started) }));
  });
}
