/** How many body bytes follow a request head (SPEC: a body is read and dropped). */
export type BodyLength = { kind: 'none' } | { kind: 'length'; bytes: number } | { kind: 'chunked' };

/** Drops a request body as it arrives; says how many bytes of a chunk were body once the body ends. */
export interface BodySkipper {
  /**
   * The number of bytes of `chunk` that ended the body (the next request starts there), undefined
   * when the body goes on past the chunk, or a BodyError when the body cannot be framed.
   */
  skip(chunk: Buffer): number | undefined | BodyError;
}

/** A body that cannot be framed: nothing after it can be trusted as the next request (SPEC 1: 400 and close). */
export class BodyError extends Error {}

/** A skipper for the body that a head announced (Content-Length, or chunked with trailers); none without one. */
export function createBodySkipper(body: BodyLength, maxTrailerBytes: number): BodySkipper | undefined {
  switch (body.kind) {
    case 'none':
      return undefined;
    case 'length':
      return new LengthSkipper(body.bytes);
    case 'chunked':
      return new ChunkedSkipper(maxTrailerBytes);
  }
}

class LengthSkipper implements BodySkipper {
  constructor(private remaining: number) {}

  skip(chunk: Buffer): number | undefined {
    if (chunk.length < this.remaining) {
      this.remaining -= chunk.length;
      return undefined;
    }
    return this.remaining;
  }
}

const CR = 0x0d;
const LF = 0x0a;
const SEMICOLON = 0x3b;
const SP = 0x20;
const HTAB = 0x09;
// SPEC 1: a chunk size is 1-16 hex digits; one past 2^53 could not be counted exactly, and no
// client sends a health check a body of petabytes.
const MAX_SIZE_DIGITS = 16;
// A chunk-size line with its extensions; nginx and HAProxy keep theirs to a few KB as well.
const MAX_SIZE_LINE_BYTES = 4096;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/**
 * Where a chunked body is (RFC 9112, 7.1):
 * - `size`: reading a chunk-size line (hex digits, then optional `;extensions`) up to its LF;
 * - `data`: skipping `remaining` bytes of chunk data;
 * - `data-end`: expecting the CRLF (or bare LF) after the data;
 * - `trailer`: after the last chunk, reading trailer lines up to the empty one.
 */
type ChunkedState = 'size' | 'data' | 'data-end' | 'trailer';

/**
 * Our own chunked decoder, not http-parser-js's: that one read a size of `-6` as -6 and stepped
 * back forever, and read `zz` as NaN, the last chunk. Every step here consumes at least one byte
 * or stops, every size is validated digit by digit before any arithmetic, and every line is
 * bounded, so no input can loop or make it buffer.
 */
class ChunkedSkipper implements BodySkipper {
  private state: ChunkedState = 'size';
  private remaining = 0;
  /** The current chunk-size line so far (its bytes are few and bounded) or trailer bytes seen. */
  private line: number[] = [];
  private trailerBytes = 0;
  private lineLength = 0;

  constructor(private readonly maxTrailerBytes: number) {}

  skip(chunk: Buffer): number | undefined | BodyError {
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.remaining, chunk.length - at);
          this.remaining -= n;
          at += n;
          if (this.remaining === 0) this.state = 'data-end';
          break;
        }
        case 'data-end': {
          const error = this.readDataEnd(chunk[at++]);
          if (error) return error;
          break;
        }
        case 'size': {
          const error = this.readSizeByte(chunk[at++]);
          if (error) return error;
          break;
        }
        case 'trailer': {
          const ended = this.readTrailerByte(chunk[at++]);
          if (ended instanceof BodyError) return ended;
          if (ended) return at;
          break;
        }
      }
    }
    return undefined;
  }

  private readDataEnd(byte: number): BodyError | undefined {
    // CRLF or a bare LF; a CR is remembered in lineLength.
    if (byte === CR && this.lineLength === 0) {
      this.lineLength = 1;
      return undefined;
    }
    if (byte !== LF) return new BodyError('chunk data not followed by CRLF');
    this.lineLength = 0;
    this.state = 'size';
    return undefined;
  }

  private readSizeByte(byte: number): BodyError | undefined {
    if (byte !== LF) {
      if (this.line.length >= MAX_SIZE_LINE_BYTES) return new BodyError('chunk-size line too long');
      this.line.push(byte);
      return undefined;
    }
    const size = parseSizeLine(this.line);
    this.line = [];
    if (size instanceof BodyError) return size;
    if (size === 0) {
      this.state = 'trailer';
      this.lineLength = 0;
    } else {
      this.remaining = size;
      this.state = 'data';
    }
    return undefined;
  }

  /** True once the empty line that ends the trailers has been read. */
  private readTrailerByte(byte: number): boolean | BodyError {
    if (++this.trailerBytes > this.maxTrailerBytes) return new BodyError('trailers too large');
    if (byte === LF) {
      const empty = this.lineLength === 0 || (this.lineLength === 1 && this.line[0] === CR);
      this.lineLength = 0;
      this.line = [];
      return empty;
    }
    if (this.lineLength === 0) this.line = [byte];
    this.lineLength++;
    return false;
  }
}

/** The size of a chunk-size line (without its LF): 1-16 hex digits, then BWS and `;extensions`, or nothing. */
function parseSizeLine(line: readonly number[]): number | BodyError {
  const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
  let digits = 0;
  let size = 0;
  while (digits < end && HEX[line[digits]] >= 0) {
    size = size * 16 + HEX[line[digits]];
    digits++;
  }
  if (digits === 0 || digits > MAX_SIZE_DIGITS || !Number.isSafeInteger(size)) {
    return new BodyError('invalid chunk size');
  }
  let at = digits;
  while (at < end && (line[at] === SP || line[at] === HTAB)) at++;
  if (at === end) return at === digits ? size : new BodyError('invalid chunk size');
  if (line[at] !== SEMICOLON) return new BodyError('invalid chunk size');
  for (let i = at + 1; i < end; i++) {
    const byte = line[i];
    if ((byte < SP && byte !== HTAB) || byte === 0x7f) return new BodyError('invalid chunk extension');
  }
  return size;
}
