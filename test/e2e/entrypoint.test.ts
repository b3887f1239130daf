import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defer, drainCleanup } from '../helpers/cleanup';
import { spawnCli, startCli, type CliOptions } from '../helpers/cli';
import { onlyResponse, requestHead, type ParsedResponse } from '../helpers/http';
import { DEBIAN_PYTHON, hasPythonWebsockets } from '../helpers/python';
import { connectOutcome, freePort, rawRequest } from '../helpers/raw';
import { pollUntil } from '../helpers/wait';
import { echo, openWebSocket } from '../helpers/ws-client';
import { upgradeRequest } from '../helpers/ws-frames';

const CHILD_APP = join(__dirname, '..', 'fixtures', 'child-app.js');
const PYTHON_APP = join(__dirname, '..', 'fixtures', 'echo.py');

afterEach(drainCleanup);

/** A scratch folder for this test, removed when it ends. */
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-entry-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startEntrypoint(
  extraArgs: string[],
  env: Record<string, string> = {},
  command = [process.execPath, CHILD_APP],
  options: CliOptions = {},
) {
  const backendPort = await freePort();
  const cli = await startCli(
    ['--port', '0', '--host', '127.0.0.1', '--backend-port', String(backendPort), ...extraArgs, '--', ...command],
    { env, ...options },
  );
  return { cli, port: cli.port, backendPort };
}

/** One GET on a connection of its own (Connection: close), parsed. */
async function get(port: number, path: string, headers: readonly string[] = ['Host: x']): Promise<ParsedResponse> {
  return onlyResponse(await rawRequest(port, requestHead(`GET ${path} HTTP/1.1`, [...headers, 'Connection: close'])));
}

/** Polls readiness until it answers `status` (a state with no event of its own: the app starting). */
async function waitForStatus(port: number, status: number, timeoutMs = 10_000): Promise<void> {
  await pollUntil(`readiness ${status}`, async () => ((await get(port, '/health')).status === status ? true : undefined), {
    timeoutMs,
    intervalMs: 50,
  });
}

/** Opens a WebSocket on `path`, echoes one text message, closes. */
async function echoOnce(port: number, message: string, path = '/'): Promise<string> {
  const ws = await openWebSocket(`ws://127.0.0.1:${port}${path}`);
  const reply = await echo(ws, message, false);
  ws.close();
  return reply.data.toString('utf8');
}

/** The lines of the child's signal log once `expected` is among them (the app writes it from its handler). */
async function signalLog(path: string, expected: string): Promise<string[]> {
  return pollUntil(`"${expected}" in the signal log`, () => {
    const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
    return lines.includes(expected) ? lines : undefined;
  });
}

describe('entrypoint mode', () => {
  it('gives the child PORT and each --child-port-env set to the backend port, the rest of the environment unchanged, and passes its stdout and stderr through', async () => {
    const { cli, backendPort } = await startEntrypoint(['--child-port-env', 'APP_PORT', '--child-port-env', 'WS_PORT'], {
      REPORT_ENV: 'PORT,APP_PORT,WS_PORT,SOME_SETTING',
      SOME_SETTING: 'kept as is',
    });
    const line = await cli.waitForLine((l) => l.includes('childEnv'));
    expect((JSON.parse(line) as { childEnv: unknown }).childEnv).toEqual({
      PORT: String(backendPort),
      APP_PORT: String(backendPort),
      WS_PORT: String(backendPort),
      SOME_SETTING: 'kept as is',
    });
    await cli.until("the child's stderr line", () => (cli.stderrLines.includes('child stderr line') ? true : undefined));
  });

  it('answers readiness 503 until the child listens, then 200; an upgrade meanwhile gets 503 with Retry-After, not a hang', async () => {
    const listenWhen = join(scratchDir(), 'listen');
    const { cli, port } = await startEntrypoint([], { LISTEN_WHEN: listenWhen });
    const early = await get(port, '/health');
    expect(early.status).toBe(503);
    // SPEC (Diagnostics): what was tried, and the port the app was given.
    expect(early.body.toString('utf8')).toMatch(
      /^unavailable: backend down \(tried 127\.0\.0\.1:\d+ ECONNREFUSED, .*; the app was given PORT=\d+\)\n$/,
    );

    const upgrade = onlyResponse(await rawRequest(port, upgradeRequest('/', 'x').head));
    expect({ status: upgrade.status, retryAfter: upgrade.headers['retry-after'] }).toEqual({ status: 503, retryAfter: '1' });

    writeFileSync(listenWhen, '');
    await cli.waitForLine((l) => l === 'child listening');
    await waitForStatus(port, 200, 3000);
    expect(await echoOnce(port, 'after start')).toBe('after start');
  });

  it('fronts a pure Python websockets app (Debian python3-websockets): health answered, WebSocket echoed', async () => {
    // Not skipped when missing: .ci/run installs it, and a skipped case would hide a broken setup.
    if (!hasPythonWebsockets()) throw new Error(`${DEBIAN_PYTHON} lacks websockets: apt-get install python3-websockets (.ci/run does)`);
    const { cli, port } = await startEntrypoint([], {}, [DEBIAN_PYTHON, PYTHON_APP]);
    await waitForStatus(port, 200, 10_000);
    expect(await echoOnce(port, 'hello python')).toBe('hello python');
    // The app's own handshake path is any path, /health included: an upgrade is never a health check.
    expect(await echoOnce(port, 'on /health', '/health')).toBe('on /health');
    const health = await get(port, '/', ['Host: healthcheck.railway.app']);
    expect({ status: health.status, body: health.body.toString('utf8') }).toEqual({ status: 200, body: 'ok\n' });
    cli.kill('SIGTERM');
    // Python's websockets server stops cleanly on SIGTERM (its handler) and exits 0.
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });
});

