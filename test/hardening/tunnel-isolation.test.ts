import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { startRawServer } from '../helpers/backends';
import { defer, drainCleanup } from '../helpers/cleanup';
import { startCli, loopbackArgs } from '../helpers/cli';
import { destroyAndWait } from '../helpers/raw';
import { pollUntil, within } from '../helpers/wait';

// SPEC 2: a tunnel's bytes are its own. Many tunnels at once through the CLI, every byte tagged
// with its tunnel, its direction and its offset. Stalled clients read nothing while their backend
// sends far more than the kernel buffers hold, so that healthgate's writes to them stay pending;
// tunnels idle since before the stalls then get a burst; the rest stream both ways throughout.
// Every side must receive exactly its own tunnel's bytes, in order, complete.
//
// Regression: on the shared `onread` buffer of backend sockets, a socket idle since before the
// buffer was swapped read its burst into the old buffer, over bytes that a stalled client's
// pending write still referenced: that client then received another tunnel's bytes.

afterEach(drainCleanup);

const MiB = 1024 ** 2;
const RECORD = 8;
const STALLED = 6;
const IDLE_THEN_BUSY = 16;
const STREAMING = 10;
// Far past what loopback's send and receive buffers on both hops hold (a few MB each), so
// healthgate itself holds a pending write for every stalled client.
const STALLED_BYTES = 24 * MiB;
const BURST_BYTES = 256 * 1024;
const STREAM_BYTES = 2 * MiB;
const UP = 1;
const DOWN = 2;

/** The bytes at [offset, offset+length) of one tunnel's stream in one direction: 8-byte records (tag, index). */
function streamBytes(tunnel: number, direction: number, offset: number, length: number): Buffer {
  const first = Math.floor(offset / RECORD);
  const last = Math.ceil((offset + length) / RECORD);
  const out = Buffer.allocUnsafe((last - first) * RECORD);
  const tag = (tunnel << 8) | direction;
  for (let r = first, at = 0; r < last; r++, at += RECORD) {
    out.writeUInt32BE(tag, at);
    out.writeUInt32BE(r, at + 4);
  }
  return out.subarray(offset - first * RECORD, offset - first * RECORD + length);
}

/** Checks each chunk as it arrives against the stream it must be; remembers the first mismatch. */
class StreamVerifier {
  received = 0;
  firstMismatch: string | undefined;

  constructor(
    private readonly tunnel: number,
    private readonly direction: number,
  ) {}

  check(chunk: Buffer): void {
    if (this.firstMismatch === undefined && !chunk.equals(streamBytes(this.tunnel, this.direction, this.received, chunk.length))) {
      const at = chunk.findIndex((byte, i) => byte !== streamBytes(this.tunnel, this.direction, this.received + i, 1)[0]);
      const recordAt = Math.max(0, at - ((this.received + at) % RECORD));
      const tag = chunk.length >= recordAt + 4 ? chunk.readUInt32BE(recordAt) : -1;
      this.firstMismatch = `tunnel ${this.tunnel} dir ${this.direction}: byte ${this.received + at} differs (record tag there: tunnel ${tag >> 8}, dir ${tag & 0xff})`;
    }
    this.received += chunk.length;
  }
}

/** Writes `total` bytes of a stream in 64 KiB pieces, honouring backpressure. */
async function sendStream(socket: Socket, tunnel: number, direction: number, total: number): Promise<void> {
  for (let offset = 0; offset < total;) {
    const length = Math.min(64 * 1024, total - offset);
    if (!socket.write(streamBytes(tunnel, direction, offset, length))) await once(socket, 'drain');
    offset += length;
  }
}

interface Tunnel {
  readonly id: number;
  readonly client: Socket;
  readonly atClient: StreamVerifier;
  backend?: Socket;
  atBackend?: StreamVerifier;
}

