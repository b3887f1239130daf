import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, spawnCli, type CliProcess } from '../helpers/child-cli';
import { DEBIAN_PYTHON, hasPythonWebsockets } from '../helpers/python';

const CHILD_APP = join(__dirname, '..', 'fixtures', 'child-app.js');
const PYTHON_APP = join(__dirname, '..', 'fixtures', 'echo.py');

const running: CliProcess[] = [];
let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'hg-entry-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((cli) => cli.stop()));
  rmSync(scratch, { recursive: true, force: true });
});

async function startEntrypoint(extraArgs: string[], env: Record<string, string> = {}, command = [process.execPath, CHILD_APP]) {
  const backendPort = await freePort();
  const cli = spawnCli(['--port', '0', '--host', '127.0.0.1', '--backend-port', String(backendPort), ...extraArgs, '--', ...command], env);
  running.push(cli);
  const port = await cli.port();
  return { cli, port, backendPort };
}

function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

async function waitForStatus(port: number, status: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await httpGet(port, '/health')).status !== status) {
    if (Date.now() > deadline) throw new Error(`readiness never became ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function echoOnce(port: number, message: string, path = '/'): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  await once(ws, 'open');
  ws.send(message);
  const [data] = await once(ws, 'message');
  ws.close();
  await once(ws, 'close');
  return String(data);
}

async function signalLog(path: string, expected: string, timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.includes(expected) || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('entrypoint mode', () => {
  it('gives the child PORT and each --child-port-env set to the backend port, the rest of the environment unchanged, and passes its stdout and stderr through', async () => {
    const { cli, backendPort } = await startEntrypoint(['--child-port-env', 'APP_PORT', '--child-port-env', 'WS_PORT'], {
      REPORT_ENV: 'PORT,APP_PORT,WS_PORT,SOME_SETTING',
      SOME_SETTING: 'kept as is',
    });
    const line = await cli.waitForLine((l) => l.includes('childEnv'));
    expect(JSON.parse(line).childEnv).toEqual({
      PORT: String(backendPort),
      APP_PORT: String(backendPort),
      WS_PORT: String(backendPort),
      SOME_SETTING: 'kept as is',
    });
    await cli.waitForLine(() => cli.stderr.includes('child stderr line'));
  });

  it('answers readiness 503 until the child listens, then 200; an upgrade meanwhile gets 503 with Retry-After, not a hang', async () => {
    const { cli, port } = await startEntrypoint([], { START_DELAY_MS: '1500' });
    const early = await httpGet(port, '/health');
    expect(early.status).toBe(503);
    // SPEC (Diagnostics): what was tried, and the port the app was given.
    expect(early.body).toMatch(/^unavailable: backend down \(tried 127\.0\.0\.1:\d+ ECONNREFUSED, .*; the app was given PORT=\d+\)\n$/);

    const upgrade = await new Promise<{ status: number; retryAfter: unknown }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
      ws.on('open', () => reject(new Error('upgrade passed before the child listened')));
      ws.on('error', () => undefined);
    });
    expect(upgrade).toEqual({ status: 503, retryAfter: '1' });

    await cli.waitForLine((l) => l === 'child listening');
    await waitForStatus(port, 200, 3000);
    expect(await echoOnce(port, 'after start')).toBe('after start');
  });

  const withPython = hasPythonWebsockets();
  (withPython ? it : it.skip)('fronts a pure Python websockets app (Debian python3-websockets): health answered, WebSocket echoed', async () => {
    const { cli, port } = await startEntrypoint([], {}, [DEBIAN_PYTHON, PYTHON_APP]);
    await waitForStatus(port, 200, 10_000);
    expect(await echoOnce(port, 'hello python')).toBe('hello python');
    // The app's own handshake path is any path, /health included: an upgrade is never a health check.
    expect(await echoOnce(port, 'on /health', '/health')).toBe('on /health');
    const health = await httpGet(port, '/', { Host: 'healthcheck.railway.app' });
    expect(health).toMatchObject({ status: 200, body: 'ok\n' });
    cli.kill('SIGTERM');
    // Python's websockets server stops cleanly on SIGTERM (its handler) and exits 0.
    expect(await cli.exit).toEqual({ code: 0, signal: null });
  });
  if (!withPython) {
    it('needs python3-websockets from Debian (installed by .ci/run)', () => {
      if (process.env.CI) throw new Error('python3-websockets missing: .ci/run should have installed it');
    });
  }
});

describe('signals', () => {
  it.each(['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const)('forwards %s to the child and keeps running', async (signal) => {
    const log = join(scratch, 'signals');
    const { cli, port } = await startEntrypoint([], { SIGNAL_LOG: log });
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill(signal);
    expect(await signalLog(log, `child ${signal}`)).toContain(`child ${signal}`);
    await waitForStatus(port, 200);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('forwards %s to the child, which exits, and exits with its code', async (signal) => {
    const log = join(scratch, 'signals');
    const { cli } = await startEntrypoint([], { SIGNAL_LOG: log, EXIT_CODE: '0' });
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill(signal);
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([`child ${signal}`]);
  });

  it('with --signal-group, forwarded signals reach a grandchild too', async () => {
    const log = join(scratch, 'signals');
    const { cli } = await startEntrypoint(['--signal-group'], { SIGNAL_LOG: log, GRANDCHILD: '1' });
    await signalLog(log, 'grandchild ready');
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill('SIGUSR1');
    expect(await signalLog(log, 'grandchild SIGUSR1')).toEqual(expect.arrayContaining(['child SIGUSR1', 'grandchild SIGUSR1']));
    cli.kill('SIGTERM');
    await cli.exit;
    expect(await signalLog(log, 'grandchild SIGTERM')).toContain('grandchild SIGTERM');
  });

  it('without --signal-group, a grandchild does not get the forwarded signal', async () => {
    const log = join(scratch, 'signals');
    const { cli } = await startEntrypoint([], { SIGNAL_LOG: log, GRANDCHILD: '1' });
    await signalLog(log, 'grandchild ready');
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill('SIGUSR2');
    await signalLog(log, 'child SIGUSR2');
    cli.kill('SIGTERM');
    await cli.exit;
    const lines = readFileSync(log, 'utf8');
    expect(lines).toContain('child SIGUSR2');
    expect(lines).not.toContain('grandchild SIGUSR2');
  });

  it('a terminal Ctrl-C (SIGINT to the foreground process group) reaches the child once, not twice', async () => {
    const log = join(scratch, 'signals');
    const backendPort = await freePort();
    const cli = spawnCli(['--port', '0', '--host', '127.0.0.1', '-b', String(backendPort), '--', process.execPath, CHILD_APP], { SIGNAL_LOG: log }, { detached: true });
    running.push(cli);
    await cli.port();
    await cli.waitForLine((l) => l === 'child listening');
    // healthgate leads its own group here, as a shell's foreground job would: the terminal signals the group.
    process.kill(-cli.proc.pid!, 'SIGINT');
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['child SIGINT']);
  });
});

describe('exit codes', () => {
  it.each([
    ['0', 0],
    ['3', 3],
    ['KILL', 137],
  ])('a child exiting by itself with %s makes healthgate exit %i, its listener closed first', async (exitWith, expected) => {
    const { cli, port } = await startEntrypoint([], { EXIT_AFTER_MS: '700', EXIT_WITH: exitWith });
    const exit = await cli.exit;
    // The listener closes (the 'draining' line follows stopAccepting) before healthgate exits.
    const order = cli.logs.map((l) => l.message).filter((m) => ['child exited', 'draining', 'exiting'].includes(m as string));
    expect(order).toEqual(['child exited', 'draining', 'exiting']);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    expect(exit).toEqual({ code: expected, signal: null });
  });

  it('a command that is not found: one line on stderr, exit 127', async () => {
    const backendPort = await freePort();
    const cli = spawnCli(['--port', '0', '-b', String(backendPort), '--', 'no-such-command-hg']);
    running.push(cli);
    expect(await cli.exit).toEqual({ code: 127, signal: null });
    expect(cli.stderr).toEqual(['healthgate: no-such-command-hg: command not found']);
  });

  it('a command that is not executable: one line on stderr, exit 126', async () => {
    const script = join(scratch, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n');
    chmodSync(script, 0o644);
    const backendPort = await freePort();
    const cli = spawnCli(['--port', '0', '-b', String(backendPort), '--', script]);
    running.push(cli);
    expect(await cli.exit).toEqual({ code: 126, signal: null });
    expect(cli.stderr).toHaveLength(1);
    expect(cli.stderr[0]).toMatch(/^healthgate: .*not-executable\.sh: cannot execute/);
  });
});
