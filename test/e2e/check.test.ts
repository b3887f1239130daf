import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { SilentBackend, startRawServer, WsBackend } from '../helpers/backends';
import { defer, drainCleanup } from '../helpers/cleanup';
import { runCli, startCli, type CliResult } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { codeBlock } from '../shipping/markdown';

// `healthgate check <url>` run as the built CLI against real servers on loopback: healthgate in
// front of a ws app, the app alone, nothing, a hung server, a TLS endpoint with a certificate
// made here, and fake platform edges that answer as Railway's does.

afterEach(drainCleanup);

const ROOT = join(__dirname, '..', '..');
const LOOPBACK = ['--host', '127.0.0.1'];
const MS = String.raw`[\d.]+ ms`;

/** healthgate (the built CLI) in front of a real `ws` echo app; resolves with both. */
async function gateInFrontOfWsApp(): Promise<{ url: string; app: WsBackend }> {
  const app = await WsBackend.start();
  const gate = await startCli(['--port', '0', ...LOOPBACK, '-b', String(app.port), '--backend-host', '127.0.0.1']);
  return { url: `http://127.0.0.1:${gate.port}`, app };
}

function lines(result: CliResult): string[] {
  return result.stdout.split('\n').filter((l) => l !== '');
}

/** Runs `healthgate check --json ...` and returns its exit code and the parsed object. */
async function checkJson(
  args: readonly string[],
): Promise<{ code: number | null; report: Record<string, unknown>; steps: Array<Record<string, unknown>> }> {
  const result = await runCli(['check', '--json', ...args]);
  expect(result.stderr).toBe('');
  expect(result.stdout.endsWith('\n')).toBe(true);
  expect(result.stdout.trimEnd().split('\n')).toHaveLength(1);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  return { code: result.code, report, steps: report.steps as Array<Record<string, unknown>> };
}

/**
 * A raw HTTP server: reads each connection's request head, then writes what `answer` returns for
 * it (and ends the connection unless `keepOpen`). It counts the heads, so a test sees every request.
 */
async function startHeadServer(
  answer: (head: string) => { bytes: string; keepOpen?: boolean },
): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const { port } = await startRawServer((socket: Socket) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (text.includes('\r\n\r\n')) return;
      text += chunk;
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end);
      heads.push(head);
      const { bytes, keepOpen } = answer(head);
      if (keepOpen) socket.write(bytes, 'latin1');
      else socket.end(bytes, 'latin1');
    });
  });
  return { port, heads };
}

function httpAnswer(statusLine: string, contentType: string, body: string): string {
  return [statusLine, `Content-Type: ${contentType}`, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body].join(
    '\r\n',
  );
}

