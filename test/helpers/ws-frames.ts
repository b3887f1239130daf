import { createHash, randomBytes } from 'node:crypto';

/** RFC 6455 opcodes used by the tests. */
export const OPCODE = { text: 0x1, binary: 0x2, close: 0x8 } as const;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A WebSocket upgrade request head for `path`, with its key (to check the 101's accept value). */
export function upgradeRequest(path: string, host: string): { head: string; key: string } {
  const key = randomBytes(16).toString('base64');
  const head = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    '',
    '',
  ].join('\r\n');
  return { head, key };
}

/** The Sec-WebSocket-Accept value a server must answer to `key`. */
export function acceptValue(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** A masked client frame (FIN set) carrying `payload`. */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([0x80 | opcode, 0x80 | length]);
  } else if (length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

/** One unmasked server frame. */
export interface ServerFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
  /** Bytes of the whole frame. */
  readonly length: number;
}

/** Parses the server frame at the start of `bytes`, or undefined while it is incomplete. */
export function parseServerFrame(bytes: Buffer): ServerFrame | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[1] & 0x80) throw new Error('a server frame must not be masked');
  let length = bytes[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length < offset + length) return undefined;
  return {
    fin: (bytes[0] & 0x80) !== 0,
    opcode: bytes[0] & 0x0f,
    payload: bytes.subarray(offset, offset + length),
    length: offset + length,
  };
}
