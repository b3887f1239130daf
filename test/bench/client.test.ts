import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { defer, drainCleanup } from '../helpers/cleanup';
import { BENCH, compiledClient } from './client-binary';

// A smoke test of the bench's parts, not the bench: `npm run bench` measures; this only shows that
// the C load client builds, speaks WebSocket to a real `ws` server in each mode, and that wrk's
// report is read right. The measurements themselves never run in `npm test`.

const run = promisify(execFile);
// The bench is plain CommonJS without types, loaded by path: require is the honest way in.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseWrk } = require(join(BENCH, 'wrk.js')) as {
  parseWrk: (text: string) => { requests: number; rps: number; p50Ms: number; p99Ms: number; non2xx: number; socketErrors: number };
};

const client = compiledClient();

afterEach(drainCleanup);

async function startEcho(): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  defer(() => new Promise((resolve) => wss.close(resolve)));
  wss.on('connection', (ws) => {
    defer(() => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return (wss.address() as AddressInfo).port;
}

async function clientJson(args: Array<string | number>): Promise<Record<string, number>> {
  const { stdout } = await run(client(), args.map(String));
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
}

describe('bench/client.c', () => {
  it('bulk: echoes 64 KiB binary messages on 2 connections for a second', async () => {
    const port = await startEcho();
    const out = await clientJson(['bulk', '127.0.0.1', port, '/', 2, 65536, 1, 2]);
    expect(out.messages).toBeGreaterThan(2);
    expect(out.payload_bytes).toBeGreaterThanOrEqual(out.messages * 65536);
    expect(out.mb_per_s).toBeGreaterThan(0);
  });

  it('latency: times 200 round trips of 1 KiB', async () => {
    const port = await startEcho();
    const out = await clientJson(['latency', '127.0.0.1', port, '/', 1024, 200, 10]);
    expect(out.count).toBe(200);
    expect(out.p50_us).toBeGreaterThan(0);
    expect(out.p99_us).toBeGreaterThanOrEqual(out.p50_us);
  });

  it('rate: connect, handshake and a clean close, 4 at a time', async () => {
    const port = await startEcho();
    const out = await clientJson(['rate', '127.0.0.1', port, '/', 4, 0.3]);
    expect(out.connections).toBeGreaterThan(4);
    expect(out.failed).toBe(0);
  });

  it('idle: holds 20 connections open until told, and finds none lost', async () => {
    const port = await startEcho();
    const child = spawn(client(), ['idle', '127.0.0.1', String(port), '/', '20', '8'], { stdio: ['pipe', 'pipe', 'inherit'] });
    defer(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      stdout += text;
      if (text.includes('ready 20')) child.stdin.end('close\n');
    });
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toMatchObject({ connections: 20, lost: 0 });
  });
});

describe("bench/wrk.js reads wrk's report", () => {
  it('takes req/s, the request count and the percentiles in their units', () => {
    const report = [
      'Running 3s test @ http://127.0.0.1:4000/health',
      '  1 threads and 16 connections',
      '  Latency Distribution',
      '     50%  217.00us',
      '     75%  282.00us',
      '     90%  591.00us',
      '     99%    1.25ms',
      '  115730 requests in 3.00s, 21.19MB read',
      '  Socket errors: connect 0, read 2, write 0, timeout 1',
      'Requests/sec:  38576.66',
    ].join('\n');
    expect(parseWrk(report)).toEqual({ requests: 115730, rps: 38576.66, p50Ms: 0.217, p99Ms: 1.25, non2xx: 0, socketErrors: 3 });
  });

  it('throws on a report without figures rather than reading it as zero', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/unexpected output/);
  });
});
