import { EchoBackend } from './helpers/backends';
import { drainCleanup } from './helpers/cleanup';
import { startGate } from './helpers/gate';
import { onlyResponse, requestHead } from './helpers/http';
import { freePort, rawRequest } from './helpers/raw';
import { WRITE_MODES } from './helpers/ws-client';

// Health answers (src/health.ts, through a real connection to an in-process healthgate):
// healthgate answers these itself; the backend never sees a byte.

afterEach(drainCleanup);

async function gateWithBackend(args: readonly string[] = []): Promise<{ port: number; backend: EchoBackend }> {
  const backend = await EchoBackend.start('backend');
  const { port } = await startGate(backend.port, args);
  return { port, backend };
}

/** The readiness check connects to the backend, but no request byte may reach it. */
function expectBackendSawNoBytes(backend: EchoBackend): void {
  expect(backend.connections.map((c) => c.received.length).filter((n) => n > 0)).toEqual([]);
}

describe.each(WRITE_MODES)('health answers, request written $mode', ({ oneByteAtATime }) => {
  it.each([
    { name: 'GET /', target: '/' },
    { name: 'GET /health', target: '/health' },
    { name: 'GET /health with a query (ignored)', target: '/health?probe=1&from=/x' },
    { name: 'GET / with a query (ignored)', target: '/?' },
    { name: 'GET /health in absolute form', target: 'http://example.com:8080/health' },
  ])('$name is answered 200 ok by healthgate, not the backend', async ({ target }) => {
    const { port, backend } = await gateWithBackend();
    const bytes = await rawRequest(port, requestHead(`GET ${target} HTTP/1.1`, ['Host: app.example', 'Connection: close']), {
      oneByteAtATime,
    });
    const response = onlyResponse(bytes);
    expect(response.statusLine).toBe('HTTP/1.1 200 OK');
    expect(response.body.toString()).toBe('ok\n');
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['content-length']).toBe('3');
    expectBackendSawNoBytes(backend);
  });

  it('any Host header is answered (Railway probes with healthcheck.railway.app)', async () => {
    const { port, backend } = await gateWithBackend();
    for (const host of ['healthcheck.railway.app', 'localhost:8080', '[::1]:1', 'some.other.name']) {
      const bytes = await rawRequest(port, requestHead('GET /health HTTP/1.1', [`Host: ${host}`, 'Connection: close']), {
        oneByteAtATime,
      });
      expect(onlyResponse(bytes)).toMatchObject({ status: 200, body: Buffer.from('ok\n') });
    }
    expectBackendSawNoBytes(backend);
  });

  it('HEAD gets the headers alone, with the Content-Length of the body it would have had', async () => {
    const { port, backend } = await gateWithBackend();
    const bytes = await rawRequest(port, requestHead('HEAD /health HTTP/1.1', ['Host: x', 'Connection: close']), { oneByteAtATime });
    const text = bytes.toString('latin1');
    // Nothing after the blank line: the connection closed right after the head.
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    expect(text.indexOf('\r\n\r\n')).toBe(text.length - 4);
    const response = onlyResponse(bytes, { noBody: true });
    expect(response.status).toBe(200);
    expect(response.headers['content-length']).toBe('3');
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expectBackendSawNoBytes(backend);
  });

  it('HEAD of a JSON answer carries the JSON body length', async () => {
    const { port } = await gateWithBackend();
    const head = await rawRequest(port, requestHead('HEAD / HTTP/1.1', ['Accept: application/json', 'Connection: close']), {
      oneByteAtATime,
    });
    const get = await rawRequest(port, requestHead('GET / HTTP/1.1', ['Accept: application/json', 'Connection: close']));
    const headResponse = onlyResponse(head, { noBody: true });
    const getResponse = onlyResponse(get);
    expect(headResponse.body.length).toBe(0);
    // uptimeSeconds may gain a digit between the two requests: compare with the length it had.
    expect(Math.abs(Number(headResponse.headers['content-length']) - getResponse.body.length)).toBeLessThanOrEqual(2);
    expect(headResponse.headers['content-type']).toBe('application/json');
  });

  it('Accept: application/json gets the JSON fields of the SPEC', async () => {
    const { port } = await gateWithBackend();
    const bytes = await rawRequest(
      port,
      requestHead('GET /health HTTP/1.1', ['Host: x', 'Accept: text/html, application/json;q=0.9', 'Connection: close']),
      { oneByteAtATime },
    );
    const response = onlyResponse(bytes);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    expect(body).toEqual({ status: 'ok', backend: 'up', draining: false, uptimeSeconds: expect.any(Number) });
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(body).not.toHaveProperty('reason');
  });

  it('JSON with the backend down says unavailable, backend down, and the reason', async () => {
    const backendPort = await freePort();
    const cli = await startGate(backendPort);
    const bytes = await rawRequest(cli.port, requestHead('GET / HTTP/1.1', ['Accept: application/json', 'Connection: close']), {
      oneByteAtATime,
    });
    const response = onlyResponse(bytes);
    expect(response.status).toBe(503);
    expect(JSON.parse(response.body.toString('utf8'))).toEqual({
      status: 'unavailable',
      backend: 'down',
      draining: false,
      uptimeSeconds: expect.any(Number),
      reason: 'backend down',
      // localhost: both loopbacks are tried (::1 may lack IPv6 here: its code varies).
      tried: [`127.0.0.1:${backendPort} ECONNREFUSED`, expect.stringMatching(new RegExp(`^\\[::1\\]:${backendPort} E[A-Z]+$`))],
    });
  });

  it('--health-path replaces the defaults: it is answered, and / and /health go to the backend', async () => {
    const { port, backend } = await gateWithBackend(['--health-path', '/ready', '--health-path', '/healthz']);
    for (const path of ['/ready', '/healthz']) {
      const answered = await rawRequest(port, requestHead(`GET ${path} HTTP/1.1`, ['Connection: close']), { oneByteAtATime });
      expect(onlyResponse(answered)).toMatchObject({ status: 200, body: Buffer.from('ok\n') });
    }
    expectBackendSawNoBytes(backend);
    for (const path of ['/', '/health']) {
      const request = requestHead(`GET ${path} HTTP/1.1`, ['Host: x', 'Connection: close']);
      const echoed = await rawRequest(port, request, { oneByteAtATime, end: true });
      expect(echoed).toEqual(backend.echoOf(request));
      expect(backend.received).toEqual(Buffer.from(request, 'latin1'));
    }
  });

  it('--live-path answers 200 while the backend is down; readiness says 503 at the same time', async () => {
    const backendPort = await freePort();
    const cli = await startGate(backendPort, ['--live-path', '/live']);
    const live = await rawRequest(cli.port, requestHead('GET /live HTTP/1.1', ['Connection: close']), { oneByteAtATime });
    expect(onlyResponse(live)).toMatchObject({ status: 200, body: Buffer.from('ok\n') });
    const liveJson = await rawRequest(cli.port, requestHead('GET /live HTTP/1.1', ['Accept: application/json', 'Connection: close']));
    expect(JSON.parse(onlyResponse(liveJson).body.toString())).toMatchObject({ status: 'ok', draining: false });
    const ready = await rawRequest(cli.port, requestHead('GET /health HTTP/1.1', ['Connection: close']), { oneByteAtATime });
    const answer = onlyResponse(ready);
    expect(answer.status).toBe(503);
    expect(answer.body.toString()).toMatch(
      new RegExp(
        `^unavailable: backend down \\(tried 127\\.0\\.0\\.1:${backendPort} ECONNREFUSED, \\[::1\\]:${backendPort} E[A-Z]+\\)\\n$`,
      ),
    );
  });
});