describe('signals', () => {
  it.each(['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const)('forwards %s to the child and keeps running', async (signal) => {
    const log = join(scratchDir(), 'signals');
    const { cli, port } = await startEntrypoint([], { SIGNAL_LOG: log });
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill(signal);
    expect(await signalLog(log, `child ${signal}`)).toContain(`child ${signal}`);
    await waitForStatus(port, 200);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('forwards %s to the child, which exits, and exits with its code', async (signal) => {
    const log = join(scratchDir(), 'signals');
    const { cli } = await startEntrypoint([], { SIGNAL_LOG: log, EXIT_CODE: '0' });
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill(signal);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([`child ${signal}`]);
  });

  it('with --signal-group, forwarded signals reach a grandchild too', async () => {
    const log = join(scratchDir(), 'signals');
    const { cli } = await startEntrypoint(['--signal-group'], { SIGNAL_LOG: log, GRANDCHILD: '1' });
    await signalLog(log, 'grandchild ready');
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill('SIGUSR1');
    expect(await signalLog(log, 'grandchild SIGUSR1')).toEqual(expect.arrayContaining(['child SIGUSR1', 'grandchild SIGUSR1']));
    cli.kill('SIGTERM');
    await cli.exited;
    expect(await signalLog(log, 'grandchild SIGTERM')).toContain('grandchild SIGTERM');
  });

  it('without --signal-group, a grandchild does not get the forwarded signal', async () => {
    const log = join(scratchDir(), 'signals');
    const { cli } = await startEntrypoint([], { SIGNAL_LOG: log, GRANDCHILD: '1' });
    await signalLog(log, 'grandchild ready');
    await cli.waitForLine((l) => l === 'child listening');
    cli.kill('SIGUSR2');
    await signalLog(log, 'child SIGUSR2');
    cli.kill('SIGTERM');
    await cli.exited;
    const lines = readFileSync(log, 'utf8');
    expect(lines).toContain('child SIGUSR2');
    expect(lines).not.toContain('grandchild SIGUSR2');
  });

  it('a terminal Ctrl-C (SIGINT to the foreground process group) reaches the child once, not twice', async () => {
    const log = join(scratchDir(), 'signals');
    const { cli } = await startEntrypoint([], { SIGNAL_LOG: log }, undefined, { detached: true });
    await cli.waitForLine((l) => l === 'child listening');
    // healthgate leads its own group here, as a shell's foreground job would: the terminal signals the group.
    process.kill(-cli.child.pid!, 'SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
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
    const exit = await cli.exited;
    await cli.closed;
    // The listener closes (the 'draining' line follows stopAccepting) before healthgate exits.
    const order = cli.logs.map((l) => l.message).filter((m) => ['child exited', 'draining', 'exiting'].includes(m as string));
    expect(order).toEqual(['child exited', 'draining', 'exiting']);
    expect(await connectOutcome(port)).toBe('refused');
    expect(exit).toEqual({ code: expected, signal: null });
  });

  it('a command that is not found: one line on stderr, exit 127', async () => {
    const backendPort = await freePort();
    const cli = spawnCli(['--port', '0', '-b', String(backendPort), '--', 'no-such-command-hg']);
    expect(await cli.exited).toEqual({ code: 127, signal: null });
    await cli.closed;
    expect(cli.stderrLines).toEqual(['healthgate: no-such-command-hg: command not found']);
  });

  it('a command that is not executable: one line on stderr, exit 126', async () => {
    const script = join(scratchDir(), 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n');
    chmodSync(script, 0o644);
    const backendPort = await freePort();
    const cli = spawnCli(['--port', '0', '-b', String(backendPort), '--', script]);
    expect(await cli.exited).toEqual({ code: 126, signal: null });
    await cli.closed;
    expect(cli.stderrLines).toHaveLength(1);
    expect(cli.stderrLines[0]).toMatch(/^healthgate: .*not-executable\.sh: cannot execute/);
  });
});
