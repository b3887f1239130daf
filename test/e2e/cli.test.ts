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
    expect(stdout.trim()).toBe((require('../../package.json') as { version: string }).version);
  });
});

interface UsageCase {
  readonly name: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly says: RegExp;
}

describe('usage errors: one line on stderr starting "healthgate: ", exit 2, no stack trace', () => {
  it.each<UsageCase>([
    { name: 'no backend port', args: ['-p', '0'], env: {}, says: /backend-port/ },
    { name: 'backend port 70000', args: ['-b', '70000'], env: {}, says: /70000/ },
    { name: 'port 70000', args: ['-p', '70000', '-b', '3000'], env: {}, says: /--port.*70000/ },
    { name: 'backend port 0', args: ['-b', '0'], env: {}, says: /backend-port/ },
    { name: 'a port that is not a number', args: ['-b', 'http'], env: {}, says: /'http'/ },
    { name: 'a health path without /', args: ['-b', '3000', '--health-path', 'health'], env: {}, says: /health-path.*'health'/ },
    { name: 'a live path without /', args: ['-b', '3000', '--live-path', 'live'], env: {}, says: /live-path/ },
    { name: 'an unknown check mode', args: ['-b', '3000', '--health-check', 'http'], env: {}, says: /tcp, websocket, none/ },
    { name: 'an unknown log level', args: ['-b', '3000', '--log-level', 'loud'], env: {}, says: /log-level/ },
    { name: 'an unknown log format', args: ['-b', '3000', '--log-format', 'xml'], env: {}, says: /log-format/ },
    { name: 'an unknown option', args: ['-b', '3000', '--bogus'], env: {}, says: /--bogus/ },
    { name: 'the backend is healthgate itself (-p 9000 -b 9000)', args: ['-p', '9000', '-b', '9000'], env: {}, says: /itself/ },
    {
      name: 'the backend is healthgate itself on the listen host',
      args: ['--host', '127.0.0.1', '--backend-host', '127.0.0.1', '-p', '9000', '-b', '9000'],
      env: {},
      says: /itself/,
    },
    { name: 'a metrics path equal to a health path', args: ['-b', '3000', '--metrics-path', '/health'], env: {}, says: /metrics-path/ },
    { name: 'a bad PORT in the env', args: ['-b', '3000'], env: { PORT: '70000' }, says: /PORT/ },
    { name: 'a bad path in HEALTHGATE_HEALTH_PATHS', args: ['-b', '3000'], env: { HEALTHGATE_HEALTH_PATHS: '/a,b' }, says: /HEALTHGATE_HEALTH_PATHS/ },
    { name: 'the backend port in the env equal to PORT', args: [], env: { PORT: '9000', HEALTHGATE_BACKEND_PORT: '9000' }, says: /itself/ },
    // Regression: every spelling of a self-loop started, and one upgrade chained ~10,000 connections.
    ...['127.1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1', '[::1]', 'localhost.', 'LOCALHOST', 'app.localhost', '2130706433', '0.0.0.0', '::', '127.8.9.10'].map(
      (host) => ({ name: `the backend is healthgate itself: --backend-host ${host}`, args: ['-p', '9000', '-b', '9000', '--backend-host', host], env: {}, says: /itself/ }),
    ),
    {
      name: 'the backend is healthgate itself: --backend-host names the --host address',
      args: ['--host', '127.0.0.1', '--backend-host', '127.0.0.1', '-p', '9000', '-b', '9000'],
      env: {},
      says: /itself/,
    },
    // Regression: 2,200,000 s overflowed setTimeout, which fired at once and SIGKILLed the app.
    { name: 'a drain budget past what a timer holds', args: ['-b', '3000'], env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '2200000' }, says: /RAILWAY_DEPLOYMENT_DRAINING_SECONDS/ },
    // Regression: a 13-line stack trace and exit 1.
    { name: 'a --host that does not resolve', args: ['-b', '3000', '--host', 'no-such-host.invalid'], env: {}, says: /--host no-such-host\.invalid does not resolve/ },
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

describe('env variables, and flags beating them', () => {
  it('PORT, HEALTHGATE_HOST and HEALTHGATE_BACKEND_PORT are honoured', async () => {
    const backend = await EchoBackend.start('app');
    const port = await freePort();
    const cli = await startCli([], { env: { PORT: String(port), HEALTHGATE_HOST: '127.0.0.1', HEALTHGATE_BACKEND_PORT: String(backend.port) } });
    expect(cli.port).toBe(port);
    expect(cli.startLine).toMatchObject({ address: '127.0.0.1', backend: `localhost:${backend.port}` });
    await expectBackendAnswer(cli.port, backend, '/api');
  });

  it('HEALTHGATE_HEALTH_PATHS=/a,/b replaces the defaults', async () => {
    const backend = await EchoBackend.start('app');
    const cli = await startCli(['-p', '0', ...LOOPBACK], { env: { HEALTHGATE_BACKEND_PORT: String(backend.port), HEALTHGATE_HEALTH_PATHS: '/a,/b' } });
    expect(cli.startLine.healthPaths).toEqual(['/a', '/b']);
    await expectHealthAnswer(cli.port, '/a');
    await expectHealthAnswer(cli.port, '/b');
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
    const cli = await startCli(['--port', '0', ...LOOPBACK, '-b', String(backend.port), '--live-path', '/live'], { env: { HEALTHGATE_LOG_FORMAT: undefined } });
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
