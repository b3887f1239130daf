import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { defer, drainCleanup } from '../helpers/cleanup';
import { compiledClient } from './client-binary';

// A smoke test of the storm's load parts in bench/client.c, not of the storm: the probe mode
// times a GET on a fresh connection per tick and says what answered, and the idle mode's ready
// line carries the storm's start and end on the same clock as the probe's samples.

const client = compiledClient();

afterEach(drainCleanup);

/** A raw HTTP server: 200 on /health, 503 elsewhere, then a close; counts connections. */
async function startHealthServer(): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.on('error', () => socket.destroy());
    socket.once('data', (chunk) => {
      const ok = chunk.toString('latin1').startsWith('GET /health ');
      socket.end(`HTTP/1.1 ${ok ? '200 OK' : '503 Service Unavailable'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** Runs the probe mode with 20 ms ticks and stops it (stdin "stop") once `count` samples are out. */
async function probeUntil(
  port: number,
  path: string,
  count: number,
): Promise<{ samples: Array<{ startMs: number; us: number; status: number }>; summary: Record<string, number> }> {
  const child = spawn(client(), ['probe', '127.0.0.1', String(port), path, '20'], { stdio: ['pipe', 'pipe', 'inherit'] });
  defer(() => child.kill('SIGKILL'));
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    stdout += text;
    // Counted, not timed: on a loaded machine 300 ms held 3 samples instead of 15.
    if (child.stdin.writable && (stdout.match(/^p /gm) ?? []).length >= count) child.stdin.end('stop\n');
  });
  const [code] = (await once(child, 'exit')) as [number];
  expect(code).toBe(0);
  const lines = stdout.trim().split('\n');
  const samples = lines
    .filter((l) => l.startsWith('p '))
    .map((l) => {
      const [, startMs, us, status] = l.split(' ');
      return { startMs: Number(startMs), us: Number(us), status: Number(status) };
    });
  return { samples, summary: JSON.parse(lines.pop()!) as Record<string, number> };
}

describe('bench/client.c storm parts', () => {
  it('probe: a GET on a fresh connection every tick, with its time and status, until stdin says stop', async () => {
    const server = await startHealthServer();
    const { samples, summary } = await probeUntil(server.port, '/health', 5);
    expect(samples.length).toBeGreaterThanOrEqual(5);
    expect(samples.every((s) => s.status === 200 && s.us > 0)).toBe(true);
    expect(summary).toMatchObject({ mode: 'probe', probes: samples.length, failed: 0 });
    expect(server.connections()).toBe(samples.length);
    for (let i = 1; i < samples.length; i++) expect(samples[i].startMs).toBeGreaterThan(samples[i - 1].startMs);
  });

  it('probe: an answer other than 200 is counted as failed', async () => {
    const server = await startHealthServer();
    const { samples, summary } = await probeUntil(server.port, '/other', 2);
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(samples.every((s) => s.status === 503)).toBe(true);
    expect(summary.failed).toBe(samples.length);
  });

  it('idle: the ready line gives the first connect and the last 101 on the probe clock', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    defer(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    wss.on('connection', (ws) => defer(() => ws.terminate()));
    const port = (wss.address() as AddressInfo).port;
    const child = spawn(client(), ['idle', '127.0.0.1', String(port), '/', '30', '10'], { stdio: ['pipe', 'pipe', 'inherit'] });
    defer(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      stdout += text;
      if (/^ready .*\n/m.test(stdout)) child.stdin.end('close\n');
    });
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    const [, count, startMs, endMs] = /^ready (\d+) ([\d.]+) ([\d.]+)$/m.exec(stdout)!;
    expect(Number(count)).toBe(30);
    expect(Number(endMs)).toBeGreaterThanOrEqual(Number(startMs));
  });
});
