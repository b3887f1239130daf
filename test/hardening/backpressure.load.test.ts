import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { defer, drainCleanup } from '../helpers/cleanup';
import { startRawServer } from '../helpers/backends';
import { startCli, loopbackArgs } from '../helpers/cli';
import { mb, rssBytes } from '../helpers/proc';
import { connectSocket, destroyAndWait } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';

// Backpressure end to end: a backend that reads slowly while a client pushes 1 GiB, and a client
// that stops reading while the backend writes. healthgate's memory (the VmRSS of its process)
// stays bounded, the writer is paced, and every byte arrives in order.

afterEach(drainCleanup);

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
// The bound on healthgate's RSS growth: a proxy that buffered what it cannot pass on would grow
// by hundreds of MB within the first second (the client writes at loopback speed).
const MAX_RSS_GROWTH = 200 * MiB;
// What may sit in kernel buffers and stream buffers on the way (two sockets' send and receive
// buffers on loopback, a few MB each) before the writer must wait: far below what it would write.
const MAX_IN_FLIGHT = 64 * MiB;

/** A stream of bytes with a 1 MiB random period: `stream[i] = PATTERN[i % 1 MiB]`; a drop, a repeat or a swap shows. */
const PERIOD = MiB;
const PATTERN = randomBytes(PERIOD);
const DOUBLED = Buffer.concat([PATTERN, PATTERN]);

/** Checks that `chunk` is the stream's bytes at `offset` (chunks of up to 1 MiB). */
function isStreamAt(chunk: Buffer, offset: number): boolean {
  const start = offset % PERIOD;
  return chunk.length <= PERIOD && chunk.equals(DOUBLED.subarray(start, start + chunk.length));
}

/** Samples `pid`'s RSS every 50 ms until stopped; `max()` is the largest seen. */
function sampleRss(pid: number): { max: () => number; stop: () => void } {
  let max = rssBytes(pid);
  const timer = setInterval(() => (max = Math.max(max, rssBytes(pid))), 50);
  return { max: () => max, stop: () => clearInterval(timer) };
}

