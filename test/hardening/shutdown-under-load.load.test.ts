import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { drainCleanup } from '../helpers/cleanup';
import { startCli, type CliProcess, loopbackArgs } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';
import { openWebSocket } from '../helpers/ws-client';

// Shutdown under load: SIGTERM while 200 WebSocket connections stream through healthgate in
// entrypoint mode. Every echo a client got before its close is byte-exact and in order; with an
// app that drains (close frames on SIGTERM) every client gets the app's close frame whole, so no
// message and no frame was cut by healthgate; and the process exits within the drain timeout.

afterEach(drainCleanup);

const CONNECTIONS = 200;
const IN_FLIGHT = 4;
const DRAIN_APP = join(__dirname, '..', 'fixtures', 'drain-app.js');
const CHILD_APP = join(__dirname, '..', 'fixtures', 'child-app.js');
// Message bodies are cut from this pool at varying offsets and lengths (1 B to 16 KiB).
const POOL = randomBytes(64 * 1024);

/** A client that keeps `IN_FLIGHT` binary messages in flight and checks each echo against what it sent, in order. */
interface Stream {
  readonly echoes: () => number;
  readonly bytes: () => number;
  /** Resolves at the close with its code, and the first problem seen (a mismatch or a ws error), if any. */
  readonly closed: Promise<{ code: number; problem: string | undefined }>;
}

function stream(ws: WebSocket, id: number): Stream {
  const inFlight: Buffer[] = [];
  let seq = 0;
  let echoes = 0;
  let bytes = 0;
  let problem: string | undefined;
  const sendOne = (): void => {
    const size = 1 + ((id * 7919 + seq * 104_729) % (16 * 1024));
    const offset = (id * 131 + seq * 977) % (POOL.length - size);
    const header = Buffer.from(`${id}:${seq++}:`);
    const data = Buffer.concat([header, POOL.subarray(offset, offset + size)]);
    inFlight.push(data);
    ws.send(data, { binary: true }, () => undefined);
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const expected = inFlight.shift();
    if (problem === undefined && (!isBinary || expected === undefined || !data.equals(expected))) {
      problem = `connection ${id}: echo ${echoes} is ${data.length} bytes, expected ${expected?.length ?? 'none'}`;
    }
    echoes++;
    bytes += data.length;
    sendOne();
  });
  ws.on('error', (err: Error) => (problem ??= `connection ${id}: ${err.message}`));
  const closed = new Promise<{ code: number; problem: string | undefined }>((resolve) =>
    ws.once('close', (code: number) => resolve({ code, problem })),
  );
  for (let i = 0; i < IN_FLIGHT; i++) sendOne();
  return { echoes: () => echoes, bytes: () => bytes, closed };
}

async function startWithApp(
  app: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ cli: CliProcess; streams: Stream[] }> {
  const backendPort = await freePort();
  const cli = await startCli([...loopbackArgs(backendPort), '--backend-host', '127.0.0.1', ...args, '--', process.execPath, app], { env });
  await cli.waitForLine((l) => l === 'child listening');
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => openWebSocket(`ws://127.0.0.1:${cli.port}/`)));
  const streams = clients.map((ws, i) => stream(ws, i));
  await pollUntil('every connection to stream', () => (streams.every((s) => s.echoes() >= 10) ? true : undefined), { timeoutMs: 20_000 });
  return { cli, streams };
}

const total = (streams: Stream[], f: (s: Stream) => number): number => streams.reduce((n, s) => n + f(s), 0);

