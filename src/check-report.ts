// Pure: what `healthgate check` saw on the wire → pass or fail, the likely cause in one plain
// sentence, and the printed report (lines or one JSON object). Touches no socket, timer or stream.

/** The fields of healthgate's JSON health answer (SPEC: Health answers). */
export interface HealthgateBody {
  readonly status: 'ok' | 'unavailable';
  readonly backend: 'up' | 'down' | 'unchecked';
  readonly draining: boolean;
  readonly uptimeSeconds: number;
  readonly reason?: string;
}

/** Stable names of the causes, for `--json` readers; the sentence is for people. */
export type CauseKind =
  | 'dns'
  | 'tls'
  | 'refused'
  | 'unreachable'
  | 'reset'
  | 'timeout'
  | 'edge-not-found'
  | 'edge-no-response'
  | 'upgrade-required'
  | 'unavailable'
  | 'redirect'
  | 'http-status'
  | 'no-upgrade'
  | 'no-pong'
  | 'closed'
  | 'skipped'
  | 'error';

/** One step's result: `ms` is the time the step took, absent when it was not tried. */
export interface StepResult {
  readonly step: 'health' | 'websocket';
  readonly url: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly ms?: number;
  /** WebSocket step: the ping's round trip after the handshake, in ms. */
  readonly pongMs?: number;
  /** Health step: healthgate's own JSON answer, when healthgate answered. */
  readonly healthgate?: HealthgateBody;
  readonly kind?: CauseKind;
  /** The system or TLS error code behind the failure (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, …). */
  readonly code?: string;
  readonly cause?: string;
}

/** The whole check: `ok` when every step passed. */
export interface CheckReport {
  readonly url: string;
  readonly ok: boolean;
  readonly steps: readonly StepResult[];
}

/** What one HTTP exchange gave: an answer, an error, or nothing within the step's time. */
export type HttpOutcome =
  | {
      readonly type: 'response';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: string;
      readonly ms: number;
    }
  | { readonly type: 'error'; readonly code: string | undefined; readonly message: string; readonly ms: number }
  | { readonly type: 'timeout'; readonly connected: boolean; readonly ms: number };

/** What the WebSocket step gave: a pong, an answer other than 101, an error, a close, or a timeout. */
export type WsOutcome =
  | { readonly type: 'pong'; readonly handshakeMs: number; readonly pongMs: number }
  | Exclude<HttpOutcome, { type: 'timeout' }>
  | { readonly type: 'timeout'; readonly connected: boolean; readonly opened: boolean; readonly ms: number }
  | { readonly type: 'closed'; readonly closeCode: number; readonly ms: number };

/** Where a step went: the host and port in the URL, and the step's time budget. */
export interface StepTarget {
  readonly url: URL;
  readonly timeoutMs: number;
}

interface Cause {
  readonly kind: CauseKind;
  readonly code?: string;
  readonly cause: string;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_NONAME', 'EAI_FAIL']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'EHOSTDOWN']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'HPE_INVALID_CONSTANT', 'HPE_INVALID_VERSION']);
// OpenSSL's verify codes and Node's own, for a certificate that does not check out.
const CERT_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT|DECODE)|ERR_TLS_CERT_ALTNAME_INVALID|INVALID_CA|PATH_LENGTH/;

