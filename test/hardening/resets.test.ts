import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defer, drainCleanup } from '../helpers/cleanup';
import { startRawServer } from '../helpers/backends';
import { startCli, type CliProcess, loopbackArgs } from '../helpers/cli';
import { onlyResponse, parseResponse, requestHead } from '../helpers/http';
import { mb, openFds, rssBytes, sample, scrape } from '../helpers/proc';
import { destroyAndWait, rawRequest, RawClient } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';

// Half-open and reset connections in every state of a connection's life (src/connection.ts):
// sniffing, answering, connecting, piping, closing. For each, the client half-closes (FIN) or
// resets (RST); healthgate answers what the SPEC says, and afterwards holds no connection, has
// logged no error and still serves.

const BLACKHOLE = join(__dirname, '..', 'fixtures', 'blackhole.js');

/** An echo backend that never answers a request for /hang (healthgate's websocket check, held for its 1 s timeout). */
class HangingEchoBackend {
  private constructor(
    readonly port: number,
    /** Every socket it accepted, by the first bytes it read. */
    private readonly byFirstBytes: ReadonlyMap<string, Socket>,
  ) {}

  static async start(): Promise<HangingEchoBackend> {
    const byFirstBytes = new Map<string, Socket>();
    const { port } = await startRawServer((socket) => {
      socket.once('data', (first: Buffer) => {
        byFirstBytes.set(first.toString('latin1'), socket);
        if (first.toString('latin1').startsWith('GET /hang ')) return;
        socket.write(first);
        // Echoes the rest and ends its side after the client's FIN.
        socket.pipe(socket);
      });
    });
    return new HangingEchoBackend(port, byFirstBytes);
  }

  /** The backend side of the tunnel whose client sent `firstBytes` first. */
  socketFor(firstBytes: string): Socket {
    const socket = this.byFirstBytes.get(firstBytes);
    if (!socket) throw new Error(`no backend connection began with ${JSON.stringify(firstBytes)}`);
    return socket;
  }
}

/** Resolves once healthgate holds no connection but the scrape's own, and has logged no error. */
async function expectNothingLeft(cli: CliProcess): Promise<void> {
  await pollUntil(
    'healthgate to hold no connection',
    async () => (sample(await scrape(cli.port), 'healthgate_connections_active') === 1 ? true : undefined),
    { timeoutMs: 5000, intervalMs: 50 },
  );
  expect(onlyResponse(await rawRequest(cli.port, requestHead('GET /live HTTP/1.1', ['Connection: close']))).status).toBe(200);
  expect(cli.logs.filter((l) => l.level === 'error')).toEqual([]);
  expect(cli.child.exitCode).toBeNull();
}

/** A client whose health request is waiting on a readiness check (state `answering`): no answer within 150 ms. */
async function clientInAnswering(port: number): Promise<RawClient> {
  // The check's result is cached for 1 s: a request that finds it fresh is answered at once. Try
  // again until one has to wait for a check (within about a second).
  return pollUntil(
    'a health request that has to wait for a check',
    async () => {
      const client = await RawClient.connect(port);
      await client.write(requestHead('GET /health HTTP/1.1', ['Host: x']));
      const answered = await client
        .waitFor('an answer', (b) => b.length > 0, 150)
        .then(
          () => true,
          () => false,
        );
      if (!answered) return client;
      await destroyAndWait(client.socket);
      return undefined;
    },
    { timeoutMs: 5000, intervalMs: 100 },
  );
}