// Its own timeout: start (a 20 s guard) plus two 10 s guards must be able to fire before jest's 30 s.
it(`SIGTERM while ${CONNECTIONS} WebSockets stream, the app drains: every client gets the app's close frame whole, every echo byte-exact, exit 0 well within the drain timeout`, async () => {
  const DRAIN_TIMEOUT_MS = 10_000;
  const { cli, streams } = await startWithApp(DRAIN_APP, ['--drain-timeout', String(DRAIN_TIMEOUT_MS)]);
  const echoesAtSignal = total(streams, (s) => s.echoes());
  const signalledAt = Date.now();
  cli.child.kill('SIGTERM');

  const ends = await within(Promise.all(streams.map((s) => s.closed)), DRAIN_TIMEOUT_MS, 'every client to be closed');
  const { code, signal } = await within(cli.exited, DRAIN_TIMEOUT_MS, 'healthgate to exit');
  const exitedAfterMs = Date.now() - signalledAt;
  await cli.closed;

  expect(ends.flatMap((e) => (e.problem ? [e.problem] : []))).toEqual([]);
  // 1001 is the app's close frame: it reached every client whole, after every byte before it.
  expect(ends.filter((e) => e.code !== 1001).map((e) => e.code)).toEqual([]);
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  // The app closes at once and healthgate follows in ~200 ms quietly; the 10 s drain timeout it
  // must not sit out is 50× that.
  expect(exitedAfterMs).toBeLessThan(DRAIN_TIMEOUT_MS);
  console.log(
    `shutdown, draining app: ${CONNECTIONS} WebSockets, ${echoesAtSignal} echoes before SIGTERM, ${total(streams, (s) => s.echoes())} ` +
      `(${(total(streams, (s) => s.bytes()) / 1024 / 1024).toFixed(1)} MB) in all, byte-exact; all closed with 1001; exit 0 after ${exitedAfterMs} ms (drain timeout ${DRAIN_TIMEOUT_MS} ms)`,
  );
}, 60_000);

// Its own timeout: start (a 20 s guard) plus two 5 s guards must be able to fire before jest's 30 s.
it(`SIGTERM while ${CONNECTIONS} WebSockets stream, the app ignores it: tunnels stream on until the drain timeout, every echo byte-exact, exit 137 at the deadline`, async () => {
  const DRAIN_TIMEOUT_MS = 3000;
  const { cli, streams } = await startWithApp(CHILD_APP, ['--drain-timeout', String(DRAIN_TIMEOUT_MS)], { IGNORE_TERM: '1' });
  const signalledAt = Date.now();
  cli.child.kill('SIGTERM');
  const echoesAtSignal = total(streams, (s) => s.echoes());
  // The tunnels are left alone during the drain: every connection still gets echoes.
  const perConnection = streams.map((s) => s.echoes());
  await pollUntil(
    'every connection to echo during the drain',
    () => (streams.every((s, i) => s.echoes() > perConnection[i] + 5) ? true : undefined),
    {
      timeoutMs: DRAIN_TIMEOUT_MS,
    },
  );

  const ends = await within(Promise.all(streams.map((s) => s.closed)), DRAIN_TIMEOUT_MS + 2000, 'every client to be closed');
  const { code, signal } = await within(cli.exited, DRAIN_TIMEOUT_MS + 2000, 'healthgate to exit');
  const exitedAfterMs = Date.now() - signalledAt;
  await cli.closed;

  // What arrived before the cut is whole and in order (the ws client drops a partial last frame:
  // healthgate does not parse frames, so the deadline cuts the stream wherever it is).
  expect(ends.flatMap((e) => (e.problem ? [e.problem] : []))).toEqual([]);
  expect({ code, signal }).toEqual({ code: 137, signal: null });
  expect(exitedAfterMs).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_MS - 50);
  // The deadline, then SIGKILL and exit (~100 ms quietly): 1000 ms of slack is 10× that.
  expect(exitedAfterMs).toBeLessThan(DRAIN_TIMEOUT_MS + 1000);
  expect(cli.logs.find((l) => l.message === 'exiting')?.closedAtDeadline).toBe(CONNECTIONS);
  console.log(
    `shutdown, app ignores SIGTERM: ${CONNECTIONS} WebSockets, ${echoesAtSignal} echoes before SIGTERM, ${total(streams, (s) => s.echoes()) - echoesAtSignal} during the drain, ` +
      `all byte-exact; exit 137 after ${exitedAfterMs} ms (drain timeout ${DRAIN_TIMEOUT_MS} ms)`,
  );
}, 60_000);
