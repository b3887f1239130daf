import { STATUS_CODES } from 'node:http';
import type { RequestHead } from './sniff';

/** What readiness knows about the backend: `unchecked` only with `--health-check none`. */
export type BackendState = 'up' | 'down' | 'unchecked';

/** The facts a health answer reports. */
export interface HealthStatus {
  readonly kind: 'readiness' | 'liveness';
  readonly ok: boolean;
  /** Why readiness fails: 'backend down', 'backend timeout', 'no handshake', 'draining'. */
  readonly reason?: string;
  readonly backend: BackendState;
  readonly draining: boolean;
  readonly uptimeSeconds: number;
  /** SPEC (Diagnostics): what a failed connect tried, each address and its error code. */
  readonly tried?: readonly string[];
  /** In entrypoint mode, the port the app was given in PORT. */
  readonly appPort?: number;
}

/** Returns the bytes of a health answer: 200 `ok` or 503 `unavailable: <reason>`, as text or JSON (SPEC: Health answers). */
export function renderHealth(head: RequestHead, status: HealthStatus): Buffer {
  const code = status.ok ? 200 : 503;
  if (!head.wantsJson) return renderTextHealth(code, head, status.ok ? 'ok\n' : `unavailable: ${whyText(status)}\n`);
  const body = JSON.stringify({
    status: status.ok ? 'ok' : 'unavailable',
    backend: status.backend,
    draining: status.draining,
    uptimeSeconds: Math.round(status.uptimeSeconds * 10) / 10,
    ...(status.ok ? {} : { reason: status.reason ?? 'unavailable' }),
    ...(!status.ok && status.tried !== undefined ? { tried: status.tried } : {}),
    ...(!status.ok && status.appPort !== undefined ? { appPort: status.appPort } : {}),
  });
  return renderResponse(code, head, 'application/json', Buffer.from(body, 'utf8'));
}

/** `backend down (tried 127.0.0.1:8081 ECONNREFUSED, [::1]:8081 ECONNREFUSED; the app was given PORT=8081)`. */
function whyText(status: HealthStatus): string {
  const details = [
    ...(status.tried ? [`tried ${status.tried.join(', ')}`] : []),
    ...(status.appPort !== undefined ? [`the app was given PORT=${status.appPort}`] : []),
  ];
  const reason = status.reason ?? 'unavailable';
  return details.length > 0 ? `${reason} (${details.join('; ')})` : reason;
}

// Text answers are few: two codes × HEAD or GET × keep-alive or not × a fixed set of reasons. Each
// is rendered once, since platforms check often and open a new connection for each check.
const TEXT_ANSWERS = new Map<string, Buffer>();

function renderTextHealth(code: number, head: RequestHead, body: string): Buffer {
  const key = `${code}|${head.method}|${head.keepAlive ? 1 : 0}|${body}`;
  let bytes = TEXT_ANSWERS.get(key);
  if (!bytes) {
    bytes = renderResponse(code, head, 'text/plain; charset=utf-8', Buffer.from(body, 'utf8'));
    TEXT_ANSWERS.set(key, bytes);
  }
  return bytes;
}

/** Returns the bytes of an answer to a local request, keeping the connection open when the request allows. */
export function renderResponse(
  code: number,
  head: RequestHead,
  contentType: string,
  body: Buffer,
  extraHeaders: readonly string[] = [],
): Buffer {
  const lines = [
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Unknown'}`,
    `Content-Type: ${contentType}`,
    `Content-Length: ${body.length}`,
    'Cache-Control: no-store',
    ...extraHeaders,
    head.keepAlive ? 'Connection: keep-alive' : 'Connection: close',
    '',
    '',
  ];
  const headBytes = Buffer.from(lines.join('\r\n'), 'latin1');
  // SPEC: HEAD gets the headers alone, with the Content-Length of the body it would have had.
  return head.method === 'HEAD' ? headBytes : Buffer.concat([headBytes, body]);
}

/** Returns the bytes of an error answer that ends the connection: status line, Content-Length, Connection: close. */
export function renderError(code: number, reason: string, extraHeaders: readonly string[] = []): Buffer {
  const body = `${code} ${STATUS_CODES[code] ?? 'Error'}: ${reason}\n`;
  const lines = [
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Error'}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    ...extraHeaders,
    'Connection: close',
    '',
    body,
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
