import { once } from 'node:events';
import WebSocket from 'ws';
import { defer } from './cleanup';

/** Both ways a test writes a request: whole, and one byte per write. */
export const WRITE_MODES = [
  { mode: 'in one write', oneByteAtATime: false },
  { mode: 'one byte at a time', oneByteAtATime: true },
] as const;

/** Opens a `ws` client to `url` (10 MiB messages allowed); terminated when the test ends. */
export async function openWebSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, perMessageDeflate: false });
  ws.on('error', () => undefined);
  defer(async () => {
    if (ws.readyState === WebSocket.CLOSED) return;
    const closed = once(ws, 'close');
    ws.terminate();
    await closed;
  });
  await Promise.race([
    once(ws, 'open'),
    once(ws, 'unexpected-response').then(([, response]) => {
      throw new Error(`upgrade refused: ${(response as { statusCode?: number }).statusCode}`);
    }),
    once(ws, 'error').then(([err]) => {
      throw err as Error;
    }),
  ]);
  return ws;
}

/** One received message. */
export interface Message {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** Sends `data` and resolves with the next message that comes back. */
export async function echo(ws: WebSocket, data: Buffer | string, binary: boolean): Promise<Message> {
  const reply = once(ws, 'message');
  ws.send(data, { binary });
  const [payload, isBinary] = (await reply) as [Buffer, boolean];
  return { data: payload, isBinary };
}
