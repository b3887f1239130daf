import { once } from 'node:events';
import { connect, createServer, Server, type Socket } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, spawnCli, type CliProcess } from '../helpers/child-cli';

const CHILD_APP = join(__dirname, '..', 'fixtures', 'child-app.js');

const running: CliProcess[] = [];
const sockets: Array<Socket | WebSocket | Server> = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) {
    if (s instanceof WebSocket) s.terminate();
    else if (s instanceof Server) s.close();
    else s.destroy();
  }
  await Promise.all(running.splice(0).map((cli) => cli.stop()));
});

async function startWithChild(args: string[], env: Record<string, string> = {}) {
  const backendPort = await freePort();
  const cli = spawnCli(['--port', '0', '--host', '127.0.0.1', '-b', String(backendPort), ...args, '--', process.execPath, CHILD_APP], env);
  running.push(cli);
  const port = await cli.port();
  await cli.waitForLine((l) => l === 'child listening');
  return { cli, port };
}

/** A raw client that records what it receives and when it closes. */
async function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let data = '';
  socket.on('data', (chunk) => (data += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => undefined);
  await once(socket, 'connect');
  return { socket, received: () => data, closed };
}

async function openWebSocket(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  sockets.push(ws);
  await once(ws, 'open');
  return ws;
}

async function echo(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = await once(ws, 'message');
  return String(data);
}

async function untilReceived(client: { received: () => string }, marker: string): Promise<void> {
  while (!client.received().includes(marker)) await new Promise((r) => setTimeout(r, 10));
}

function connectOutcome(port: number): Promise<'refused' | 'accepted'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.on('error', () => resolve('refused'));
  });
}

describe('drain on SIGTERM', () => {
  it('closes idle and still-sniffing connections at once, refuses new ones, lets an open WebSocket echo until the drain timeout, then SIGKILLs a child that ignores SIGTERM (exit 137)', async () => {
    const { cli, port } = await startWithChild(['--drain-timeout', '2500'], { IGNORE_TERM: '1' });
    const ws = await openWebSocket(port);
    expect(await echo(ws, 'before')).toBe('before');
    const idle = await rawClient(port);
    idle.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await untilReceived(idle, 'ok\n');
    const sniffing = await rawClient(port);
    sniffing.socket.write('GET /hea');

    const signalledAt = Date.now();
    cli.kill('SIGTERM');
    await cli.waitForLog('draining');
    await Promise.all([idle.closed, sniffing.closed]);
    const closedAfterMs = Date.now() - signalledAt;
    expect(closedAfterMs).toBeLessThan(1000);
    expect(sniffing.received()).toBe('');
    expect(await connectOutcome(port)).toBe('refused');

    // The tunnel is untouched: the app still echoes, a second into the drain.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await echo(ws, 'during drain')).toBe('during drain');

    const exit = await cli.exit;
    const exitedAfterMs = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 137, signal: null });
    expect(exitedAfterMs).toBeGreaterThanOrEqual(2400);
    expect(exitedAfterMs).toBeLessThan(5000);
    expect(cli.logs.some((l) => l.message === 'child did not exit in time: SIGKILL')).toBe(true);
  });

  it('exits as soon as the tunnels and the child are done, before the drain timeout', async () => {
    const { cli, port } = await startWithChild(['--drain-timeout', '10000'], { EXIT_CODE: '0' });
    const ws = await openWebSocket(port);
    expect(await echo(ws, 'x')).toBe('x');
    const signalledAt = Date.now();
    cli.kill('SIGTERM');
    // The child exits on SIGTERM, which ends the WebSocket from the app's side.
    await once(ws, 'close');
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(3000);
  });

  it('with --shutdown-delay: readiness is 503 also on an open keep-alive connection, new connections are accepted during the delay, refused after it', async () => {
    const { cli, port } = await startWithChild(['--shutdown-delay', '1500', '--drain-timeout', '1000', '--live-path', '/live'], { IGNORE_TERM: '1' });
    const keepAlive = await rawClient(port);
    keepAlive.socket.write('GET /health HTTP/1.1\r\n\r\n');
    await untilReceived(keepAlive, 'ok\n');

    cli.kill('SIGTERM');
    await cli.waitForLog('shutdown delay');
    keepAlive.socket.write('GET /health HTTP/1.1\r\n\r\n');
    await untilReceived(keepAlive, 'unavailable: draining\n');
    expect(keepAlive.received()).toContain('HTTP/1.1 503 Service Unavailable');

    const during = await rawClient(port);
    during.socket.write('GET /health HTTP/1.1\r\nConnection: close\r\n\r\nGET /live HTTP/1.1\r\n\r\n');
    await during.closed;
    expect(during.received()).toContain('unavailable: draining');

    const live = await rawClient(port);
    live.socket.write('GET /live HTTP/1.1\r\nConnection: close\r\n\r\n');
    await live.closed;
    expect(live.received()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nok\n$/);

    await cli.waitForLog('draining', 5000);
    await keepAlive.closed;
    expect(await connectOutcome(port)).toBe('refused');
    expect(await cli.exit).toEqual({ code: 137, signal: null });
  });

  it('a second SIGTERM ends the delay and the wait at once', async () => {
    const { cli } = await startWithChild(['--shutdown-delay', '20000', '--drain-timeout', '20000'], { IGNORE_TERM: '1' });
    cli.kill('SIGTERM');
    await cli.waitForLog('shutdown delay');
    const secondAt = Date.now();
    cli.kill('SIGTERM');
    expect(await cli.exit).toEqual({ code: 137, signal: null });
    expect(Date.now() - secondAt).toBeLessThan(2000);
  });

  it('takes its default drain budget from RAILWAY_DEPLOYMENT_DRAINING_SECONDS (seconds×1000 − 500)', async () => {
    const { cli } = await startWithChild([], { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '3', EXIT_CODE: '0' });
    cli.kill('SIGTERM');
    const draining = await cli.waitForLog('draining');
    expect(draining.drainTimeoutMs).toBe(2500);
    expect(await cli.exit).toEqual({ code: 0, signal: null });
  });

  it('without a child, exits 0 after the drain', async () => {
    const backend = createServer({ allowHalfOpen: true }, (s) => s.on('error', () => undefined));
    sockets.push(backend);
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    const backendPort = (backend.address() as { port: number }).port;
    const cli = spawnCli(['--port', '0', '--host', '127.0.0.1', '-b', String(backendPort)]);
    running.push(cli);
    await cli.port();
    cli.kill('SIGTERM');
    expect(await cli.exit).toEqual({ code: 0, signal: null });
  });
});

describe('half-close', () => {
  it('closes a tunnel whose client sent FIN while the backend stays silent, after --half-close-timeout', async () => {
    const backend = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined);
      // Reads, never writes, never closes.
      s.resume();
    });
    sockets.push(backend);
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    const backendPort = (backend.address() as { port: number }).port;
    const cli = spawnCli(['--port', '0', '--host', '127.0.0.1', '-b', String(backendPort), '--half-close-timeout', '600']);
    running.push(cli);
    const port = await cli.port();
    const client = await rawClient(port);
    client.socket.end('HELLO backend\n');
    const endedAt = Date.now();
    await client.closed;
    const closedAfterMs = Date.now() - endedAt;
    expect(closedAfterMs).toBeGreaterThanOrEqual(500);
    expect(closedAfterMs).toBeLessThan(3000);
  });
});