describe('healthgate check against healthgate in front of a ws app', () => {
  it('passes: exit 0, the health line with healthgate JSON fields, the WebSocket line with its pong', async () => {
    const { url, app } = await gateInFrontOfWsApp();
    const result = await runCli(['check', url]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const [health, ws, ...rest] = lines(result);
    expect(health).toMatch(
      new RegExp(`^ok {4}GET ${url}/health {2}200 in ${MS}, healthgate: status=ok backend=up draining=false uptimeSeconds=[\\d.]+$`),
    );
    expect(ws).toMatch(new RegExp(`^ok {4}WebSocket ${url.replace('http', 'ws')}/ {2}101 in ${MS}, pong in ${MS}$`));
    expect(rest).toEqual([]);
    expect(app.upgradePaths).toEqual(['/']);
  });

  it('one GET per --health-path, in order, and the handshake on --ws-path', async () => {
    const { url, app } = await gateInFrontOfWsApp();
    const result = await runCli(['check', url, '--health-path', '/', '--health-path', '/health', '--ws-path', '/chat?room=1']);
    expect(result.code).toBe(0);
    const found = lines(result).map((l) => l.split(/ {2,}/).slice(0, 2).join(' '));
    expect(found).toEqual([`ok GET ${url}/`, `ok GET ${url}/health`, `ok WebSocket ${url.replace('http', 'ws')}/chat?room=1`]);
    expect(app.upgradePaths).toEqual(['/chat?room=1']);
  });

  it('--json: one object with url, ok and each step with its status, time and healthgate fields', async () => {
    const { url } = await gateInFrontOfWsApp();
    const { code, report, steps } = await checkJson([url]);
    expect(code).toBe(0);
    expect(report).toMatchObject({ url: `${url}/`, ok: true });
    expect(steps).toHaveLength(2);
    expect(steps[0]).toEqual({
      step: 'health',
      url: `${url}/health`,
      ok: true,
      status: 200,
      ms: expect.any(Number),
      healthgate: { status: 'ok', backend: 'up', draining: false, uptimeSeconds: expect.any(Number) },
    });
    expect(steps[1]).toEqual({
      step: 'websocket',
      url: `${url.replace('http', 'ws')}/`,
      ok: true,
      status: 101,
      ms: expect.any(Number),
      pongMs: expect.any(Number),
    });
  });

  it('the app behind healthgate is down: 503 from healthgate, explained, on both steps', async () => {
    const gate = await startCli(['--port', '0', ...LOOPBACK, '-b', String(await freePort())]);
    const { code, steps } = await checkJson([`http://127.0.0.1:${gate.port}`]);
    expect(code).toBe(1);
    expect(steps[0]).toMatchObject({ ok: false, status: 503, kind: 'unavailable', healthgate: { status: 'unavailable', backend: 'down' } });
    expect(steps[0].cause).toMatch(
      /^healthgate answered 503 \(backend down\): healthgate runs, but the app behind it does not pass the check/,
    );
    expect(steps[1]).toMatchObject({ ok: false, status: 503, kind: 'unavailable' });
    expect(steps[1].cause).toMatch(/^healthgate answered 503 to the upgrade: .*did not accept the connection/);
  });
});

describe('healthgate check explains each failure in one sentence, exit 1', () => {
  it('the ws app alone (healthgate not in front): 426 on the health path; the WebSocket still passes', async () => {
    const app = await WsBackend.start();
    const url = `http://127.0.0.1:${app.port}`;
    const result = await runCli(['check', url]);
    expect(result).toMatchObject({ code: 1, stderr: '' });
    expect(lines(result)).toEqual([
      expect.stringMatching(new RegExp(`^FAIL {2}GET ${url}/health {2}426 in ${MS}, not healthgate's answer$`)),
      "      The app itself answered 426 Upgrade Required on /health: healthgate is not in front of it, or /health is not one of healthgate's health paths (--health-path).",
      expect.stringMatching(new RegExp(`^ok {4}WebSocket ws://127.0.0.1:${app.port}/ {2}101 in ${MS}, pong in ${MS}$`)),
    ]);
  });

  it('nothing listens: connection refused, and the WebSocket step is skipped', async () => {
    const port = await freePort();
    const result = await runCli(['check', `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(lines(result)).toEqual([
      expect.stringMatching(new RegExp(`^FAIL {2}GET http://127.0.0.1:${port}/health {2}no answer in ${MS}$`)),
      `      Connection refused at 127.0.0.1:${port}: nothing listens there; check the port in the URL and that the service is running.`,
      `skip  WebSocket ws://127.0.0.1:${port}/  not tried: an earlier step got no answer from the server`,
    ]);
  });

  it('a server that accepts and never answers: a timeout after --timeout ms', async () => {
    const hung = await SilentBackend.start();
    const { code, steps } = await checkJson([`http://127.0.0.1:${hung.port}`, '--timeout', '300']);
    expect(code).toBe(1);
    expect(steps[0]).toMatchObject({ step: 'health', ok: false, kind: 'timeout' });
    expect(steps[0].cause).toBe(
      'Connected, but no answer came within 300 ms: the server accepted the connection and then said nothing (a hung app, or not HTTP); raise --timeout if it is only slow.',
    );
    // The step ends at the timeout: not before it, and not long after (5× for a busy machine).
    expect(steps[0].ms).toBeGreaterThanOrEqual(295);
    expect(steps[0].ms).toBeLessThan(1500);
    expect(steps[1]).toMatchObject({ step: 'websocket', ok: false, kind: 'skipped' });
    expect(steps[1].ms).toBeUndefined();
    // One health GET, nothing after it.
    expect(hung.connections).toHaveLength(1);
  });

  it('a 101 that never comes: the ws path answers 200', async () => {
    const server = await startHeadServer(() => ({ bytes: httpAnswer('HTTP/1.1 200 OK', 'text/html', '<h1>my site</h1>') }));
    const { code, steps } = await checkJson([`http://127.0.0.1:${server.port}`, '--ws-path', '/socket']);
    expect(code).toBe(1);
    expect(steps[0]).toMatchObject({ step: 'health', ok: true, status: 200 });
    expect(steps[0].healthgate).toBeUndefined();
    expect(steps[1]).toMatchObject({ step: 'websocket', ok: false, status: 200, kind: 'no-upgrade' });
    expect(steps[1].cause).toBe(
      'The WebSocket handshake on /socket got 200 instead of 101: what answered does not take WebSocket upgrades on this path; check --ws-path, and that the app serves WebSocket there.',
    );
    expect(server.heads).toHaveLength(2);
  });

  it('no pong: the handshake completes, then the server ignores the ping', async () => {
    const server = await startHeadServer((head) => {
      const key = /^sec-websocket-key: *(\S+)/im.exec(head)?.[1];
      if (!key) return { bytes: httpAnswer('HTTP/1.1 200 OK', 'text/plain', 'ok\n') };
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const bytes = [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${accept}`,
        '',
        '',
      ].join('\r\n');
      return { bytes, keepOpen: true };
    });
    // 1000 ms, not less: the handshake itself must fit in the step on a busy machine.
    const result = await runCli(['check', `http://127.0.0.1:${server.port}`, '--timeout', '1000']);
    expect(result.code).toBe(1);
    expect(lines(result).slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^FAIL {2}WebSocket ws://127.0.0.1:${server.port}/ {2}101 in ${MS}$`)),
      '      The WebSocket opened, but no pong came back within 1000 ms: every RFC 6455 server answers a ping, so the app or a proxy between is stuck.',
    ]);
  });
});

describe("healthgate check in front of a platform edge's error pages", () => {
  // Railway's edge answers a domain with no running deployment with this JSON (an HTML page for
  // browsers), whatever the path, upgrade requests included.
  const NOT_FOUND = JSON.stringify({ status: 'error', code: 404, message: 'Application not found', request_id: 'aBcD1234' });
  // …and a deployment that does not answer on its port with a page titled like this.
  const FAILED_PAGE =
    '<!DOCTYPE html><html><head><title>Server Error</title></head><body><h1>Application failed to respond</h1>' +
    '<p>This error appears to be caused by the application.</p><a href="https://railway.com">Go to Railway</a></body></html>';

  it('404 "Application not found": the edge has no deployment for the domain, on both steps', async () => {
    const edge = await startHeadServer(() => ({ bytes: httpAnswer('HTTP/1.1 404 Not Found', 'application/json', NOT_FOUND) }));
    const result = await runCli(['check', `http://127.0.0.1:${edge.port}`]);
    expect(result.code).toBe(1);
    const sentence =
      `      Railway's edge answered 404 "Application not found": no running deployment serves this domain (not deployed yet, the deploy failed, ` +
      'the domain points at another port, or the service sleeps and is waking: retry in a few seconds).';
    expect(lines(result)).toEqual([
      expect.stringMatching(new RegExp(`^FAIL {2}GET http://127.0.0.1:${edge.port}/health {2}404 in ${MS}, not healthgate's answer$`)),
      sentence,
      expect.stringMatching(new RegExp(`^FAIL {2}WebSocket ws://127.0.0.1:${edge.port}/ {2}404 in ${MS}$`)),
      sentence,
    ]);
    // No more requests than the steps: one GET, one upgrade.
    expect(edge.heads.map((h) => h.split('\r\n')[0])).toEqual(['GET /health HTTP/1.1', 'GET / HTTP/1.1']);
    expect(edge.heads[0]).toMatch(/^accept: application\/json$/im);
  });

  it('502 "Application failed to respond": the deployment runs but nothing answers on its port', async () => {
    const edge = await startHeadServer(() => ({ bytes: httpAnswer('HTTP/1.1 502 Bad Gateway', 'text/html', FAILED_PAGE) }));
    const { code, steps } = await checkJson([`http://127.0.0.1:${edge.port}`]);
    expect(code).toBe(1);
    for (const step of steps) {
      expect(step).toMatchObject({ ok: false, status: 502, kind: 'edge-no-response' });
      expect(step.cause).toMatch(/^Railway's edge answered 502 "Application failed to respond": .*make healthgate listen on \$PORT/);
    }
  });
});

describe('healthgate check over https and wss with a self-signed certificate made here', () => {
  /** A TLS server for 127.0.0.1 (its certificate made with openssl now) that answers GETs and WebSockets. */
  async function startTlsService(): Promise<{ url: string; caFile: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'healthgate-check-tls-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.end('ok\n'));
    const wss = new WebSocketServer({ server });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    defer(async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    });
    return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caFile: cert };
  }

  it('--ca <file> passes: the GET over https and the handshake and ping over wss', async () => {
    const { url, caFile } = await startTlsService();
    const result = await runCli(['check', url, '--ca', caFile]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(lines(result).map((l) => l.split(/ {2,}/).slice(0, 2).join(' '))).toEqual([
      `ok GET ${url}/health`,
      `ok WebSocket ${url.replace('https', 'wss')}/`,
    ]);
  });

  it('without a flag it fails with the TLS cause, naming the code and --ca/--insecure', async () => {
    const { url } = await startTlsService();
    const result = await runCli(['check', url]);
    expect(result.code).toBe(1);
    expect(lines(result).slice(1)).toEqual([
      "      TLS: the server's certificate was not accepted (DEPTH_ZERO_SELF_SIGNED_CERT); for a private or self-signed certificate pass its CA with --ca <file>, or skip verification with --insecure.",
      `skip  WebSocket ${url.replace('https', 'wss')}/  not tried: an earlier step got no answer from the server`,
    ]);
  });

  it('--insecure passes without the CA', async () => {
    const { url } = await startTlsService();
    const { code, steps } = await checkJson([url, '--insecure']);
    expect(code).toBe(0);
    expect(steps.map((s) => [s.step, s.ok, s.status])).toEqual([
      ['health', true, 200],
      ['websocket', true, 101],
    ]);
  });
});

// Every usage error is a row of check-cli.test.ts's table; here, two of them (commander's, and
// one of healthgate's own) through the CLI: one line on stderr, nothing on stdout, exit 2.
describe('healthgate check usage errors: one line on stderr, exit 2', () => {
  it.each([
    { name: 'an unknown option', args: ['http://127.0.0.1:8080', '--bogus'], says: /unknown option '--bogus'/ },
    { name: 'a URL with a path', args: ['http://127.0.0.1:8080/health'], says: /takes no path/ },
  ])('$name', async ({ args, says }) => {
    const { code, stdout, stderr } = await runCli(['check', ...args]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^healthgate: check: /);
    expect(stderr).toMatch(says);
    expect(stderr).not.toMatch(/\n\s+at |Error:/);
  });
});

describe('help', () => {
  it('healthgate --help names the check command; healthgate check --help lists its options', async () => {
    const main = await runCli(['--help']);
    expect(main.stdout).toMatch(/\n {2}check <url> +check a deployed service/);
    const help = await runCli(['check', '--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: healthgate check <url> \[options\]/);
    for (const flag of ['--health-path', '--ws-path', '--json', '--timeout', '--ca', '--insecure']) expect(help.stdout).toContain(flag);
  });
});

describe("the single-file build, and the README's check step", () => {
  it('`node dist/healthgate.cjs check https://<your-app>.up.railway.app` runs, with the URL of a local healthgate', async () => {
    const block = codeBlock(join(ROOT, 'README.md'), 'check-deploy').text;
    expect(block).toBe('node dist/healthgate.cjs check https://<your-app>.up.railway.app');
    const { url } = await gateInFrontOfWsApp();
    const [node, script, ...args] = block.replace('https://<your-app>.up.railway.app', url).split(' ');
    expect(node).toBe('node');
    // The single-file bundle, with ws inside it, from the repository's root as the README says.
    // Not execFileSync: the app runs in this process and must answer the handshake meanwhile.
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, script), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      timeout: 10_000,
    });
    expect(stdout.split('\n').filter((l) => l.startsWith('ok  '))).toHaveLength(2);
  });

  it('dist/healthgate.cjs alone in an empty folder runs the check: ws is inside it, its optional native modules are not needed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'healthgate-check-bundle-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    copyFileSync(join(ROOT, 'dist', 'healthgate.cjs'), join(dir, 'healthgate.cjs'));
    const { url } = await gateInFrontOfWsApp();
    const { stdout } = await promisify(execFile)(process.execPath, ['healthgate.cjs', 'check', url, '--json'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', NODE_PATH: '' },
      timeout: 10_000,
    });
    expect(JSON.parse(stdout)).toMatchObject({
      ok: true,
      steps: [
        { step: 'health', ok: true },
        { step: 'websocket', ok: true, status: 101 },
      ],
    });
  });
});
