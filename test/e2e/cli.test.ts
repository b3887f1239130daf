import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EchoBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { runCli, startCli } from '../helpers/cli';
import { onlyResponse, requestHead } from '../helpers/http';
import { freePort, rawRequest } from '../helpers/raw';

// The built CLI as a child process (bin/healthgate → dist/bin/healthgate.js): help, usage errors,
// env variables and their precedence, and the start line.

afterEach(drainCleanup);

const LOOPBACK = ['--host', '127.0.0.1'];

async function expectHealthAnswer(port: number, path: string): Promise<void> {
  const bytes = await rawRequest(port, requestHead(`GET ${path} HTTP/1.1`, ['Connection: close']));
  expect(onlyResponse(bytes)).toMatchObject({ status: 200, body: Buffer.from('ok\n') });
}

async function expectBackendAnswer(port: number, backend: EchoBackend, path: string): Promise<void> {
  const request = requestHead(`GET ${path} HTTP/1.1`, ['Host: x']);
  expect((await rawRequest(port, request, { end: true })).toString('latin1')).toBe(backend.echoOf(request).toString('latin1'));
}

describe('--help and --version', () => {
  it('--help exits 0 and lists the options', async () => {
    const { code, stdout, stderr } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Usage: healthgate /);
    for (const option of [
      '--port',
      '--host',
      '--backend-port',
      '--backend-host',
      '--health-path',
      '--live-path',
      '--health-check',
      '--check-path',
      '--metrics-path',
      '--header-timeout',
      '--max-header-size',
      '--drain-timeout',
      '--log-level',
      '--log-format',
    ]) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toContain('HEALTHGATE_BACKEND_PORT');
  });

  it('-h is --help; it needs no backend port', async () => {
    const { code, stdout } = await runCli(['-h'], { env: { HEALTHGATE_BACKEND_PORT: '' } });
    expect(code).toBe(0);
    expect(stdout).toContain('--backend-port');
  });

  it('--version prints the package version and exits 0', async () => {
    const { code, stdout } = await runCli(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version,
    );
  });
});

interface UsageCase {
  readonly name: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly says: RegExp;
}

// Every usage error is a row of test/config.test.ts or test/addresses.test.ts; these few prove
// the bin turns each kind (a flag, commander, the env, an address check) into one line and exit 2.
describe('usage errors: one line on stderr starting "healthgate: ", exit 2, no stack trace', () => {
  it.each<UsageCase>([
    { name: 'no backend port', args: ['-p', '0'], env: {}, says: /backend-port/ },
    { name: 'an unknown option', args: ['-b', '3000', '--bogus'], env: {}, says: /--bogus/ },
    {
      name: 'a drain budget past what a timer holds',
      args: ['-b', '3000'],
      env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '2200000' },
      says: /RAILWAY_DEPLOYMENT_DRAINING_SECONDS/,
    },
    {
      name: 'the backend is healthgate itself: --backend-host 127.1',
      args: ['-p', '9000', '-b', '9000', '--backend-host', '127.1'],
      env: {},
      says: /itself/,
    },
    // Regression: a 13-line stack trace and exit 1 (the real resolver: .invalid never resolves).
    {
      name: 'a --host that does not resolve',
      args: ['-b', '3000', '--host', 'no-such-host.invalid'],
      env: {},
      says: /--host no-such-host\.invalid does not resolve/,
    },
  ])('$name', async ({ args, env, says }) => {
    const { code, stdout, stderr } = await runCli(args, { env });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.split('\n');
    expect(lines).toHaveLength(2); // one line and its newline
    expect(lines[1]).toBe('');
    expect(lines[0]).toMatch(/^healthgate: /);
    expect(lines[0]).toMatch(says);
    expect(stderr).not.toMatch(/\n\s+at |Error:/);
  });
});

