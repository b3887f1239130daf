import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type WebSocket from 'ws';
import { defer, drainCleanup } from '../helpers/cleanup';
import { startCli, loopbackArgs } from '../helpers/cli';
import { onlyResponse, requestHead } from '../helpers/http';
import { freePort, rawRequest } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';
import { openWebSocket } from '../helpers/ws-client';

// The backend is SIGKILLed while WebSocket clients stream through healthgate: every client sees
// its connection close, healthgate keeps serving, readiness turns 503 and then 200 again once the
// backend is back on its port.

afterEach(drainCleanup);

const CHILD_APP = join(__dirname, '..', 'fixtures', 'child-app.js');
const CLIENTS = 20;

/** The fixture app (an HTTP + WebSocket echo) as a plain process on `port`, not healthgate's child. */
async function startApp(port: number): Promise<ChildProcess> {
  const app = spawn(process.execPath, [CHILD_APP], {
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = once(app, 'exit');
  defer(async () => {
    if (app.exitCode !== null || app.signalCode !== null) return;
    app.kill('SIGKILL');
    await exited;
  });
  const lines = createInterface({ input: app.stdout });
  await within(
    new Promise<void>((resolve) => lines.on('line', (line) => line === 'child listening' && resolve())),
    10_000,
    'the app to listen',
  );
  return app;
}

/** Sends a message, waits for its echo, again, until the socket closes; resolves with the echoes and the close code. */
function stream(ws: WebSocket, id: number): { echoes: () => number; closed: Promise<number> } {
  let count = 0;
  let expected = '';
  const next = (): void => {
    expected = `client ${id} message ${count} ${'x'.repeat(count % 997)}`;
    ws.send(expected);
  };
  ws.on('message', (data: Buffer) => {
    // Byte-exact echo or the test fails (an exception here would be lost: record it instead).
    if (data.toString() !== expected) ws.emit('mismatch', data.toString());
    count++;
    next();
  });
  const closed = new Promise<number>((resolve, reject) => {
    ws.once('mismatch', (got: string) =>
      reject(new Error(`client ${id}: echo ${JSON.stringify(got.slice(0, 60))} instead of ${JSON.stringify(expected.slice(0, 60))}`)),
    );
    ws.once('close', (code: number) => resolve(code));
  });
  next();
  return { echoes: () => count, closed };
}

async function healthStatus(port: number): Promise<number> {
  return onlyResponse(await rawRequest(port, requestHead('GET /health HTTP/1.1', ['Connection: close']))).status;
}

it(`the backend is killed under ${CLIENTS} streaming WebSockets: they close, healthgate serves on, readiness 503 then 200 when the backend is back`, async () => {
  const backendPort = await freePort();
  const app = await startApp(backendPort);
  const cli = await startCli([...loopbackArgs(backendPort), '--backend-host', '127.0.0.1']);
  expect(await healthStatus(cli.port)).toBe(200);

  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => openWebSocket(`ws://127.0.0.1:${cli.port}/`)));
  const streams = clients.map((ws, i) => stream(ws, i));
  await pollUntil('every client to have 20 echoes', () => (streams.every((s) => s.echoes() >= 20) ? true : undefined), {
    timeoutMs: 10_000,
  });

  const killedAt = Date.now();
  app.kill('SIGKILL');
  const codes = await within(Promise.all(streams.map((s) => s.closed)), 5000, 'every client to see its connection close');
  const closedAfterMs = Date.now() - killedAt;
  // 1006: the TCP connection ended without a close frame, as the app died; nobody hangs.
  expect(new Set(codes)).toEqual(new Set([1006]));

  // healthgate serves on: readiness turns 503 once its 1 s cache has run out.
  await pollUntil('readiness 503', async () => ((await healthStatus(cli.port)) === 503 ? true : undefined), { timeoutMs: 3000 });
  const readiness503AfterMs = Date.now() - killedAt;
  // A WebSocket upgrade meanwhile gets 503 with Retry-After (SPEC 3), not a hang or a reset.
  const upgrade = onlyResponse(
    await rawRequest(
      cli.port,
      requestHead('GET /ws HTTP/1.1', [
        'Host: x',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
      ]),
    ),
  );
  expect(upgrade.status).toBe(503);
  expect(upgrade.headers['retry-after']).toBe('1');

  const restartedAt = Date.now();
  // Registered for cleanup by startApp; nothing else needs its handle.
  await startApp(backendPort);
  await pollUntil('readiness 200', async () => ((await healthStatus(cli.port)) === 200 ? true : undefined), { timeoutMs: 3000 });
  const readiness200AfterMs = Date.now() - restartedAt;
  const again = await openWebSocket(`ws://127.0.0.1:${cli.port}/`);
  const replay = stream(again, 99);
  await pollUntil('echoes after the restart', () => (replay.echoes() >= 10 ? true : undefined));
  expect(cli.child.exitCode).toBeNull();
  console.log(
    `backend killed: ${CLIENTS} clients, ${streams.reduce((n, s) => n + s.echoes(), 0)} echoes before the kill; ` +
      `all closed ${closedAfterMs} ms after it; readiness 503 after ${readiness503AfterMs} ms, 200 ${readiness200AfterMs} ms after the restart`,
  );
});