/** Resolves once `count()` has not moved for `quietMs` (the writer is blocked by backpressure). */
async function whenStalled(what: string, count: () => number, quietMs = 400): Promise<number> {
  let last = -1;
  let since = Date.now();
  return pollUntil(
    what,
    () => {
      const now = count();
      if (now !== last) {
        last = now;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= quietMs ? now : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 25 },
  );
}

/** RSS of `pid` now, and sampled from now on until the test ends. */
function watchRss(pid: number) {
  const rssBefore = rssBytes(pid);
  const rss = sampleRss(pid);
  defer(() => rss.stop());
  return { rssBefore, rss };
}

/** healthgate in front of `backendPort`, its RSS sampled from now on, and a client connected through it. */
async function connectThroughCli(backendPort: number) {
  const cli = await startCli([...loopbackArgs(backendPort), '--backend-host', '127.0.0.1', '--drain-timeout', '2000']);
  const pid = cli.child.pid!;
  const { rssBefore, rss } = watchRss(pid);
  const client = await connectSocket(cli.port);
  return { pid, rssBefore, rss, client };
}

// Its own timeout: its guards (120 s to push, 60 s to read) must be able to fire before jest's 30 s.
it('a backend slow to read while a client pushes 1 GiB: the client is paced, healthgate stays under +200 MB RSS, every byte arrives in order', async () => {
  let backendSocket: Socket | undefined;
  let received = 0;
  let corrupt: string | undefined;
  const { port: backendPort } = await startRawServer((socket) => {
    backendSocket = socket;
    // It does not read at all until the test lets it.
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      if (corrupt === undefined && !isStreamAt(chunk, received))
        corrupt = `bytes ${received}..${received + chunk.length} differ from what was sent`;
      received += chunk.length;
    });
    socket.on('end', () => socket.end());
  });
  const { pid, rssBefore, rss, client } = await connectThroughCli(backendPort);
  let sent = 0;
  let blockedWrites = 0;
  // Not HTTP: routed at its first byte, then piped; the pattern continues from offset 0 after it.
  const push = (async () => {
    const slice = 256 * 1024;
    while (sent < GiB) {
      const offset = sent % PERIOD;
      const chunk = PATTERN.subarray(offset, Math.min(offset + slice, PERIOD));
      sent += chunk.length;
      if (!client.write(chunk)) {
        blockedWrites++;
        await once(client, 'drain');
      }
    }
    client.end();
  })();

  // Phase 1: the backend reads nothing. The client must stop, with little in flight.
  const sentWhileStalled = await whenStalled('the client to be blocked', () => sent);
  const rssStalled = rssBytes(pid);
  expect(sentWhileStalled).toBeLessThan(MAX_IN_FLIGHT);
  expect(rssStalled - rssBefore).toBeLessThan(MAX_RSS_GROWTH);

  // Phase 2: the backend reads in bursts with pauses (5 ms after every 4 MiB): slower than the client.
  const startedAt = Date.now();
  let nextPause = 4 * MiB;
  backendSocket!.on('data', () => {
    if (received < nextPause) return;
    nextPause += 4 * MiB;
    backendSocket!.pause();
    setTimeout(() => backendSocket!.resume(), 5);
  });
  backendSocket!.resume();
  await within(push, 120_000, 'the client to push 1 GiB');
  await within(once(backendSocket!, 'end'), 60_000, 'the backend to read to the end');
  const seconds = (Date.now() - startedAt) / 1000;
  rss.stop();

  expect(corrupt).toBeUndefined();
  expect(received).toBe(GiB);
  expect(blockedWrites).toBeGreaterThan(0);
  expect(rss.max() - rssBefore).toBeLessThan(MAX_RSS_GROWTH);
  console.log(
    `slow backend: ${mb(received)} in ${seconds.toFixed(1)} s; ${mb(sentWhileStalled)} in flight while the backend read nothing; ` +
      `client blocked ${blockedWrites} times; healthgate RSS ${mb(rssBefore)} before, ${mb(rssStalled)} stalled, ${mb(rss.max())} at most`,
  );
}, 200_000);

