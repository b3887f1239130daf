import { randomBytes } from 'node:crypto';
import type WebSocket from 'ws';
import { WsBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { startCli, loopbackArgs } from '../helpers/cli';
import { onlyResponse, requestHead } from '../helpers/http';
import { rawRequest } from '../helpers/raw';
import { openWebSocket } from '../helpers/ws-client';

// Many tunnels at once through the built CLI: every byte of every message comes back, in order.

afterEach(drainCleanup);

const CONNECTIONS = 200;
const MESSAGES = 100;

interface Sent {
  readonly data: Buffer;
  readonly binary: boolean;
}

/** Sends all messages at once and resolves with the replies, in the order they came. */
function echoAll(ws: WebSocket, messages: readonly Sent[]): Promise<Sent[]> {
  return new Promise((resolve, reject) => {
    const replies: Sent[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      replies.push({ data, binary: isBinary });
      if (replies.length === messages.length) resolve(replies);
    });
    ws.once('close', () => reject(new Error(`closed after ${replies.length} replies`)));
    for (const { data, binary } of messages) ws.send(data, { binary });
  });
}

function messagesFor(connection: number): Sent[] {
  return Array.from({ length: MESSAGES }, (_, i) => {
    const binary = i % 2 === 0;
    const size = 1 + ((connection * 131 + i * 977) % 2048);
    // Text messages: printable ASCII that names its connection and index, so a mix-up shows.
    const data = binary ? randomBytes(size) : Buffer.from(`c${connection}m${i}:` + 'x'.repeat(size), 'latin1');
    return { data, binary };
  });
}

it(`${CONNECTIONS} concurrent WebSocket connections each echo ${MESSAGES} messages, every byte back`, async () => {
  const backend = await WsBackend.start();
  const cli = await startCli(loopbackArgs(backend.port));
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) => openWebSocket(`ws://127.0.0.1:${cli.port}/${i % 2 === 0 ? '' : 'health'}`)),
  );
  expect(backend.upgradePaths).toHaveLength(CONNECTIONS);

  const sent = clients.map((_, i) => messagesFor(i));
  const replies = await Promise.all(clients.map((ws, i) => echoAll(ws, sent[i])));

  let bytes = 0;
  replies.forEach((got, c) => {
    expect(got).toHaveLength(MESSAGES);
    got.forEach((reply, m) => {
      const want = sent[c][m];
      if (reply.binary !== want.binary || !reply.data.equals(want.data)) {
        throw new Error(
          `connection ${c}, message ${m}: ${reply.data.length} bytes (binary ${reply.binary}) instead of ${want.data.length} (binary ${want.binary})`,
        );
      }
      bytes += reply.data.length;
    });
  });
  expect(bytes).toBe(sent.flat().reduce((sum, s) => sum + s.data.length, 0));

  // healthgate still answers its health checks while the tunnels are open.
  const health = await rawRequest(cli.port, requestHead('GET /health HTTP/1.1', ['Connection: close']));
  expect(onlyResponse(health).status).toBe(200);
});
