import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { EchoBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { startCli, type CliProcess, loopbackArgs } from '../helpers/cli';
import { parseResponse, type ParsedResponse } from '../helpers/http';
import { RawClient } from '../helpers/raw';

// Generated traffic through the built CLI: many connections at once, each a mix of health
// requests (pipelined, keep-alive), WebSocket upgrades, other HTTP and raw binary, every one
// written in random chunks at random paces. Every byte that reaches the backend is what the
// client sent, in order, and it comes back the same (the echo backend sends it back).
//
// Seeded so that a failure replays: FC_SEED=<seed> FC_PATH=<path> npx jest test/hardening/traffic
// (fast-check prints both in the failure). FC_RUNS sets the number of generated scenarios.
const SEED = Number(process.env.FC_SEED ?? 20261128);
const RUNS = Number(process.env.FC_RUNS ?? 40);
const PATH = process.env.FC_PATH;

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** What a client sends and expects on one connection. */
interface Plan {
  /** Health requests answered by healthgate, before anything else on the connection. */
  readonly health: ReadonlyArray<{ readonly bytes: Buffer; readonly isHead: boolean }>;
  /** The bytes that must reach the backend (empty: a health-only connection that closes itself). */
  readonly toBackend: Buffer;
  /** Cut points into the whole stream (health requests then backend bytes). */
  readonly cuts: readonly number[];
  /** Pause after each chunk: 0 = the next turn of the event loop. */
  readonly pausesMs: readonly number[];
}

const pathOnHealth = fc.constantFrom('/', '/health', '/health?probe=1', 'http://gate.test/health');
const pad = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_.;='.split('')), maxLength: 40 });

/** One health request; `last` closes the connection after its answer (Connection: close or HTTP/1.0). */
const healthRequest = (last: boolean) =>
  fc
    .record({
      method: fc.constantFrom('GET', 'HEAD'),
      path: pathOnHealth,
      pad,
      accept: fc.boolean(),
      body: fc.constantFrom('', '', 'hello', '0123456789abcdef'),
      closeWith: fc.constantFrom('Connection: close', 'HTTP/1.0'),
      lf: fc.boolean(),
    })
    .map(({ method, path, pad, accept, body, closeWith, lf }) => {
      const version = last && closeWith === 'HTTP/1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
      const headers = ['Host: healthcheck.railway.app', `X-Pad: ${pad}`];
      if (accept) headers.push('Accept: text/plain');
      if (body !== '') headers.push(`Content-Length: ${body.length}`);
      if (last && version === 'HTTP/1.1') headers.push('Connection: close');
      // A bare LF ends lines too (SPEC: a line may end in CRLF or a bare LF).
      const eol = lf ? '\n' : '\r\n';
      const head = [`${method} ${path} ${version}`, ...headers, '', ''].join(eol);
      return { bytes: latin1(head + body), isHead: method === 'HEAD' };
    });

// Mostly short, sometimes tens of KB (several TCP segments, several reads on each side).
const payload = fc
  .oneof({ weight: 3, arbitrary: fc.uint8Array({ maxLength: 100 }) }, fc.uint8Array({ maxLength: 40_000, size: 'xlarge' }))
  .map((bytes) => Buffer.from(bytes));

/** Bytes the backend must get: an upgrade (any path, also a health one), other HTTP, or not HTTP at all. */
const backendStream = fc.oneof(
  fc
    .record({ path: fc.constantFrom('/', '/health', '/ws', '/chat?room=1'), name: fc.mixedCase(fc.constant('upgrade')), payload })
    .map(({ path, name, payload }) =>
      Buffer.concat([
        latin1(
          `GET ${path} HTTP/1.1\r\nHost: app.test\r\n${name}: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
        payload,
      ]),
    ),
  fc
    .record({
      request: fc.constantFrom('POST /health HTTP/1.1', 'GET /api/items HTTP/1.1', 'PUT / HTTP/1.0', 'OPTIONS * HTTP/1.1'),
      payload,
    })
    .map(({ request, payload }) =>
      Buffer.concat([latin1(`${request}\r\nHost: app.test\r\nContent-Length: ${payload.length}\r\n\r\n`), payload]),
    ),
  // Not HTTP/1.x: TLS, a NUL, a high byte, a lower-case method, SSH.
  fc
    .record({
      first: fc.constantFrom('\x16\x03\x01', '\x00', '\xff', 'get / HTTP/1.1\r\n', 'SSH-2.0-x\r\n', 'PRI * HTTP/2.0\r\n'),
      payload,
    })
    .map(({ first, payload }) => Buffer.concat([latin1(first), payload])),
);

const plan: fc.Arbitrary<Plan> = fc
  .record({
    keepAlive: fc.array(healthRequest(false), { maxLength: 3 }),
    end: fc.oneof(
      backendStream.map((bytes) => ({ kind: 'backend' as const, bytes })),
      healthRequest(true).map((request) => ({ kind: 'health' as const, request })),
    ),
  })
  .chain(({ keepAlive, end }) => {
    const health = end.kind === 'health' ? [...keepAlive, end.request] : keepAlive;
    const toBackend = end.kind === 'backend' ? end.bytes : Buffer.alloc(0);
    const total = health.reduce((n, r) => n + r.bytes.length, 0) + toBackend.length;
    return fc
      .record({
        health: fc.constant(health),
        toBackend: fc.constant(toBackend),
        cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, total - 1) }), { maxLength: 12 }),
        pausesMs: fc.array(fc.constantFrom(0, 0, 1, 3), { minLength: 13, maxLength: 13 }),
      })
      .map((p) => withSummary(p));
  });

/** A counterexample's line in fast-check's report: the shape, not every byte (FC_SEED/FC_PATH replay it whole). */
function withSummary(p: Plan): Plan {
  const first = p.toBackend.subarray(0, 24).toString('latin1');
  const summary = `{health: ${p.health.length}, toBackend: ${p.toBackend.length} B ${JSON.stringify(first)}…, cuts: [${[...p.cuts].sort((a, b) => a - b).join(',')}]}`;
  return Object.assign(p, { [fc.toStringMethod]: () => summary });
}

/** Writes the plan's bytes in its chunks and pauses, half-closes, and resolves with all it received. */
async function run(port: number, p: Plan): Promise<Buffer> {
  const client = await RawClient.connect(port);
  const all = Buffer.concat([...p.health.map((r) => r.bytes), p.toBackend]);
  const ends = [...[...p.cuts].filter((c) => c < all.length).sort((a, b) => a - b), all.length];
  let start = 0;
  for (const [i, end] of ends.entries()) {
    client.socket.write(all.subarray(start, end));
    start = end;
    if (p.pausesMs[i] === 0) await new Promise((resolve) => setImmediate(resolve));
    else await delay(p.pausesMs[i]);
  }
  // A health-only connection is closed by healthgate after its last answer; a tunnel ends when
  // the echo backend has echoed our FIN.
  if (p.toBackend.length > 0) client.end();
  return client.readToClose(15_000);
}

/** Checks what one connection received: its health answers, in order, then the backend's echo of its bytes. */
function check(index: number, p: Plan, received: Buffer, backend: EchoBackend): void {
  let rest = received;
  p.health.forEach((request, i) => {
    const response: ParsedResponse | undefined = parseResponse(rest, { noBody: request.isHead });
    if (!response)
      throw new Error(
        `connection ${index}: no answer to health request ${i}; got ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`,
      );
    expect({ index, i, status: response.status }).toEqual({ index, i, status: 200 });
    if (!request.isHead) expect(response.body.toString('latin1')).toBe('ok\n');
    rest = rest.subarray(response.length);
  });
  const expected = p.toBackend.length > 0 ? backend.echoOf(p.toBackend) : Buffer.alloc(0);
  if (!rest.equals(expected)) {
    throw new Error(
      `connection ${index}: after ${p.health.length} answers got ${rest.length} bytes back, expected ${expected.length} (the echo of what it sent)`,
    );
  }
}

describe(`generated traffic through the CLI (seed ${SEED})`, () => {
  let backend: EchoBackend;
  let cli: CliProcess;
  let totals = { connections: 0, toBackendBytes: 0, healthAnswers: 0 };

  // One healthgate and one backend for every generated scenario, as in production.
  beforeAll(async () => {
    backend = await EchoBackend.start('echo');
    cli = await startCli([...loopbackArgs(backend.port), '--backend-host', '127.0.0.1']);
  });
  afterAll(drainCleanup);

  it('every byte reaches the backend unchanged and in order, and comes back; health requests are answered in between', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(plan, { minLength: 1, maxLength: 40, size: 'max' }), async (plans) => {
        const firstBackendConnection = backend.connections.length;
        const received = await Promise.all(plans.map((p) => run(cli.port, p)));
        plans.forEach((p, i) => check(i, p, received[i], backend));
        // What the backend got, as a multiset: exactly the backend streams, each whole (readiness
        // checks connect too and send nothing).
        await backend.waitUntil('every tunnel closed', () => backend.connections.slice(firstBackendConnection).every((c) => c.closed));
        const got = backend.connections
          .slice(firstBackendConnection)
          .map((c) => c.received)
          .filter((b) => b.length > 0);
        const sent = plans.map((p) => p.toBackend).filter((b) => b.length > 0);
        expect(got.map((b) => b.toString('base64')).sort()).toEqual(sent.map((b) => b.toString('base64')).sort());
        totals = {
          connections: totals.connections + plans.length,
          toBackendBytes: totals.toBackendBytes + sent.reduce((n, b) => n + b.length, 0),
          healthAnswers: totals.healthAnswers + plans.reduce((n, p) => n + p.health.length, 0),
        };
      }),
      { seed: SEED, numRuns: RUNS, path: PATH, endOnFailure: true },
    );
    // The figures for docs/security.md.
    console.log(
      `traffic: ${RUNS} scenarios, ${totals.connections} connections, ${totals.toBackendBytes} bytes to the backend and back, ${totals.healthAnswers} health answers`,
    );
    expect(totals.connections).toBeGreaterThan(RUNS);
    expect(cli.child.exitCode).toBeNull();
  });
});