// Its own timeout: its guards (20 + 20 + 60 + 60 s) must be able to fire before jest's 30 s.
it('no byte crosses tunnels: stalled readers, idle-then-busy tunnels and streams at once', async () => {
  const backends = new Map<number, { socket: Socket; verifier: StreamVerifier }>();
  const arrived = new Set<number>();
  const { port: backendPort } = await startRawServer((socket) => {
    // The first line names the tunnel; every later byte is that tunnel's upstream stream.
    let head = Buffer.alloc(0);
    let verifier: StreamVerifier | undefined;
    socket.on('end', () => socket.end());
    socket.on('data', (chunk: Buffer) => {
      if (verifier) return verifier.check(chunk);
      head = Buffer.concat([head, chunk]);
      const newline = head.indexOf(0x0a);
      if (newline < 0) return;
      const id = Number(/^TUNNEL (\d+)$/.exec(head.subarray(0, newline).toString('latin1'))![1]);
      verifier = new StreamVerifier(id, UP);
      backends.set(id, { socket, verifier });
      arrived.add(id);
      const rest = head.subarray(newline + 1);
      if (rest.length > 0) verifier.check(rest);
    });
  });
  const gate = await startCli(loopbackArgs(backendPort));

  const open = async (id: number): Promise<Tunnel> => {
    const client = connect({ port: gate.port, host: '127.0.0.1' });
    defer(() => destroyAndWait(client));
    client.on('error', () => undefined);
    await once(client, 'connect');
    const tunnel: Tunnel = { id, client, atClient: new StreamVerifier(id, DOWN) };
    client.on('data', (chunk: Buffer) => tunnel.atClient.check(chunk));
    client.write(`TUNNEL ${id}\n`);
    return tunnel;
  };
  const tunnels: Tunnel[] = [];
  for (let id = 1; id <= STALLED + IDLE_THEN_BUSY + STREAMING; id++) tunnels.push(await open(id));
  await pollUntil('every tunnel at its backend', () => (arrived.size === tunnels.length ? true : undefined), { timeoutMs: 10_000 });
  for (const tunnel of tunnels) {
    const backend = backends.get(tunnel.id)!;
    tunnel.backend = backend.socket;
    tunnel.atBackend = backend.verifier;
  }
  const stalled = tunnels.slice(0, STALLED);
  const idleThenBusy = tunnels.slice(STALLED, STALLED + IDLE_THEN_BUSY);
  const streaming = tunnels.slice(STALLED + IDLE_THEN_BUSY);

  // Streams both ways from the start, and through the whole test.
  const streams = streaming.flatMap((t) => [
    sendStream(t.backend!, t.id, DOWN, STREAM_BYTES),
    sendStream(t.client, t.id, UP, STREAM_BYTES),
  ]);

  // The stalls: clients that read nothing while their backend sends 24 MiB each.
  for (const t of stalled) t.client.pause();
  const stalledSends = stalled.map((t) => sendStream(t.backend!, t.id, DOWN, STALLED_BYTES));
  // Stalled for real once every stalled backend holds bytes that the kernel would not take: the
  // whole path is full, so healthgate holds a pending write to each stalled client.
  await pollUntil('every stalled path to be full', () => (stalled.every((t) => t.backend!.writableLength > 0) ? true : undefined), {
    timeoutMs: 20_000,
  });

  // Now the tunnels idle since before the stalls get a burst, both ways.
  const bursts = idleThenBusy.flatMap((t) => [
    sendStream(t.backend!, t.id, DOWN, BURST_BYTES),
    sendStream(t.client, t.id, UP, BURST_BYTES),
  ]);
  await Promise.all(bursts);
  await pollUntil(
    'every burst to arrive',
    () => (idleThenBusy.every((t) => t.atClient.received >= BURST_BYTES && t.atBackend!.received >= BURST_BYTES) ? true : undefined),
    { timeoutMs: 20_000 },
  );

  // The stalled clients read again.
  for (const t of stalled) t.client.resume();
  await within(Promise.all([...stalledSends, ...streams]), 60_000, 'every stream to be sent');
  await pollUntil(
    'every byte to arrive',
    () =>
      stalled.every((t) => t.atClient.received >= STALLED_BYTES) &&
      streaming.every((t) => t.atClient.received >= STREAM_BYTES && t.atBackend!.received >= STREAM_BYTES)
        ? true
        : undefined,
    { timeoutMs: 60_000, intervalMs: 50 },
  );

  const expected = (t: Tunnel): [number, number] =>
    stalled.includes(t) ? [STALLED_BYTES, 0] : idleThenBusy.includes(t) ? [BURST_BYTES, BURST_BYTES] : [STREAM_BYTES, STREAM_BYTES];
  const mismatches = tunnels.flatMap((t) => [t.atClient.firstMismatch, t.atBackend!.firstMismatch]).filter((m) => m !== undefined);
  expect(mismatches).toEqual([]);
  for (const t of tunnels) expect([t.atClient.received, t.atBackend!.received]).toEqual(expected(t));
}, 180_000);
