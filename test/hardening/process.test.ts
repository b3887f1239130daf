import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EchoBackend } from '../helpers/backends';
import { defer, drainCleanup } from '../helpers/cleanup';
import { startCli, type CliOptions, type CliProcess, loopbackArgs } from '../helpers/cli';
import { onlyResponse, requestHead } from '../helpers/http';
import { freePort, rawRequest } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';
import { listeningSockets } from '../../src/listen-scan';

// What the process does when its surroundings turn hostile: a closed stdout, a crash, signals
// that Node would act on by default. The CLI as a child, with a real app behind it.

afterEach(drainCleanup);

const CHILD_APP = join(__dirname, '..', 'fixtures', 'child-app.js');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function healthStatus(port: number): Promise<number> {
  return onlyResponse(await rawRequest(port, requestHead('GET /health HTTP/1.1', ['Connection: close']), { timeoutMs: 2000 })).status;
}

async function startEntrypoint(options: CliOptions = {}): Promise<{ cli: CliProcess; port: number; childPid: number }> {
  const backendPort = await freePort();
  const cli = await startCli([...loopbackArgs(backendPort), '--', process.execPath, CHILD_APP], options);
  const port = cli.port;
  const childPid = (await cli.waitForLog('child started')).pid as number;
  defer(() => {
    // Whatever happened in the test, leave no app behind.
    if (isAlive(childPid)) process.kill(-childPid, 'SIGKILL');
  });
  await pollUntil('the app to be ready', async () => ((await healthStatus(port)) === 200 ? true : undefined), { timeoutMs: 10_000 });
  return { cli, port, childPid };
}

it('regression: a closed stdout stops logging, not the proxy, and SIGTERM still ends healthgate and its app', async () => {
  const { cli, port, childPid } = await startEntrypoint();
  // The reader goes away (`healthgate … | head -n1`); the next log line meets EPIPE.
  cli.child.stdout!.destroy();
  // Warn lines: answered errors. Each one is a write to the closed pipe.
  for (let i = 0; i < 5; i++) await rawRequest(port, 'GET /health HTTP/1.1\r\nbad header\r\n\r\n');
  expect(await healthStatus(port)).toBe(200);
  expect(cli.child.exitCode).toBeNull();
  cli.kill('SIGTERM');
  const { code } = await within(cli.exited, 10_000, 'healthgate to exit');
  await cli.closed;
  expect(code).toBe(0);
  expect(cli.stderr).not.toMatch(/EPIPE|Error/);
  expect(isAlive(childPid)).toBe(false);
});

it('regression: a crash of healthgate kills its app (the child does not outlive it)', async () => {
  // A preload that throws from a signal handler: an uncaught exception, as a bug would throw.
  const preload = join(tmpdir(), `healthgate-crash-${process.pid}.js`);
  writeFileSync(preload, "process.on('SIGWINCH', () => { throw new Error('injected crash'); });\n");
  const { cli, childPid } = await startEntrypoint({ launcher: [process.execPath, '-r', preload] });
  cli.child.kill('SIGWINCH');
  const { code } = await within(cli.exited, 10_000, 'healthgate to crash');
  await cli.closed;
  expect(code).toBe(1);
  expect(cli.stderr).toContain('injected crash');
  // The app was SIGKILLed with its group on the way out, not left running with ppid 1.
  await pollUntil('the app to be gone', () => (isAlive(childPid) ? undefined : true), { timeoutMs: 2000 });
});

describe('signals without a child', () => {
  async function startAlone(): Promise<{ cli: CliProcess; port: number }> {
    const backend = await EchoBackend.start('app');
    const cli = await startCli(loopbackArgs(backend.port));
    return { cli, port: cli.port };
  }

  it.each(['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const)('regression: %s changes nothing: no exit, no inspector', async (signal) => {
    const { cli, port } = await startAlone();
    cli.kill(signal);
    // A second one, after the first has surely been handled: the answer in between proves it.
    expect(await healthStatus(port)).toBe(200);
    cli.kill(signal);
    expect(await healthStatus(port)).toBe(200);
    expect(cli.child.exitCode).toBeNull();
    // SIGUSR1 would open Node's inspector on 127.0.0.1:9229: healthgate listens on its port alone.
    expect(listeningSockets([cli.child.pid!])).toEqual([{ address: '127.0.0.1', port }]);
  });

  it('SIGQUIT drains like SIGTERM and exits 0', async () => {
    const { cli } = await startAlone();
    cli.kill('SIGQUIT');
    const { code, signal } = await within(cli.exited, 10_000, 'healthgate to exit after SIGQUIT');
    await cli.closed;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(cli.logs.some((l) => l.message === 'shutting down' && l.signal === 'SIGQUIT')).toBe(true);
  });
});
