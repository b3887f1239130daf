import { once } from 'node:events';
import { join } from 'node:path';
import { SilentBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { startCli, loopbackArgs } from '../helpers/cli';
import { RawClient, connectOutcome, freePort } from '../helpers/raw';
import { echo, openWebSocket } from '../helpers/ws-client';

// Drain on SIGTERM, at the process level: signals, the child, the listener and the exit code.
// How one connection half-closes is connection.test.ts's business (in-process).

const CHILD_APP = join(__dirname, '..', 'fixtures', 'child-app.js');

afterEach(drainCleanup);

async function startWithChild(args: string[], env: Record<string, string> = {}) {
  const backendPort = await freePort();
  const cli = await startCli([...loopbackArgs(backendPort), ...args, '--', process.execPath, CHILD_APP], { env });
  await cli.waitForLine((l) => l === 'child listening');
  return { cli, port: cli.port };
}

async function echoText(ws: Awaited<ReturnType<typeof openWebSocket>>, text: string): Promise<string> {
  return (await echo(ws, text, false)).data.toString('utf8');
}

describe('drain on SIGTERM', () => {
  it('closes idle and still-sniffing connections at once, refuses new ones, lets an open WebSocket echo until the drain timeout, then SIGKILLs a child that ignores SIGTERM (exit 137)', async () => {
    const { cli, port } = await startWithChild(['--drain-timeout', '2500'], { IGNORE_TERM: '1' });
    const ws = await openWebSocket(`ws://127.0.0.1:${port}/`);
    expect(await echoText(ws, 'before')).toBe('before');
    const idle = await RawClient.connect(port);
    await idle.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.waitFor('the health answer', (b) => b.toString('latin1').endsWith('ok\n'));
    const sniffing = await RawClient.connect(port);
    await sniffing.write('GET /hea');

    const signalledAt = Date.now();
    cli.kill('SIGTERM');
    await cli.waitForLog('draining');
    await Promise.all([idle.closed, sniffing.closed]);
    const closedAfterMs = Date.now() - signalledAt;
    // "At once": ~20 ms on a quiet machine. The alternative ruled out is a close at the 2500 ms
    // drain deadline, so the bound stays under it: 2000 ms is 100× the quiet figure.
    expect(closedAfterMs).toBeLessThan(2000);
    expect(sniffing.received.toString('latin1')).toBe('');
    expect(await connectOutcome(port)).toBe('refused');

    // The scenario, not a synchronisation: a second into the drain, the tunnel still echoes.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await echoText(ws, 'during drain')).toBe('during drain');

    const exit = await cli.exited;
    const exitedAfterMs = Date.now() - signalledAt;
    await cli.closed;
    expect(exit).toEqual({ code: 137, signal: null });
    expect(exitedAfterMs).toBeGreaterThanOrEqual(2400);
    // The 2500 ms deadline, then SIGKILL and exit (~100 ms quiet): 2.5 s of slack is 25× that,
    // and still tells "at the deadline" from "at the next timer" (nothing else fires before 10 s).
    expect(exitedAfterMs).toBeLessThan(5000);
    expect(cli.logs.some((l) => l.message === 'child did not exit in time: SIGKILL')).toBe(true);
  });

  it('exits as soon as the tunnels and the child are done, before the drain timeout', async () => {
    const { cli, port } = await startWithChild(['--drain-timeout', '10000'], { EXIT_CODE: '0' });
    const ws = await openWebSocket(`ws://127.0.0.1:${port}/`);
    expect(await echoText(ws, 'x')).toBe('x');
    const signalledAt = Date.now();
    cli.kill('SIGTERM');
    // The child exits on SIGTERM, which ends the WebSocket from the app's side.
    await once(ws, 'close');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    // ~200 ms on a quiet machine (the child's exit, then ours); 5 s is 25× that and half the
    // 10 s drain timeout that a healthgate waiting for nothing would sit out.
    expect(Date.now() - signalledAt).toBeLessThan(5000);
  });

  it('with --shutdown-delay: readiness is 503 also on an open keep-alive connection, new connections are accepted during the delay, refused after it', async () => {
    const { cli, port } = await startWithChild(['--shutdown-delay', '1500', '--drain-timeout', '1000', '--live-path', '/live'], {
      IGNORE_TERM: '1',
    });
    const keepAlive = await RawClient.connect(port);
    await keepAlive.write('GET /health HTTP/1.1\r\n\r\n');
    await keepAlive.waitFor('the first answer', (b) => b.toString('latin1').endsWith('ok\n'));

    cli.kill('SIGTERM');
    await cli.waitForLog('shutdown delay');
    await keepAlive.write('GET /health HTTP/1.1\r\n\r\n');
    await keepAlive.waitFor('the 503', (b) => b.toString('latin1').endsWith('unavailable: draining\n'));
    expect(keepAlive.received.toString('latin1')).toContain('HTTP/1.1 503 Service Unavailable');

    const during = await RawClient.connect(port);
    await during.write('GET /health HTTP/1.1\r\nConnection: close\r\n\r\nGET /live HTTP/1.1\r\n\r\n');
    expect((await during.readToClose()).toString('latin1')).toContain('unavailable: draining');

    const live = await RawClient.connect(port);
    await live.write('GET /live HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect((await live.readToClose()).toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nok\n$/);

    await cli.waitForLog('draining');
    await keepAlive.closed;
    expect(await connectOutcome(port)).toBe('refused');
    expect(await cli.exited).toEqual({ code: 137, signal: null });
  });

  it('a second SIGTERM ends the delay and the wait at once', async () => {
    const { cli } = await startWithChild(['--shutdown-delay', '20000', '--drain-timeout', '20000'], { IGNORE_TERM: '1' });
    cli.kill('SIGTERM');
    await cli.waitForLog('shutdown delay');
    const secondAt = Date.now();
    cli.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 137, signal: null });
    // ~100 ms on a quiet machine (SIGKILL the child, exit); 5 s is 50× that and a quarter of
    // the 20 s delay and drain budget that a second SIGTERM must cut short.
    expect(Date.now() - secondAt).toBeLessThan(5000);
  });

  it('takes its default drain budget from RAILWAY_DEPLOYMENT_DRAINING_SECONDS (seconds×1000 − 500)', async () => {
    const { cli } = await startWithChild([], { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '3', EXIT_CODE: '0' });
    cli.kill('SIGTERM');
    const draining = await cli.waitForLog('draining');
    expect(draining.drainTimeoutMs).toBe(2500);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  it('without a child, exits 0 after the drain', async () => {
    const backend = await SilentBackend.start();
    const cli = await startCli(loopbackArgs(backend.port));
    cli.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });
});
