import { EchoBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { spawnCli, type CliProcess, loopbackArgs } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { onlyResponse, requestHead } from '../helpers/http';
import { rawRequest } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';

// SPEC (Diagnostics): each way a first deploy fails prints its one warn line with the fix, once
// per 30 s, not per request. The CLI as a child, with real apps that get it wrong.

afterEach(drainCleanup);

async function healthBody(port: number, headers: string[] = []): Promise<{ status: number; body: string }> {
  const answer = onlyResponse(await rawRequest(port, requestHead('GET /health HTTP/1.1', [...headers, 'Connection: close'])));
  return { status: answer.status, body: answer.body.toString() };
}

/** healthgate in entrypoint mode in front of `node -e <source>`; the app gets PORT=backendPort. */
async function startWithApp(source: string, args: string[] = []): Promise<{ cli: CliProcess; port: number; backendPort: number }> {
  const backendPort = await freePort();
  const cli = spawnCli([...loopbackArgs(backendPort), ...args, '--', process.execPath, '-e', source]);
  const port = (await cli.listening()).port as number;
  await cli.waitForLog('child started');
  return { cli, port, backendPort };
}

/** Asks readiness `times` times and waits for the warn lines with `message`. */
async function askAndFind(cli: CliProcess, port: number, message: string, times = 5): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < times; i++) expect((await healthBody(port)).status).toBe(503);
  return pollUntil(`the "${message}" line`, () => {
    const lines = cli.logs.filter((l) => l.message === message);
    return lines.length > 0 ? lines : undefined;
  });
}

it('an app that ignores PORT and listens on its own port: the warning names that port and the fix, once', async () => {
  const appPort = await freePort();
  const { cli, port, backendPort } = await startWithApp(`require('net').createServer().listen(${appPort}, '0.0.0.0')`);
  // Until the app listens (it starts in a few ms), the scan may see nothing: ask until it does.
  const found = await pollUntil('the listening finding', async () => {
    await healthBody(port);
    const line = cli.logs.find((l) => l.message === 'the app listens on another port');
    return line;
  });
  expect(found).toMatchObject({
    level: 'warn',
    listening: [`0.0.0.0:${appPort}`],
    fix: `the app listens on 0.0.0.0:${appPort}, not ${backendPort}: make it read PORT, or pass --backend-port ${appPort}`,
  });
  for (let i = 0; i < 5; i++) await healthBody(port);
  const { body } = await healthBody(port);
  expect(body).toMatch(
    new RegExp(
      `^unavailable: backend down \\(tried 127\\.0\\.0\\.1:${backendPort} ECONNREFUSED, .*; the app was given PORT=${backendPort}\\)\\n$`,
    ),
  );
  // Once per 30 s, however many requests.
  expect(cli.logs.filter((l) => l.message === 'the app listens on another port')).toHaveLength(1);
  expect(cli.logs.filter((l) => l.message === 'backend down')).toHaveLength(1);
});

it('an app on the right port but an address the backend host does not reach: the warning says so', async () => {
  const backendPort = await freePort();
  const cli = spawnCli([
    ...[...loopbackArgs(backendPort), '--backend-host', '127.0.0.1'],
    ...['--', process.execPath, '-e', `require('net').createServer().listen(${backendPort}, '127.0.0.2')`],
  ]);
  const port = (await cli.listening()).port as number;
  const found = await pollUntil('the address finding', async () => {
    await healthBody(port);
    return cli.logs.find((l) => l.message === 'the app listens on an address the backend host does not reach');
  });
  expect(found.fix).toBe(
    `the app listens on 127.0.0.2:${backendPort} only: make it listen on 0.0.0.0 or ::, or pass --backend-host 127.0.0.2`,
  );
});

