import { Writable } from 'node:stream';
import { Diagnostics, REPEAT_MS, whereTheAppListens } from '../src/diagnose';
import { createLog } from '../src/log';

// src/diagnose.ts: the findings as tables, and the 30 s repeat limit with a clock that moves only
// when told (the same findings on real processes: test/e2e/diagnostics.test.ts).

describe('whereTheAppListens', () => {
  const LOCALHOST = ['127.0.0.1', '::1'];
  it.each([
    {
      name: 'another port, on every address',
      sockets: [{ address: '0.0.0.0', port: 8000 }],
      expected: {
        message: 'the app listens on another port',
        fix: 'the app listens on 0.0.0.0:8000, not 8081: make it read PORT, or pass --backend-port 8000',
      },
    },
    {
      name: 'the right port on an address localhost does not reach',
      sockets: [{ address: '10.1.2.3', port: 8081 }],
      expected: {
        message: 'the app listens on an address the backend host does not reach',
        fix: 'the app listens on 10.1.2.3:8081 only: make it listen on 0.0.0.0 or ::, or pass --backend-host 10.1.2.3',
      },
    },
    { name: 'the right port on 0.0.0.0: nothing to say', sockets: [{ address: '0.0.0.0', port: 8081 }], expected: undefined },
    { name: 'the right port on ::: nothing to say', sockets: [{ address: '::', port: 8081 }], expected: undefined },
    { name: 'the right port on ::1: nothing to say', sockets: [{ address: '::1', port: 8081 }], expected: undefined },
    { name: 'nothing listening yet: nothing guessed', sockets: [], expected: undefined },
  ])('$name', ({ sockets, expected }) => {
    const finding = whereTheAppListens(sockets, 8081, LOCALHOST);
    if (expected === undefined) expect(finding).toBeUndefined();
    else expect(finding).toMatchObject(expected);
  });

  it('a backend host of 127.0.0.1 does not reach an app on ::1 only', () => {
    expect(whereTheAppListens([{ address: '::1', port: 8081 }], 8081, ['127.0.0.1'])?.fix).toBe(
      'the app listens on [::1]:8081 only: make it listen on 0.0.0.0 or ::, or pass --backend-host ::1',
    );
  });
});

describe('Diagnostics', () => {
  function setup(appPid?: number) {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const clock = { now: 0 };
    const diagnostics = new Diagnostics({
      log: createLog({ level: 'info', format: 'json', stream }),
      backendPort: 8081,
      backendAddresses: ['127.0.0.1', '::1'],
      appPid: () => appPid,
      now: () => clock.now,
      scan: () => [{ address: '0.0.0.0', port: 8000 }],
    });
    return { lines, clock, diagnostics };
  }
  // winston hands lines to its stream on a later tick.
  const written = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const probe = (path: string, header: string): Buffer => Buffer.from(`GET ${path} HTTP/1.1\r\n${header}\r\nAccept: */*\r\n\r\n`, 'latin1');

  it.each([
    { header: 'Host: healthcheck.railway.app', platform: 'Railway' },
    { header: 'User-Agent: kube-probe/1.31', platform: 'Kubernetes' },
    { header: 'user-agent: GoogleHC/1.0', platform: 'Google Cloud' },
    { header: 'User-Agent: ELB-HealthChecker/2.0', platform: 'AWS ELB' },
    { header: 'User-Agent: Consul Health Check', platform: 'Consul' },
  ])('a probe marked $header on an unanswered path: one warning per path per 30 s', async ({ header, platform }) => {
    const { lines, clock, diagnostics } = setup();
    for (let i = 0; i < 5; i++) diagnostics.routedToBackend(probe('/healthz', header));
    diagnostics.routedToBackend(probe('/health/', header));
    clock.now += REPEAT_MS;
    diagnostics.routedToBackend(probe('/healthz', header));
    await written();
    expect(lines.map((l) => [l.level, l.message, l.path, l.platform])).toEqual([
      ['warn', 'platform health check on a path healthgate passes to the app', '/healthz', platform],
      ['warn', 'platform health check on a path healthgate passes to the app', '/health/', platform],
      ['warn', 'platform health check on a path healthgate passes to the app', '/healthz', platform],
    ]);
    expect(lines[0].fix).toBe(
      "add --health-path /healthz (or HEALTHGATE_HEALTH_PATHS=/healthz), or point the platform's health check at a health path",
    );
  });

  it.each([
    { name: 'a browser', bytes: probe('/healthz', 'User-Agent: Mozilla/5.0') },
    { name: 'an upgrade from a probe host', bytes: probe('/ws', 'Host: healthcheck.railway.app\r\nUpgrade: websocket') },
    { name: 'not HTTP', bytes: Buffer.from('SSH-2.0-OpenSSH\r\n') },
  ])('no warning for $name', async ({ bytes }) => {
    const { lines, diagnostics } = setup();
    diagnostics.routedToBackend(bytes);
    await written();
    expect(lines).toEqual([]);
  });

  it('the backend down: what was tried and the PORT given, then where the app listens; once per 30 s', async () => {
    const { lines, clock, diagnostics } = setup(4242);
    const result = {
      ok: false,
      backend: 'down' as const,
      reason: 'backend down',
      tried: ['127.0.0.1:8081 ECONNREFUSED', '[::1]:8081 ECONNREFUSED'],
    };
    for (let i = 0; i < 10; i++) diagnostics.backendDown(result);
    await written();
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', message: 'backend down', tried: result.tried, appPort: 8081 }),
      expect.objectContaining({
        level: 'warn',
        message: 'the app listens on another port',
        listening: ['0.0.0.0:8000'],
        fix: 'the app listens on 0.0.0.0:8000, not 8081: make it read PORT, or pass --backend-port 8000',
      }),
    ]);
    clock.now += REPEAT_MS - 1;
    diagnostics.backendDown(result);
    await written();
    expect(lines).toHaveLength(2);
    clock.now += 1;
    diagnostics.backendDown(result);
    await written();
    expect(lines).toHaveLength(4);
  });

  it.each([
    { name: 'Railway without a drain budget', env: { RAILWAY_SERVICE_ID: 'x' }, warned: true },
    { name: "Railway's default of 0", env: { RAILWAY_SERVICE_ID: 'x', RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '0' }, warned: true },
    { name: 'Railway with 30 s', env: { RAILWAY_SERVICE_ID: 'x', RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '30' }, warned: false },
    { name: 'not Railway', env: {}, warned: false },
  ])('at start, $name', async ({ env, warned }) => {
    const { lines, diagnostics } = setup();
    diagnostics.atStart(env);
    await written();
    expect(lines.map((l) => l.message)).toEqual(warned ? ['no drain budget on Railway: every redeploy cuts open WebSockets'] : []);
    if (warned) expect(String(lines[0].fix)).toContain('RAILWAY_DEPLOYMENT_DRAINING_SECONDS');
  });
});
