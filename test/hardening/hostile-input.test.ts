import { EchoBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { startCli, type CliProcess, loopbackArgs } from '../helpers/cli';
import { onlyResponse, parseResponse, requestHead } from '../helpers/http';
import { RawClient, rawRequest } from '../helpers/raw';
import { within } from '../helpers/wait';

// Hostile input, part two (the CLI as a child, real sockets): request bodies that http-parser-js
// misframed, and Expect: 100-continue. Each case failed on the code before its fix.

afterEach(drainCleanup);

const CHUNKED_HEAD = (target: string): string => `${target} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n`;

async function startWithBackend(): Promise<{ cli: CliProcess; backend: EchoBackend }> {
  const backend = await EchoBackend.start('app');
  const cli = await startCli([...loopbackArgs(backend.port), '--drain-timeout', '2000']);
  return { cli, backend };
}

/** A health request on a fresh connection is answered within 1 s (a hung event loop would not answer at all). */
async function expectHealthAnswered(cli: CliProcess): Promise<void> {
  const bytes = await rawRequest(cli.port, requestHead('GET /health HTTP/1.1', ['Connection: close']), { timeoutMs: 1000 });
  expect(onlyResponse(bytes).status).toBe(200);
}

/** No byte of any connection reached the backend (its readiness checks connect and send nothing). */
function bytesAtBackend(backend: EchoBackend): string {
  return backend.connections.map((c) => c.received.toString('latin1')).join('');
}

describe('chunk-size lines that are not 1-16 hex digits: 400, close, and nothing after them routed', () => {
  const SIZES = ['-6', '-1', '-0', '+5', '0x5', '1'.repeat(17), '\0', ' 5', '5 5', 'zz', ''];
  it.each([
    ...SIZES.map((size) => ({ name: `GET /health, size ${JSON.stringify(size)}`, target: 'GET /health', size })),
    { name: 'HEAD /, size "-6"', target: 'HEAD /', size: '-6' },
  ])('$name', async ({ target, size }) => {
    const { cli, backend } = await startWithBackend();
    const client = await RawClient.connect(cli.port);
    // The 60-byte request that spun the process forever (with '-6'), then a request that must
    // never reach the backend (with 'zz', it did: request smuggling behind a lenient proxy).
    await client.write(
      `${CHUNKED_HEAD(target)}1\r\nA\r\n${size}\r\nX\r\n0\r\n\r\nPOST /admin/delete HTTP/1.1\r\nContent-Length: 0\r\n\r\n`,
    );
    const answer = parseResponse(await client.readToClose(5000), { noBody: target.startsWith('HEAD') });
    expect(answer?.status).toBe(400);
    await expectHealthAnswered(cli);
    expect(bytesAtBackend(backend)).toBe('');
    expect(cli.logs.some((l) => l.level === 'warn' && l.reason === 'HG_BAD_REQUEST')).toBe(true);
    // SIGTERM still drains and exits.
    cli.child.kill('SIGTERM');
    expect(await within(cli.exited, 5000, 'healthgate to exit after SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('a spoiled size line in a body that arrives after the answer closes the connection, and nothing after it is routed', async () => {
    const { cli, backend } = await startWithBackend();
    const client = await RawClient.connect(cli.port);
    await client.write(CHUNKED_HEAD('GET /health'));
    await client.waitFor('the answer', (b) => parseResponse(b) !== undefined);
    await client.write('1\r\nA\r\n-6\r\nX\r\n0\r\n\r\nGET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n');
    await client.readToClose(5000);
    await expectHealthAnswered(cli);
    expect(bytesAtBackend(backend)).toBe('');
  });

  it('a valid chunked body with extensions and trailers is dropped, and the next request is answered', async () => {
    const { cli } = await startWithBackend();
    const client = await RawClient.connect(cli.port);
    await client.write(
      `${CHUNKED_HEAD('GET /health')}5;name=value\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n${requestHead('GET /health HTTP/1.1', ['Connection: close'])}`,
    );
    const bytes = await client.readToClose(5000);
    expect(bytes.toString('latin1').match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
  });
});

describe('Expect: 100-continue', () => {
  const EXPECTING = requestHead('GET /health HTTP/1.1', ['Host: x', 'Content-Length: 5', 'Expect: 100-continue']);

  it('regression: the answer comes at once with Connection: close while the body is missing, so no later request is eaten as body', async () => {
    const { cli } = await startWithBackend();
    const client = await RawClient.connect(cli.port);
    await client.write(EXPECTING);
    // A correct client (curl) sends no body after a final status: it reads the answer...
    const answer = parseResponse(await client.waitFor('the answer', (b) => parseResponse(b) !== undefined, 2000))!;
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe('close');
    // ...and healthgate closes, so the client's next request goes on a new connection, at once.
    await client.readToClose(2000);
    await expectHealthAnswered(cli);
  });

  it('with the body sent along, keep-alive is honoured and the next request is answered on the same connection', async () => {
    const { cli } = await startWithBackend();
    const client = await RawClient.connect(cli.port);
    await client.write(`${EXPECTING}hello${requestHead('GET /health HTTP/1.1', ['Connection: close'])}`);
    const bytes = await client.readToClose(5000);
    expect(bytes.toString('latin1').match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(bytes.toString('latin1')).toMatch(/^HTTP\/1\.1 200 [^]*Connection: keep-alive/);
  });
});
