import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { WebSocket, WebSocketServer } from 'ws';

/** The repository's root folder. */
export const ROOT = `${__dirname}/../..`;

// SPEC-free plumbing for the shipping tests: a cleanup stack, a ws echo backend, a CLI child
// whose start line names its port, and one-shot HTTP and WebSocket clients.

const cleanups: Array<() => Promise<void> | void> = [];

/** Registers a cleanup, run last-in first-out after the current test. */
export function defer(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A `ws` echo server on 127.0.0.1 at a free port that prefixes nothing: bytes come back as sent. */
export async function startWsEcho(): Promise<{ port: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  defer(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return { port: (wss.address() as AddressInfo).port };
}

/** A port that was free a moment ago (for a backend that a child process will bind). */
export { freePort } from '../helpers/raw';

/** A child process with its output lines; killed (SIGTERM, then SIGKILL) and awaited at cleanup. */
export class Child {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private wake: Array<() => void> = [];

  constructor(readonly proc: ChildProcess) {
    this.exited = once(proc, 'exit').then(([code]) => code as number | null);
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        for (const resolve of this.wake.splice(0)) resolve();
      });
    }
    defer(() => this.stop());
  }

  /** Resolves with the first output line that matches, or rejects after `timeoutMs` or at exit. */
  async waitForLine(match: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (exited || Date.now() > deadline) {
        throw new Error(`no matching line (${exited ? 'process exited' : 'timed out'}); output:\n${this.lines.join('\n')}`);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.wake.push(resolve)),
        this.exited,
        new Promise((resolve) => (timer = setTimeout(resolve, 100))),
      ]);
      clearTimeout(timer);
    }
  }

  /** The public port named by healthgate's JSON start line. */
  async port(): Promise<number> {
    const line = await this.waitForLine((l) => l.includes('"message":"healthgate listening"'));
    return (JSON.parse(line) as { port: number }).port;
  }

  /** Ends the process (and its group when it leads one) and waits for its exit. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const timer = setTimeout(() => this.signal('SIGKILL'), 5000);
    this.signal('SIGTERM');
    await this.exited;
    clearTimeout(timer);
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      this.proc.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Spawns a command with piped output; the test's cleanup ends it. */
export function startChild(command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  return new Child(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
}

/** Environment for a child: ours without PORT and HEALTHGATE_*, so that flags alone configure it. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'PORT' || key.startsWith('HEALTHGATE_') || key.startsWith('RAILWAY_') || key === 'LOG_LEVEL') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** One GET on a fresh connection: status and body. */
export function httpGet(port: number, path: string, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, headers: { Connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls GET `path` until it answers `status` (readiness turns 200 once the backend is up). */
export async function waitForStatus(port: number, path: string, status: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const answer = await httpGet(port, path);
      if (answer.status === status) return;
      last = `${answer.status} ${answer.body.trim()}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`GET ${path} did not answer ${status} within ${timeoutMs} ms; last: ${last}`);
}

/** Opens a WebSocket through `port`, sends one text and one binary message, returns both echoes. */
export async function wsRoundTrip(port: number, path = '/'): Promise<{ text: string; binary: Buffer }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  defer(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  await once(ws, 'open');
  const received: Array<{ data: Buffer; isBinary: boolean }> = [];
  const two = new Promise<void>((resolve) =>
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      received.push({ data, isBinary });
      if (received.length === 2) resolve();
    }),
  );
  const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
  ws.send('hello through healthgate');
  ws.send(binary);
  await two;
  ws.close();
  await once(ws, 'close');
  return { text: received[0].data.toString('utf8'), binary: received[1].data };
}

/** Opens a WebSocket through `port` with extra handshake headers; resolves with the first message the app sends. */
export async function wsFirstMessage(port: number, headers: Record<string, string> = {}): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers });
  defer(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  const [data] = (await once(ws, 'message')) as [Buffer];
  ws.close();
  await once(ws, 'close');
  return data.toString('utf8');
}
