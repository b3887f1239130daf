import { BodyError, createBodySkipper, type BodyLength } from '../src/body-skipper';

// src/body-skipper.ts: request bodies of health requests are dropped as they arrive. Every case is
// fed whole and byte by byte; both must agree on where the body ends (or that it is an error).

const NEXT = 'GET /health HTTP/1.1\r\n\r\n';

/** Feeds `bytes` in pieces of `step` bytes: the offset in `bytes` where the body ended, undefined, or the error. */
function feed(body: BodyLength, bytes: string, step: number): number | undefined | BodyError {
  const skipper = createBodySkipper(body, 1024)!;
  const all = Buffer.from(bytes, 'latin1');
  for (let at = 0; at < all.length; at += step) {
    const result = skipper.skip(all.subarray(at, at + step));
    if (result instanceof BodyError) return result;
    if (result !== undefined) return at + result;
  }
  return undefined;
}

const CHUNKED: BodyLength = { kind: 'chunked' };

describe.each([
  { name: 'whole', step: Infinity },
  { name: 'byte by byte', step: 1 },
])('written $name', ({ step }) => {
  it.each([
    { name: 'one chunk', body: '5\r\nhello\r\n0\r\n\r\n' },
    { name: 'bare LF line ends', body: '5\nhello\n0\n\n' },
    { name: 'upper-case hex and 16 digits with leading zeros', body: '000000000000000A\r\n0123456789\r\n0\r\n\r\n' },
    { name: 'extensions, with whitespace before the semicolon', body: '5 ;a=b;c="d e"\r\nhello\r\n0;last\r\n\r\n' },
    { name: 'trailers', body: '1\r\nx\r\n0\r\nX-One: 1\r\nX-Two: 2\r\n\r\n' },
    { name: 'data that looks like chunk lines', body: '7\r\n0\r\n\r\n-6\r\n0\r\n\r\n' },
  ])('finds the end of a chunked body: $name', ({ body }) => {
    expect(feed(CHUNKED, body + NEXT, step)).toBe(body.length);
  });

  it.each(['-6', '-1', '-0', '+5', '0x5', '1'.repeat(17), '\0', ' 5', '5 5', 'zz', '', '5\r5', '5;\x01', 'FFFFFFFFFFFFFFFF'])(
    'rejects the chunk-size line %j',
    (size) => {
      expect(feed(CHUNKED, `1\r\nA\r\n${size}\r\nX\r\n0\r\n\r\n${NEXT}`, step)).toBeInstanceOf(BodyError);
    },
  );

  it.each([
    { name: 'data not followed by CRLF', body: '1\r\nAB\r\n0\r\n\r\n' },
    { name: 'a size line past 4096 bytes', body: `1;${'x'.repeat(5000)}\r\nA\r\n0\r\n\r\n` },
    { name: 'trailers past the limit', body: `0\r\nX: ${'y'.repeat(2000)}\r\n\r\n` },
  ])('rejects $name', ({ body }) => {
    expect(feed(CHUNKED, body + NEXT, step)).toBeInstanceOf(BodyError);
  });

  it('skips a Content-Length body and leaves the next request', () => {
    expect(feed({ kind: 'length', bytes: 5 }, 'hello' + NEXT, step)).toBe(5);
  });

  it('waits for the rest of a body that has not all arrived', () => {
    expect(feed(CHUNKED, '5\r\nhel', step)).toBeUndefined();
    expect(feed({ kind: 'length', bytes: 5 }, 'hel', step)).toBeUndefined();
  });
});

it('has no skipper for a request without a body', () => {
  expect(createBodySkipper({ kind: 'none' }, 1024)).toBeUndefined();
});