describe('half-open and reset connections in every state', () => {
  let backend: HangingEchoBackend;
  let cli: CliProcess;

  beforeAll(async () => {
    backend = await HangingEchoBackend.start();
    cli = await startCli([
      ...[...loopbackArgs(backend.port), '--backend-host', '127.0.0.1'],
      ...['--health-check', 'websocket', '--check-path', '/hang', '--live-path', '/live', '--metrics-path', '/metrics'],
      ...['--header-timeout', '3000', '--drain-timeout', '1000'],
    ]);
  });
  afterEach(async () => {
    await expectNothingLeft(cli);
  });
  afterAll(drainCleanup);

  describe('sniffing', () => {
    it('FIN mid-head: closed without an answer', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write('GET /health HTTP/1.1\r\nHost: exa');
      client.end();
      expect((await client.readToClose()).length).toBe(0);
    });

    it('FIN before any byte: closed silently', async () => {
      const client = await RawClient.connect(cli.port);
      client.end();
      expect((await client.readToClose()).length).toBe(0);
    });

    it('RST mid-head', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write('GET /health HTTP/1.1\r\nHost: exa');
      client.socket.resetAndDestroy();
      await client.closed;
    });

    it('RST between keep-alive requests', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write(requestHead('GET /live HTTP/1.1', ['Host: x']));
      await client.waitFor('the answer', (b) => parseResponse(b) !== undefined);
      client.socket.resetAndDestroy();
      await client.closed;
    });
  });

  describe('answering (waiting on a readiness check that takes its full 1 s)', () => {
    it('FIN after the request: the answer still comes, then the close', async () => {
      const client = await clientInAnswering(cli.port);
      const endedAt = Date.now();
      client.end();
      const answer = onlyResponse(await client.readToClose(5000));
      // The check timed out: no handshake from /hang.
      expect(answer.status).toBe(503);
      expect(answer.body.toString()).toBe('unavailable: no handshake\n');
      // It was still waiting when the FIN went out.
      expect(Date.now() - endedAt).toBeGreaterThan(100);
    });

    it('RST while the answer is being prepared: the late answer goes nowhere, nothing breaks', async () => {
      const client = await clientInAnswering(cli.port);
      client.socket.resetAndDestroy();
      await client.closed;
      // Let the check finish and the answer be written to the dead socket.
      const again = onlyResponse(
        await rawRequest(cli.port, requestHead('GET /health HTTP/1.1', ['Connection: close']), { timeoutMs: 5000 }),
      );
      expect(again.status).toBe(503);
    });
  });

  describe('connecting (a backend whose accept queue is full: the connect hangs for 2 s)', () => {
    let blackholeGate: CliProcess;
    beforeAll(async () => {
      const hole = spawn(process.execPath, [BLACKHOLE], { stdio: ['ignore', 'pipe', 'ignore'] });
      const exited = once(hole, 'exit');
      defer(async () => {
        hole.kill('SIGKILL');
        await exited;
      });
      const [line] = (await within(once(createInterface({ input: hole.stdout }), 'line'), 10_000, 'the blackhole port')) as [string];
      const port = Number(line);
      // Two connections fill its accept queue (backlog 1); later SYNs are dropped.
      const fillers = await Promise.all([0, 1].map(() => RawClient.connect(port)));
      expect(fillers).toHaveLength(2);
      blackholeGate = await startCli([
        ...[...loopbackArgs(port), '--backend-host', '127.0.0.1'],
        ...['--live-path', '/live', '--metrics-path', '/metrics', '--drain-timeout', '1000'],
      ]);
    });
    afterEach(async () => {
      await expectNothingLeft(blackholeGate);
    });

    it('FIN right after an upgrade request: 503 with Retry-After once the connect times out', async () => {
      const client = await RawClient.connect(blackholeGate.port);
      const sentAt = Date.now();
      await client.write(requestHead('GET /ws HTTP/1.1', ['Host: x', 'Upgrade: websocket', 'Connection: Upgrade']));
      client.end();
      const answer = onlyResponse(await client.readToClose(5000));
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      // It was connecting, not refused: the answer waited for the 2 s connect timeout.
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1900);
    });

    it('regression: RST while the backend connect is pending stops the connect at once', async () => {
      const pid = blackholeGate.child.pid!;
      const before = openFds(pid);
      const client = await RawClient.connect(blackholeGate.port);
      await client.write(requestHead('GET /ws HTTP/1.1', ['Host: x', 'Upgrade: websocket', 'Connection: Upgrade']));
      // The accepted client and the backend socket that is connecting.
      await pollUntil('the backend connect to start', () => (openFds(pid) === before + 2 ? true : undefined));
      client.socket.resetAndDestroy();
      await client.closed;
      // The connect would run on for its 2 s timeout, holding a descriptor; it is stopped with
      // the client, within a few ms (1 s: far under the timeout, far over a slow machine's delay).
      await pollUntil('both descriptors to be closed', () => (openFds(pid) <= before ? true : undefined), {
        timeoutMs: 1000,
        intervalMs: 10,
      });
    });
  });

  describe('piping', () => {
    it('client RST: the backend side of that tunnel is reset', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write('PIPE rst\n');
      await client.waitFor('the echo', (b) => b.length === 9);
      const tunnel = backend.socketFor('PIPE rst\n');
      const ended = new Promise<string | undefined>((resolve) => {
        tunnel.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
        tunnel.once('close', () => resolve(undefined));
      });
      client.socket.resetAndDestroy();
      // A reset is passed on as a reset, not as a clean end (src/pipe.ts).
      expect(await within(ended, 5000, 'the backend side to close')).toBe('ECONNRESET');
    });

    it('backend RST: the client is cut, with a reset', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write('PIPE backend-rst\n');
      await client.waitFor('the echo', (b) => b.length === 17);
      backend.socketFor('PIPE backend-rst\n').resetAndDestroy();
      await within(client.closed, 5000, 'the client to be cut');
      expect(client.error?.code).toBe('ECONNRESET');
    });

    // A client FIN with the backend's reply and end after it is also proxy.test.ts's (in-process);
    // here the reply comes after the FIN, and afterEach proves nothing is left.
    it('client half-open: the backend writes on after the client FIN, the client gets every byte, then the end', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write('PIPE half\n');
      await client.waitFor('the echo', (b) => b.length === 10);
      const tunnel = backend.socketFor('PIPE half\n');
      tunnel.unpipe(tunnel);
      tunnel.resume();
      const backendSawEnd = new Promise<void>((resolve) => tunnel.once('end', resolve));
      client.end();
      await within(backendSawEnd, 5000, 'the FIN at the backend');
      const after = Buffer.alloc(1024 * 1024, 0x43);
      tunnel.end(after);
      const received = await client.readToClose();
      expect(received.length).toBe(10 + after.length);
      expect(received.subarray(10).equals(after)).toBe(true);
    });
  });

  describe('closing (an error answer written, lingering for the client to close)', () => {
    const BAD = requestHead('GET /health HTTP/1.1', ['no colon here']);

    it('the client keeps sending after the 400, then FIN: the 400 is whole, then the close', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write(BAD);
      await client.waitFor('the 400', (b) => parseResponse(b) !== undefined);
      await client.write(Buffer.alloc(1024 * 1024, 0x41)).catch(() => undefined);
      client.end();
      expect(onlyResponse(await client.readToClose()).status).toBe(400);
    });

    it('RST while lingering', async () => {
      const client = await RawClient.connect(cli.port);
      await client.write(BAD);
      await client.waitFor('the 400', (b) => parseResponse(b) !== undefined);
      client.socket.resetAndDestroy();
      await client.closed;
    });

    it('a client that never closes and pushes as fast as it can after the answer: no memory held, cut after the linger', async () => {
      const pid = cli.child.pid!;
      const rssBefore = rssBytes(pid);
      // allowHalfOpen: our side stays open after healthgate's FIN, as a client that ignores it.
      const socket = connect({ port: cli.port, host: '127.0.0.1', allowHalfOpen: true });
      defer(() => destroyAndWait(socket));
      socket.on('error', () => undefined);
      // Not events.once(): it rejects on the EPIPE or reset that ends this client.
      const closed = new Promise((resolve) => socket.once('close', resolve));
      await once(socket, 'connect');
      socket.write(BAD);
      const [answer] = (await once(socket, 'data')) as [Buffer];
      expect(onlyResponse(answer).status).toBe(400);
      const answeredAt = Date.now();
      let pushed = 0;
      let rssMax = rssBefore;
      const block = Buffer.alloc(256 * 1024, 0x42);
      while (!socket.destroyed && socket.writable) {
        rssMax = Math.max(rssMax, rssBytes(pid));
        pushed += block.length;
        if (!socket.write(block)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
      }
      await closed;
      const cutAfterMs = Date.now() - answeredAt;
      // LINGER_MS in src/connection.ts: 2 s.
      expect(cutAfterMs).toBeGreaterThanOrEqual(1900);
      // The 2 s linger plus a close (~20 ms quiet, pushing 256 KiB writes): 2 s of slack is far
      // over 5× that, and tells "cut at the linger" from "never cut".
      expect(cutAfterMs).toBeLessThan(4000);
      expect(pushed).toBeGreaterThan(10 * 1024 * 1024);
      expect(rssMax - rssBefore).toBeLessThan(200 * 1024 * 1024);
      console.log(
        `closing: a client pushed ${mb(pushed)} after its 400; cut after ${cutAfterMs} ms; healthgate RSS ${mb(rssBefore)} before, ${mb(rssMax)} at most`,
      );
    });
  });
});
