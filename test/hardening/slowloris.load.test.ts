import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EchoBackend } from '../helpers/backends';
import { defer, drainCleanup } from '../helpers/cleanup';
import { startCli, loopbackArgs } from '../helpers/cli';
import { onlyResponse, requestHead } from '../helpers/http';
import { sample, scrape } from '../helpers/proc';
import { destroyAndWait, rawRequest } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';

// Slow attacks: heads that never complete. Each is cut at the header timeout with a 408, counted
// from the connection's start however the bytes trickle in, while health checks on other
// connections are answered at once.

afterEach(drainCleanup);

const HEADER_TIMEOUT_MS = 2000;
const SLOWLORIS = 1000;
// A health answer takes 1-10 ms on a quiet machine, attack or not (the load tests run alone):
// 100 ms is 10× the worst of those, and still says "answered at once", not "queued behind the attack".
const MAX_HEALTH_MS = 100;

const ATTACKER = join(__dirname, '..', 'fixtures', 'slowloris.js');

/** What one slow client saw: its answer's status, when the answer and the close came, from its connect() call. */
interface Cut {
  readonly status: number | null;
  readonly answerAfterMs: number;
  readonly closedAfterMs: number;
}

/** Starts the attacker process: resolves with every connection's outcome once all are closed. */
function attack(port: number, connections: number, everyMs: number): { connected: Promise<void>; cuts: Promise<Cut[]> } {
  const attacker = spawn(process.execPath, [ATTACKER, String(port), String(connections), String(everyMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(attacker, 'exit');
  defer(async () => {
    if (attacker.exitCode === null && attacker.signalCode === null) attacker.kill('SIGKILL');
    await exited;
  });
  const lines = createInterface({ input: attacker.stdout });
  const connected = new Promise<void>((resolve) => lines.on('line', (line) => line === 'connected' && resolve()));
  const cuts = new Promise<Cut[]>((resolve, reject) => {
    lines.on('line', (line) => line.startsWith('[') && resolve(JSON.parse(line) as Cut[]));
    // After the report this is a no-op; before it, the attacker failed.
    attacker.once('exit', (code) => reject(new Error(`the attacker exited (${code}) before its report`)));
  });
  return { connected, cuts };
}

/** One health check on a connection of its own: ms from connect to the whole answer. */
async function timedHealthCheck(port: number): Promise<{ status: number; ms: number }> {
  const startedAt = Date.now();
  const bytes = await rawRequest(port, requestHead('GET /health HTTP/1.1', ['Host: healthcheck.railway.app', 'Connection: close']));
  return { status: onlyResponse(bytes).status, ms: Date.now() - startedAt };
}

describe('slow attacks', () => {
  let backend: EchoBackend;
  let port: number;
  let logs: () => Array<Record<string, unknown>>;

  beforeEach(async () => {
    backend = await EchoBackend.start('app');
    const cli = await startCli([
      ...[...loopbackArgs(backend.port), '--backend-host', '127.0.0.1'],
      ...['--header-timeout', String(HEADER_TIMEOUT_MS), '--metrics-path', '/metrics', '--drain-timeout', '1000'],
    ]);
    port = cli.port;
    logs = () => cli.logs;
    // Warm: the first readiness check is done, so that every timed check below is like the rest.
    expect((await timedHealthCheck(port)).status).toBe(200);
  });

  it(`${SLOWLORIS} slowloris connections are each cut at the header timeout (408) while health checks on other connections are answered within ${MAX_HEALTH_MS} ms`, async () => {
    const { connected, cuts: attackEnded } = attack(port, SLOWLORIS, 500);
    let attackDone = false;
    void attackEnded.then(
      () => (attackDone = true),
      () => (attackDone = true),
    );
    let connectedAfterMs = -1;
    const startedAt = Date.now();
    void connected.then(() => (connectedAfterMs = Date.now() - startedAt));

    // Health checks one after another, every 20 ms, for as long as the attack lasts: its ramp,
    // the held connections, and the burst of 408s at the timeout.
    const checks: Array<{ status: number; ms: number }> = [];
    while (!attackDone) {
      checks.push(await timedHealthCheck(port));
      // The pace of the checks (the scenario), not a synchronisation: the attack's end also wakes it.
      await Promise.race([attackEnded, new Promise((resolve) => setTimeout(resolve, 20))]);
    }
    const cuts = await within(attackEnded, 10_000, 'the attack to end');

    expect(cuts.filter((c) => c.status !== 408)).toEqual([]);
    const answerTimes = cuts.map((c) => c.answerAfterMs).sort((a, b) => a - b);
    const closeTimes = cuts.map((c) => c.closedAfterMs).sort((a, b) => a - b);
    // Cut at the timeout, counted from the connection's start: not before, and not much after.
    expect(answerTimes[0]).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 20);
    // Cutting every held connection at once takes ~100 ms quietly: 1000 ms of slack is 10× that.
    expect(answerTimes[answerTimes.length - 1]).toBeLessThan(HEADER_TIMEOUT_MS + 1000);
    expect(closeTimes[closeTimes.length - 1]).toBeLessThan(HEADER_TIMEOUT_MS + 1000);

    expect(checks.length).toBeGreaterThan(10);
    expect(checks.filter((c) => c.status !== 200)).toEqual([]);
    const healthTimes = checks.map((c) => c.ms).sort((a, b) => a - b);
    expect(healthTimes[healthTimes.length - 1]).toBeLessThan(MAX_HEALTH_MS);

    // One warning and its summary, not a thousand lines.
    await pollUntil('the 408 summary', () =>
      logs().some((l) => /^answered 408 \(and \d+ more/.test(String(l.message))) ? true : undefined,
    );
    const lines = logs().filter((l) => String(l.message).startsWith('answered 408'));
    expect(lines.length).toBeLessThanOrEqual(6);
    const metrics = await scrape(port);
    expect(sample(metrics, 'healthgate_errors_total{kind="header_timeout"}')).toBe(SLOWLORIS);
    expect(sample(metrics, 'healthgate_connections_active')).toBe(1);
    const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
    console.log(
      `slowloris: ${SLOWLORIS} connections (all up after ${connectedAfterMs} ms) cut with 408 after ${answerTimes[0]}–${answerTimes[answerTimes.length - 1]} ms ` +
        `(timeout ${HEADER_TIMEOUT_MS} ms), all closed by ${closeTimes[closeTimes.length - 1]} ms; ${checks.length} health checks meanwhile, ` +
        `p50 ${pct(healthTimes, 0.5)} ms, p99 ${pct(healthTimes, 0.99)} ms, max ${healthTimes[healthTimes.length - 1]} ms; ${lines.length} warning lines`,
    );
  });

  it('a client trickling a 20 KB head one byte every 10 ms is cut at the header timeout (408), long before the head would end', async () => {
    const head = Buffer.from(requestHead('GET /health HTTP/1.1', ['Host: victim', `X-Long: ${'b'.repeat(20 * 1024)}`]), 'latin1');
    const connectedAt = Date.now();
    const socket = connect({ port, host: '127.0.0.1' });
    defer(() => destroyAndWait(socket));
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const ended = new Promise<void>((resolve) => socket.once('end', resolve));
    await once(socket, 'connect');
    let sent = 0;
    let cutAfterMs = -1;
    void ended.then(() => (cutAfterMs = Date.now() - connectedAt));
    const trickle = setInterval(() => {
      if (cutAfterMs >= 0 || sent >= head.length) return clearInterval(trickle);
      socket.write(head.subarray(sent, sent + 1));
      sent++;
    }, 10);
    defer(() => clearInterval(trickle));
    await within(ended, HEADER_TIMEOUT_MS + 3000, 'healthgate to cut the trickling client');
    clearInterval(trickle);
    expect(onlyResponse(received).status).toBe(408);
    expect(cutAfterMs).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 20);
    // One timer and a close: ~10 ms past the timeout quietly; 500 ms is 50× that.
    expect(cutAfterMs).toBeLessThan(HEADER_TIMEOUT_MS + 500);
    expect(sent).toBeLessThan(head.length / 10);
    console.log(
      `trickle: ${sent} of ${head.length} head bytes sent, one per 10 ms; 408 and FIN after ${cutAfterMs} ms (timeout ${HEADER_TIMEOUT_MS} ms)`,
    );
  });
});