it('an app that never listens: backend down with each address tried and the PORT given; nothing guessed about where it listens', async () => {
  const { cli, port, backendPort } = await startWithApp('setInterval(() => {}, 1000)');
  const [line] = await askAndFind(cli, port, 'backend down');
  expect(line).toMatchObject({
    level: 'warn',
    appPort: backendPort,
    tried: expect.arrayContaining([`127.0.0.1:${backendPort} ECONNREFUSED`]),
  });
  expect(cli.logs.filter((l) => l.message === 'backend down')).toHaveLength(1);
  expect(cli.logs.some((l) => String(l.message).startsWith('the app listens'))).toBe(false);
});

it('an app that exits 1: a warning, and healthgate exits 1', async () => {
  const backendPort = await freePort();
  const cli = spawnCli([...loopbackArgs(backendPort), '--', process.execPath, '-e', 'setTimeout(() => process.exit(1), 300)']);
  const { code } = await within(cli.exited, 10_000, 'healthgate to exit with its app');
  expect(code).toBe(1);
  expect(cli.logs.find((l) => l.message === 'child exited')).toMatchObject({ level: 'warn', code: 1 });
});

it.each([
  { name: 'Railway (Host: healthcheck.railway.app)', header: 'Host: healthcheck.railway.app', platform: 'Railway' },
  { name: 'Kubernetes (User-Agent: kube-probe/1.31)', header: 'User-Agent: kube-probe/1.31', platform: 'Kubernetes' },
])('a $name probe on a path healthgate passes on: one warning per path, with the --health-path to add', async ({ header, platform }) => {
  const backend = await EchoBackend.start('app');
  const cli = spawnCli(loopbackArgs(backend.port));
  const port = (await cli.listening()).port as number;
  for (const path of ['/healthz', '/healthz', '/healthz', '/health/']) {
    await rawRequest(port, requestHead(`GET ${path} HTTP/1.1`, [header, 'Connection: close']), { end: true });
  }
  await pollUntil('two probe warnings', () =>
    cli.logs.filter((l) => l.message === 'platform health check on a path healthgate passes to the app').length >= 2 ? true : undefined,
  );
  const lines = cli.logs.filter((l) => l.message === 'platform health check on a path healthgate passes to the app');
  expect(lines.map((l) => [l.path, l.platform, l.fix])).toEqual([
    [
      '/healthz',
      platform,
      "add --health-path /healthz (or HEALTHGATE_HEALTH_PATHS=/healthz), or point the platform's health check at a health path",
    ],
    [
      '/health/',
      platform,
      "add --health-path /health/ (or HEALTHGATE_HEALTH_PATHS=/health/), or point the platform's health check at a health path",
    ],
  ]);
});

it('on Railway with RAILWAY_DEPLOYMENT_DRAINING_SECONDS=0 (its default): one warning at start naming the variable', async () => {
  const backend = await EchoBackend.start('app');
  const cli = spawnCli(loopbackArgs(backend.port), {
    env: { RAILWAY_SERVICE_ID: 'svc', RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '0' },
  });
  await cli.listening();
  const line = await cli.waitForLog('no drain budget on Railway: every redeploy cuts open WebSockets');
  expect(line).toMatchObject({ level: 'warn', fix: expect.stringContaining('RAILWAY_DEPLOYMENT_DRAINING_SECONDS') });
  // And the budget is the 500 ms floor, not 0 (SPEC: Shutdown).
  cli.kill('SIGTERM');
  expect((await cli.waitForLog('draining')).drainTimeoutMs).toBe(500);
});

it('a platform probe on an unanswered path is named also while the app is down (the probe gets 503)', async () => {
  const cli = spawnCli(loopbackArgs(await freePort()));
  const port = (await cli.listening()).port as number;
  const answer = onlyResponse(
    await rawRequest(port, requestHead('GET /healthz HTTP/1.1', ['Host: healthcheck.railway.app', 'Connection: close'])),
  );
  expect(answer.status).toBe(503);
  const line = await cli.waitForLog('platform health check on a path healthgate passes to the app');
  expect(line).toMatchObject({ path: '/healthz', platform: 'Railway' });
});