// Its own timeout: the 60 s guard must be able to fire before jest's 30 s.
it('a client that stops reading while the backend writes: the backend is paced (write() returns false), healthgate stays under +200 MB RSS, nothing is lost', async () => {
  const TOTAL = 256 * MiB;
  let written = 0;
  let falseWrites = 0;
  let maxWritableLength = 0;
  const { port: backendPort } = await startRawServer((socket) => {
    // Writes the pattern as fast as the socket takes it, waiting for 'drain' when write() says so.
    const slice = 256 * 1024;
    const pump = (): void => {
      while (written < TOTAL) {
        const offset = written % PERIOD;
        const chunk = PATTERN.subarray(offset, Math.min(offset + slice, PERIOD));
        written += chunk.length;
        const more = socket.write(chunk);
        maxWritableLength = Math.max(maxWritableLength, socket.writableLength);
        if (!more) {
          falseWrites++;
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.once('data', pump);
    socket.resume();
  });
  const { pid, rssBefore, rss, client } = await connectThroughCli(backendPort);
  // The client asks, then reads nothing.
  client.pause();
  client.write('PULL\n');

  const writtenWhileStalled = await whenStalled('the backend to be blocked', () => written);
  const rssStalled = rssBytes(pid);
  expect(falseWrites).toBeGreaterThan(0);
  expect(writtenWhileStalled).toBeLessThan(MAX_IN_FLIGHT);
  expect(rssStalled - rssBefore).toBeLessThan(MAX_RSS_GROWTH);

  // The client reads again: everything arrives, in order, and the backend finishes.
  let received = 0;
  let corrupt: string | undefined;
  client.on('data', (chunk: Buffer) => {
    if (corrupt === undefined && !isStreamAt(chunk, received))
      corrupt = `bytes ${received}..${received + chunk.length} differ from what was sent`;
    received += chunk.length;
  });
  client.resume();
  await within(once(client, 'end'), 60_000, 'the client to read to the end');
  rss.stop();
  expect(corrupt).toBeUndefined();
  expect(received).toBe(TOTAL);
  expect(rss.max() - rssBefore).toBeLessThan(MAX_RSS_GROWTH);
  console.log(
    `client not reading: backend wrote ${mb(writtenWhileStalled)} then write() returned false and no 'drain' came (max writableLength ${mb(maxWritableLength)}); ` +
      `after resuming ${mb(received)} arrived; healthgate RSS ${mb(rssBefore)} before, ${mb(rssStalled)} stalled, ${mb(rss.max())} at most`,
  );
}, 90_000);

// Its own timeout: the 60 s guard must be able to fire before jest's 30 s.
it('a client that pipelines health requests and reads no answers: healthgate stops reading it, stays under +200 MB RSS, and answers every request once it reads', async () => {
  const { port: backendPort } = await startRawServer((socket) => socket.resume());
  const cli = await startCli([
    ...loopbackArgs(backendPort),
    '--backend-host',
    '127.0.0.1',
    '--live-path',
    '/live',
    '--drain-timeout',
    '2000',
  ]);
  const pid = cli.child.pid!;
  const request = Buffer.from('GET /live HTTP/1.1\r\nHost: x\r\n\r\n');
  const batch = Buffer.concat(Array.from({ length: 2048 }, () => request));

  // The size of one answer, from a client that reads.
  const probe = connect({ port: cli.port, host: '127.0.0.1' });
  defer(() => destroyAndWait(probe));
  probe.on('error', () => undefined);
  let probed = Buffer.alloc(0);
  probe.on('data', (chunk: Buffer) => (probed = Buffer.concat([probed, chunk])));
  const probeEnded = once(probe, 'end');
  probe.end(request);
  await probeEnded;
  const answerLength = probed.length;
  expect(probed.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/);

  const { rssBefore, rss } = watchRss(pid);
  const client = await connectSocket(cli.port);
  client.pause();
  let sent = 0;
  let stop = false;
  const push = (): void => {
    while (!stop) {
      sent += batch.length;
      if (!client.write(batch)) {
        client.once('drain', push);
        return;
      }
    }
  };
  push();
  const sentWhileStalled = await whenStalled('the client to be blocked', () => sent);
  stop = true;
  const rssStalled = rssBytes(pid);
  expect(sentWhileStalled).toBeLessThan(MAX_IN_FLIGHT);
  expect(rssStalled - rssBefore).toBeLessThan(MAX_RSS_GROWTH);

  // It reads now, and says it is done: every request is answered, in order, then the close.
  let received = 0;
  let answersIntact = true;
  const answer = probed;
  client.on('data', (chunk: Buffer) => {
    // Every answer is the same bytes: check each chunk against the answer stream at its offset.
    for (let i = 0; i < chunk.length && answersIntact; i++) answersIntact = chunk[i] === answer[(received + i) % answerLength];
    received += chunk.length;
  });
  const ended = once(client, 'end');
  client.resume();
  client.once('drain', () => client.end());
  if (!client.writableNeedDrain) client.end();
  await within(ended, 60_000, 'every answer');
  rss.stop();
  const requests = sent / request.length;
  expect(answersIntact).toBe(true);
  expect(received).toBe(requests * answerLength);
  expect(rss.max() - rssBefore).toBeLessThan(MAX_RSS_GROWTH);
  console.log(
    `pipelining, not reading: ${mb(sentWhileStalled)} (${requests} requests) sent before the client was blocked; all ${requests} answered ` +
      `(${mb(received)}) once it read; healthgate RSS ${mb(rssBefore)} before, ${mb(rssStalled)} stalled, ${mb(rss.max())} at most`,
  );
}, 90_000);