function hostPort(url: URL): string {
  const port = url.port || (url.protocol === 'https:' || url.protocol === 'wss:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

/** Returns the likely cause of a failure before any HTTP answer: DNS, TLS, refused, unreachable, reset. */
export function causeOfError(code: string | undefined, message: string, target: StepTarget): Cause {
  const where = hostPort(target.url);
  if (code !== undefined && DNS_CODES.has(code)) {
    return {
      kind: 'dns',
      code,
      cause: `DNS: ${target.url.hostname} does not resolve (${code}); check the domain name (on Railway, the service's public domain is under Settings, Networking).`,
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      kind: 'refused',
      code,
      cause: `Connection refused at ${where}: nothing listens there; check the port in the URL and that the service is running.`,
    };
  }
  if (code !== undefined && CERT_CODE.test(code)) {
    return {
      kind: 'tls',
      code,
      cause: `TLS: the server's certificate was not accepted (${code}); for a private or self-signed certificate pass its CA with --ca <file>, or skip verification with --insecure.`,
    };
  }
  if (code !== undefined && (code === 'EPROTO' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return {
      kind: 'tls',
      code,
      cause: `TLS: the handshake with ${where} failed (${code}); the port may not speak TLS: try http:// instead of https://.`,
    };
  }
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return {
      kind: 'unreachable',
      code,
      cause: `${where} cannot be reached (${code}): a network or firewall problem between here and the service.`,
    };
  }
  if (code !== undefined && RESET_CODES.has(code)) {
    return {
      kind: 'reset',
      code,
      cause: `${where} closed the connection without an HTTP answer (${code}): the server dropped it, or it does not speak ${target.url.protocol === 'https:' || target.url.protocol === 'wss:' ? 'HTTPS' : 'HTTP'} on this port.`,
    };
  }
  return { kind: 'error', code, cause: `The request failed: ${message}${code ? ` (${code})` : ''}.` };
}

function causeOfTimeout(target: StepTarget, connected: boolean, waitingFor: string): Cause {
  const ms = target.timeoutMs;
  if (!connected) {
    return {
      kind: 'timeout',
      cause: `No connection to ${hostPort(target.url)} within ${ms} ms: the host drops packets (a firewall) or is overloaded; raise --timeout if it is only slow.`,
    };
  }
  return {
    kind: 'timeout',
    cause: `Connected, but ${waitingFor} within ${ms} ms: the server accepted the connection and then said nothing (a hung app, or not HTTP); raise --timeout if it is only slow.`,
  };
}

function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  return headers[name];
}

/** The platform edge's own error pages: Railway's 404 "Application not found" and 502 "Application failed to respond". */
function causeOfEdgePage(status: number, body: string): Cause | undefined {
  if (status === 404 && /application not found/i.test(body)) {
    return {
      kind: 'edge-not-found',
      cause: `Railway's edge answered 404 "Application not found": no running deployment serves this domain (not deployed yet, the deploy failed, the domain points at another port, or the service sleeps and is waking: retry in a few seconds).`,
    };
  }
  if (status === 502 && /application failed to respond/i.test(body)) {
    return {
      kind: 'edge-no-response',
      cause: `Railway's edge answered 502 "Application failed to respond": the deployment runs, but nothing answered on the port Railway sends to; make healthgate listen on $PORT (host :: or 0.0.0.0), and check the deploy's log.`,
    };
  }
  return undefined;
}

/** Returns healthgate's JSON health answer when `body` is one, else undefined. */
export function parseHealthgateBody(body: string): HealthgateBody | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const isHealthgate =
    (v.status === 'ok' || v.status === 'unavailable') &&
    (v.backend === 'up' || v.backend === 'down' || v.backend === 'unchecked') &&
    typeof v.draining === 'boolean' &&
    typeof v.uptimeSeconds === 'number' &&
    (v.reason === undefined || typeof v.reason === 'string');
  if (!isHealthgate) return undefined;
  return {
    status: v.status as HealthgateBody['status'],
    backend: v.backend as HealthgateBody['backend'],
    draining: v.draining as boolean,
    uptimeSeconds: v.uptimeSeconds as number,
    ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
  };
}

function causeOfHealthAnswer(
  target: StepTarget,
  outcome: HttpOutcome & { type: 'response' },
  healthgate: HealthgateBody | undefined,
): Cause {
  const { status } = outcome;
  const path = target.url.pathname;
  const edge = causeOfEdgePage(status, outcome.body);
  if (edge) return edge;
  if (healthgate?.draining || healthgate?.reason === 'draining') {
    return {
      kind: 'unavailable',
      cause: `healthgate answered ${status}: it is draining, so this instance is shutting down (a redeploy or a stop); the next deployment should take over.`,
    };
  }
  if (healthgate) {
    return {
      kind: 'unavailable',
      cause: `healthgate answered ${status} (${healthgate.reason ?? healthgate.status}): healthgate runs, but the app behind it does not pass the check; it is starting, or not listening on its internal port (the deploy's log says which).`,
    };
  }
  if (status === 426) {
    return {
      kind: 'upgrade-required',
      cause: `The app itself answered 426 Upgrade Required on ${path}: healthgate is not in front of it, or ${path} is not one of healthgate's health paths (--health-path).`,
    };
  }
  if (status >= 300 && status < 400) {
    return {
      kind: 'redirect',
      cause: `A redirect (${status}) to ${header(outcome.headers, 'location') ?? 'nowhere'}: healthgate check follows none; check the URL's scheme and host.`,
    };
  }
  return {
    kind: 'http-status',
    cause: `The health GET got ${status}, not 200, and not healthgate's answer: healthgate is not in front of the app, or ${path} is not one of its health paths (--health-path).`,
  };
}

/** Judges one health GET: 200 passes; anything else fails with its likely cause. */
export function judgeHealth(target: StepTarget, outcome: HttpOutcome): StepResult {
  const base = { step: 'health', url: target.url.href, ms: outcome.ms } as const;
  if (outcome.type === 'error') return { ...base, ok: false, ...causeOfError(outcome.code, outcome.message, target) };
  if (outcome.type === 'timeout') return { ...base, ok: false, ...causeOfTimeout(target, outcome.connected, 'no answer came') };
  const healthgate = parseHealthgateBody(outcome.body);
  const seen = { ...base, status: outcome.status, ...(healthgate ? { healthgate } : {}) };
  if (outcome.status === 200) return { ...seen, ok: true };
  return { ...seen, ok: false, ...causeOfHealthAnswer(target, outcome, healthgate) };
}