// Which value wins is test/config.test.ts's table; this proves the process reads its own
// environment and that the winners are what it serves.
describe('env variables, and flags beating them', () => {
  it('PORT, HEALTHGATE_HOST and HEALTHGATE_BACKEND_PORT are honoured; HEALTHGATE_HEALTH_PATHS replaces the defaults', async () => {
    const backend = await EchoBackend.start('app');
    const port = await freePort();
    const cli = await startCli([], {
      env: {
        PORT: String(port),
        HEALTHGATE_HOST: '127.0.0.1',
        HEALTHGATE_BACKEND_PORT: String(backend.port),
        HEALTHGATE_HEALTH_PATHS: '/a,/b',
      },
    });
    expect(cli.port).toBe(port);
    expect(cli.startLine).toMatchObject({ address: '127.0.0.1', backend: `localhost:${backend.port}`, healthPaths: ['/a', '/b'] });
    await expectHealthAnswer(cli.port, '/a');
    await expectHealthAnswer(cli.port, '/b');
    await expectBackendAnswer(cli.port, backend, '/api');
    await expectBackendAnswer(cli.port, backend, '/');
    await expectBackendAnswer(cli.port, backend, '/health');
  });

  it('flags beat env variables: --port, --backend-port, --health-path, --health-check', async () => {
    const backend = await EchoBackend.start('app');
    const envPort = await freePort();
    const flagPort = await freePort();
    const cli = await startCli(
      ['--port', String(flagPort), '-b', String(backend.port), '--health-path', '/c', '--health-check', 'tcp', ...LOOPBACK],
      {
        env: {
          PORT: String(envPort),
          HEALTHGATE_BACKEND_PORT: String(await freePort()),
          HEALTHGATE_HEALTH_PATHS: '/a',
          HEALTHGATE_HEALTH_CHECK: 'none',
          HEALTHGATE_HOST: '::1',
        },
      },
    );
    expect(cli.port).toBe(flagPort);
    expect(cli.startLine).toMatchObject({ address: '127.0.0.1', healthPaths: ['/c'], healthCheck: 'tcp' });
    await expectHealthAnswer(cli.port, '/c');
    // /a is no health path any more: it reaches the backend from the flag, not the env's (down) one.
    await expectBackendAnswer(cli.port, backend, '/a');
  });
});

describe('the start line', () => {
  it('--port 0: the start line names the real port, and healthgate answers there', async () => {
    const cli = await startCli(['--port', '0', ...LOOPBACK, '-b', String(await freePort()), '--health-check', 'none']);
    expect(cli.port).toBeGreaterThan(0);
    expect(cli.port).toBeLessThan(65536);
    await expectHealthAnswer(cli.port, '/health');
  });

  it('is a JSON line on stdout when stdout is not a TTY, with level, message, timestamp and the settings', async () => {
    const backend = await EchoBackend.start('app');
    // No HEALTHGATE_LOG_FORMAT: the format is healthgate's own choice for a pipe.
    const cli = await startCli(['--port', '0', ...LOOPBACK, '-b', String(backend.port), '--live-path', '/live'], {
      env: { HEALTHGATE_LOG_FORMAT: undefined },
    });
    const first = JSON.parse(cli.stdoutLines[0]) as Record<string, unknown>;
    expect(first).toEqual(cli.startLine);
    expect(first).toMatchObject({
      level: 'info',
      message: 'healthgate listening',
      address: '127.0.0.1',
      port: cli.port,
      backend: `localhost:${backend.port}`,
      healthPaths: ['/', '/health'],
      livePaths: ['/live'],
      healthCheck: 'tcp',
    });
    expect(new Date(String(first.timestamp)).toISOString()).toBe(first.timestamp);
    expect(cli.stderrLines).toEqual([]);
  });

  it('health requests are not logged at info (a platform checks often)', async () => {
    const backend = await EchoBackend.start('app');
    const cli = await startCli(['--port', '0', ...LOOPBACK, '-b', String(backend.port)]);
    for (let i = 0; i < 5; i++) await expectHealthAnswer(cli.port, '/health');
    // The first check may log "backend up"; nothing per request.
    expect(cli.logs.map((l) => l.message).filter((m) => m !== 'healthgate listening' && m !== 'backend up')).toEqual([]);
  });
});
