import { randomBytes } from 'node:crypto';
import { WsBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { startCli, loopbackArgs } from '../helpers/cli';
import { parseResponse } from '../helpers/http';
import { RawClient } from '../helpers/raw';
import { OPCODE, acceptValue, clientFrame, parseServerFrame, upgradeRequest } from '../helpers/ws-frames';
import { echo, openWebSocket } from '../helpers/ws-client';

// WebSocket upgrades, also on the health paths, belong to the backend: through the built CLI to a
// real `ws` server, every message back byte for byte.

afterEach(drainCleanup);

async function gateInFrontOfWs(): Promise<{ port: number; backend: WsBackend }> {
  const backend = await WsBackend.start();
  const cli = await startCli(loopbackArgs(backend.port));
  return { port: cli.port, backend };
}

describe.each(['/', '/health'])('a WebSocket upgrade on %s', (path) => {
  it('reaches the ws backend and echoes text and binary', async () => {
    const { port, backend } = await gateInFrontOfWs();
    const ws = await openWebSocket(`ws://127.0.0.1:${port}${path}`);
    expect(backend.upgradePaths).toEqual([path]);

    const text = await echo(ws, 'héllo, wörld ✓', false);
    expect(text.isBinary).toBe(false);
    expect(text.data.toString('utf8')).toBe('héllo, wörld ✓');

    const bytes = randomBytes(4096);
    const binary = await echo(ws, bytes, true);
    expect(binary.isBinary).toBe(true);
    expect(binary.data.equals(bytes)).toBe(true);
  });

  it('echoes one 10 MiB binary message byte-exact', async () => {
    const { port } = await gateInFrontOfWs();
    const ws = await openWebSocket(`ws://127.0.0.1:${port}${path}`);
    const big = randomBytes(10 * 1024 * 1024);
    const reply = await echo(ws, big, true);
    expect(reply.isBinary).toBe(true);
    expect(reply.data.length).toBe(big.length);
    expect(reply.data.equals(big)).toBe(true);
  });

  it('echoes one 10 MiB text message byte-exact', async () => {
    const { port } = await gateInFrontOfWs();
    const ws = await openWebSocket(`ws://127.0.0.1:${port}${path}`);
    // Printable ASCII, so that the text is valid UTF-8 of exactly 10 MiB.
    const big = Buffer.from(randomBytes(10 * 1024 * 1024).map((b) => 0x20 + (b % 95)));
    const reply = await echo(ws, big, false);
    expect(reply.isBinary).toBe(false);
    expect(reply.data.equals(big)).toBe(true);
  });

  it('works with the upgrade head and the frames written one byte at a time', async () => {
    const { port, backend } = await gateInFrontOfWs();
    const client = await RawClient.connect(port);
    const { head, key } = upgradeRequest(path, `127.0.0.1:${port}`);
    await client.write(head, { oneByteAtATime: true });
    const answer = await client.waitFor('the 101', (b) => parseResponse(b, { noBody: true }) !== undefined);
    const response = parseResponse(answer, { noBody: true })!;
    expect(response.status).toBe(101);
    expect(response.headers['sec-websocket-accept']).toBe(acceptValue(key));
    client.take(response.length);
    expect(backend.upgradePaths).toEqual([path]);

    for (const [opcode, payload] of [
      [OPCODE.text, Buffer.from('one byte at a time', 'utf8')],
      [OPCODE.binary, randomBytes(300)],
    ] as const) {
      await client.write(clientFrame(opcode, payload), { oneByteAtATime: true });
      const bytes = await client.waitFor('an echo frame', (b) => parseServerFrame(b) !== undefined);
      const frame = parseServerFrame(bytes)!;
      client.take(frame.length);
      expect(frame).toMatchObject({ fin: true, opcode });
      expect(frame.payload.equals(payload)).toBe(true);
    }
  });
});

it('an upgrade on a live path or on the metrics path goes to the backend too', async () => {
  const backend = await WsBackend.start();
  const cli = await startCli([...loopbackArgs(backend.port), '--live-path', '/live', '--metrics-path', '/metrics']);
  for (const path of ['/live', '/metrics']) {
    const ws = await openWebSocket(`ws://127.0.0.1:${cli.port}${path}`);
    expect((await echo(ws, path, false)).data.toString()).toBe(path);
  }
  expect(backend.upgradePaths).toEqual(['/live', '/metrics']);
});
