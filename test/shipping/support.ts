import { request } from 'node:http';
import { WebSocket } from 'ws';
import { once } from 'node:events';
import { defer, drainCleanup } from '../helpers/cleanup';
import { pollUntil } from '../helpers/wait';
import { echo, openWebSocket } from '../helpers/ws-client';

/** The repository's root folder. */
export const ROOT = `${__dirname}/../..`;

// Plumbing for the shipping tests that the other suites do not need: one-shot HTTP GETs against
// what a deploy would run. Processes, backends and clients come from test/helpers, as everywhere.

afterEach(drainCleanup);

/** One GET on a fresh connection: status and body. */
export function httpGet(port: number, path: string, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, headers: { Connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls GET `path` until it answers `status` (readiness turns 200 once the backend is up). */
export async function waitForStatus(port: number, path: string, status: number, timeoutMs = 10_000): Promise<void> {
  let last = 'no answer';
  await pollUntil(
    `GET ${path} to answer ${status} (last: ${last})`,
    async () => {
      const answer = await httpGet(port, path).catch((err: unknown) => ({ status: 0, body: String(err) }));
      last = `${answer.status} ${answer.body.trim()}`;
      return answer.status === status ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Opens a WebSocket through `port`, sends one text and one binary message, returns both echoes. */
export async function wsRoundTrip(port: number, path = '/'): Promise<{ text: string; binary: Buffer }> {
  const ws = await openWebSocket(`ws://127.0.0.1:${port}${path}`);
  const text = await echo(ws, 'hello through healthgate', false);
  const binary = await echo(ws, Buffer.from([0, 1, 2, 253, 254, 255]), true);
  ws.close();
  if (ws.readyState !== WebSocket.CLOSED) await new Promise((resolve) => ws.once('close', resolve));
  return { text: text.data.toString('utf8'), binary: binary.data };
}

/** Opens a WebSocket through `port` with extra handshake headers; resolves with the first message the app sends. */
export async function wsFirstMessage(port: number, headers: Record<string, string> = {}): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers });
  defer(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  const [data] = (await once(ws, 'message')) as [Buffer];
  ws.close();
  await once(ws, 'close');
  return data.toString('utf8');
}