function causeOfUpgradeAnswer(target: StepTarget, outcome: HttpOutcome & { type: 'response' }): Cause {
  const { status } = outcome;
  const edge = causeOfEdgePage(status, outcome.body);
  if (edge) return edge;
  // healthgate's own 503 for a request it could not pass on (SPEC: Routing, rule 3).
  if (status === 503 && header(outcome.headers, 'retry-after') !== undefined && /unreachable/.test(outcome.body)) {
    return {
      kind: 'unavailable',
      cause: `healthgate answered 503 to the upgrade: it runs, but the app behind it did not accept the connection (starting, or not listening on its internal port).`,
    };
  }
  return {
    kind: 'no-upgrade',
    cause: `The WebSocket handshake on ${target.url.pathname} got ${status} instead of 101: what answered does not take WebSocket upgrades on this path; check --ws-path, and that the app serves WebSocket there.`,
  };
}

/** Judges the WebSocket step: a 101 and then a pong pass; anything else fails with its likely cause. */
export function judgeWebSocket(target: StepTarget, outcome: WsOutcome): StepResult {
  const base = { step: 'websocket', url: target.url.href } as const;
  switch (outcome.type) {
    case 'pong':
      return { ...base, ok: true, status: 101, ms: outcome.handshakeMs, pongMs: outcome.pongMs };
    case 'response':
      return { ...base, ok: false, status: outcome.status, ms: outcome.ms, ...causeOfUpgradeAnswer(target, outcome) };
    case 'error':
      return { ...base, ok: false, ms: outcome.ms, ...causeOfError(outcome.code, outcome.message, target) };
    case 'closed':
      return {
        ...base,
        ok: false,
        status: 101,
        ms: outcome.ms,
        kind: 'closed',
        cause: `The server closed the WebSocket (code ${outcome.closeCode}) before answering the ping: the app accepts the upgrade, then hangs up.`,
      };
    case 'timeout':
      if (!outcome.opened) return { ...base, ok: false, ms: outcome.ms, ...causeOfTimeout(target, outcome.connected, 'no 101 came') };
      return {
        ...base,
        ok: false,
        status: 101,
        ms: outcome.ms,
        kind: 'no-pong',
        cause: `The WebSocket opened, but no pong came back within ${target.timeoutMs} ms: every RFC 6455 server answers a ping, so the app or a proxy between is stuck.`,
      };
  }
}

/** A step that was not tried because an earlier one reached no server: the same cause would repeat. */
export function skippedStep(step: StepResult['step'], url: URL): StepResult {
  return { step, url: url.href, ok: false, kind: 'skipped', cause: 'not tried: an earlier step got no answer from the server' };
}

/** True when a failed step got no HTTP answer at all (DNS, TLS, refused, timeout), so later steps would fail the same way. */
export function isUnanswered(result: StepResult): boolean {
  return !result.ok && result.status === undefined;
}

function formatMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

function describeHealthgate(body: HealthgateBody): string {
  const fields = [`status=${body.status}`, `backend=${body.backend}`, `draining=${body.draining}`, `uptimeSeconds=${body.uptimeSeconds}`];
  if (body.reason !== undefined) fields.push(`reason=${JSON.stringify(body.reason)}`);
  return `healthgate: ${fields.join(' ')}`;
}

function describeStep(result: StepResult): string {
  if (result.kind === 'skipped') return result.cause ?? 'not tried';
  const parts = [result.status === undefined ? 'no answer' : String(result.status)];
  if (result.ms !== undefined) parts[0] += ` in ${formatMs(result.ms)}`;
  if (result.pongMs !== undefined) parts.push(`pong in ${formatMs(result.pongMs)}`);
  if (result.step === 'health' && result.status !== undefined) {
    parts.push(result.healthgate ? describeHealthgate(result.healthgate) : "not healthgate's answer");
  }
  return parts.join(', ');
}

/** Renders the report as text: one line per step (`ok`, `FAIL` or `skip`), each failure's cause indented below it. */
export function renderText(report: CheckReport): string {
  const lines: string[] = [];
  for (const result of report.steps) {
    const mark = result.ok ? 'ok  ' : result.kind === 'skipped' ? 'skip' : 'FAIL';
    const what = result.step === 'health' ? `GET ${result.url}` : `WebSocket ${result.url}`;
    lines.push(`${mark}  ${what}  ${describeStep(result)}`);
    if (!result.ok && result.cause !== undefined && result.kind !== 'skipped') lines.push(`      ${result.cause}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Renders the report as one JSON object on one line: `{ url, ok, steps: [{ step, url, ok, status?, ms?, … }] }`. */
export function renderJson(report: CheckReport): string {
  const steps = report.steps.map((s) => ({
    step: s.step,
    url: s.url,
    ok: s.ok,
    status: s.status,
    ms: s.ms,
    pongMs: s.pongMs,
    healthgate: s.healthgate,
    kind: s.kind,
    code: s.code,
    cause: s.cause,
  }));
  // Keys in reading order; JSON.stringify leaves out the undefined ones.
  return `${JSON.stringify({ url: report.url, ok: report.ok, steps })}\n`;
}
