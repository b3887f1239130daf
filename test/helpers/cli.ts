import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defer } from './cleanup';
import { within } from './wait';

/** The package's bin, which runs the built dist/ (run `npm run build` first; `npm test` does). */
export const BIN = join(__dirname, '..', '..', 'bin', 'healthgate');

/**
 * The one environment a CLI child gets: PATH, JSON logs, and what the test passes. Nothing else of
 * the runner's leaks in: no HEALTHGATE_*, PORT or RAILWAY_* set on the machine running the tests.
 */
export function cliEnv(env: CliEnv = {}): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HEALTHGATE_LOG_FORMAT: 'json' };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  return merged;
}

/** Variables a test adds; `undefined` removes one of the defaults (to test healthgate's own default). */
export type CliEnv = Record<string, string | undefined>;

/** How a child ended: its exit code, or the signal that killed it. */
export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** How to start the child. */
export interface CliOptions {
  /** Added to the clean environment of `cliEnv`. */
  readonly env?: CliEnv;
  /** The argv before the bin: node with flags, or `sh -c 'ulimit …; exec "$0" "$@"' node`. Default: this node. */
  readonly launcher?: readonly string[];
  /** The program instead of `launcher + BIN` (a bundled .cjs, an installed bin, `npm run demo`): its whole argv. */
  readonly command?: readonly string[];
  readonly cwd?: string;
  /** Leads its own process group (as a shell's foreground job does). */
  readonly detached?: boolean;
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  readonly graceMs?: number;
}

/** One parsed JSON log line of healthgate's. */
export type CliLog = Record<string, unknown>;

// Why 5 s: healthgate with no open connection exits within ~100 ms of SIGTERM on a quiet machine
// (node's own teardown); 5 s is 50× that, and still far under jest's 30 s timeout.
const DEFAULT_GRACE_MS = 5000;
// Why 10 s: the start line comes ~150 ms after spawn on a quiet machine (node boot + bundle load).
const DEFAULT_WAIT_MS = 10_000;

/**
 * healthgate's CLI (or another command) as a child process: its output lines, its exit, and one
 * cleanup policy — SIGTERM, then after a grace SIGKILL to it and to its app's process group.
 */
export class CliProcess {
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  /** Resolves once the process has exited (its app, or a grandchild, may still hold the output open). */
  readonly exited: Promise<CliExit>;
  /** Resolves once every line written to stdout and stderr has been read (all holders have exited). */
  readonly closed: Promise<void>;
  private isClosed = false;
  private readonly waiters = new Set<() => void>();

  private readonly stdoutChunks: Buffer[] = [];
  private readonly stderrChunks: Buffer[] = [];

  constructor(
    readonly child: ChildProcess,
    private readonly options: { graceMs?: number; detached?: boolean } = {},
  ) {
    this.collect(child.stdout!, this.stdoutLines, this.stdoutChunks);
    this.collect(child.stderr!, this.stderrLines, this.stderrChunks);
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    this.closed = once(child, 'close').then(() => {
      this.isClosed = true;
      this.wake();
    });
  }

  /** Everything written to stdout so far, exactly. */
  get stdout(): string {
    return Buffer.concat(this.stdoutChunks).toString('utf8');
  }

  /** Everything written to stderr so far, exactly. */
  get stderr(): string {
    return Buffer.concat(this.stderrChunks).toString('utf8');
  }

  /** healthgate's own JSON log lines (an app's lines passed through unparsed are left out). */
  get logs(): CliLog[] {
    return this.stdoutLines.flatMap((line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== 'object' || parsed === null) return [];
        const log = parsed as CliLog;
        return typeof log.message === 'string' ? [log] : [];
      } catch {
        return [];
      }
    });
  }

  /** The start line, once it has been printed (`listening()` waits for it). */
  get startLine(): CliLog {
    const line = this.logs.find((l) => l.message === 'healthgate listening');
    if (!line) throw new Error('no start line yet: await listening() first');
    return line;
  }

  /** The public port named by the start line. */
  get port(): number {
    return Number(this.startLine.port);
  }

  /** Resolves with the start line; rejects if the process exits first or after `timeoutMs`. */
  listening(timeoutMs = DEFAULT_WAIT_MS): Promise<CliLog> {
    return this.until('the start line', () => this.logs.find((l) => l.message === 'healthgate listening'), timeoutMs);
  }

  /** Resolves with the first stdout line that matches. */
  waitForLine(match: (line: string) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.until('a matching line', () => this.stdoutLines.find(match), timeoutMs);
  }

  /** Resolves with the first log line whose message is `message`. */
  waitForLog(message: string, timeoutMs = DEFAULT_WAIT_MS): Promise<CliLog> {
    return this.until(`the log line "${message}"`, () => this.logs.find((l) => l.message === message), timeoutMs);
  }

  /**
   * Resolves with `probe()` once it is defined; re-checked on every line and at the close (no
   * polling). Rejects when the output has closed without it, or after `timeoutMs`.
   */
  async until<T>(what: string, probe: () => T | undefined, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      const remaining = deadline - Date.now();
      if (this.isClosed || remaining <= 0) {
        throw new Error(
          `${this.isClosed ? 'the process exited' : `timed out after ${timeoutMs} ms`} waiting for ${what}; ` +
            `stdout:\n${this.stdoutLines.join('\n')}\nstderr:\n${this.stderrLines.join('\n')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, remaining);
        this.waiters.add(done);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  }

  /** Sends `signal` unless the process has already exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /**
   * Ends the process whatever its state: SIGTERM, then after the grace SIGKILL to it and to its
   * app's process group (a killed healthgate leaves its app behind, holding our stdout pipe open).
   * Rejects if SIGKILL was needed: healthgate must exit on SIGTERM.
   */
  async stop(): Promise<void> {
    this.kill('SIGTERM');
    try {
      await within(this.exited, this.options.graceMs ?? DEFAULT_GRACE_MS, 'the process to exit after SIGTERM');
    } catch (err) {
      this.kill('SIGKILL');
      throw err;
    } finally {
      // Whatever healthgate did, leave no app or grandchild behind: they hold our pipes open.
      this.killGroups();
      await this.exited;
      await this.closed;
    }
  }

  private killGroups(): void {
    const groups = [this.logs.find((l) => l.message === 'child started')?.pid];
    if (this.options.detached) groups.push(this.child.pid);
    for (const pid of groups) {
      if (typeof pid !== 'number') continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    }
  }

  private collect(stream: NodeJS.ReadableStream, into: string[], chunks: Buffer[]): void {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    createInterface({ input: stream }).on('line', (line) => {
      into.push(line);
      this.wake();
    });
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}

/** `--port 0 --host 127.0.0.1 -b <backendPort>`: healthgate on a free loopback port in front of the app on `backendPort`. */
export function loopbackArgs(backendPort: number | string): string[] {
  return ['--port', '0', '--host', '127.0.0.1', '-b', String(backendPort)];
}

/** Spawns `healthgate ...args` (or `options.command`) with the clean environment; stopped when the test ends. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const [file, ...rest] = options.command ?? [...(options.launcher ?? [process.execPath]), BIN];
  const child = spawn(file, [...rest, ...args], {
    env: cliEnv(options.env),
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const cli = new CliProcess(child, { graceMs: options.graceMs, detached: options.detached });
  defer(() => cli.stop());
  return cli;
}

/** Spawns like `spawnCli` and resolves once the start line names the public port (`cli.port`). */
export async function startCli(args: readonly string[], options: CliOptions = {}): Promise<CliProcess> {
  const cli = spawnCli(args, options);
  await cli.listening();
  return cli;
}

/** The outcome of a CLI run to its end. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `healthgate ...args` to its exit (for --help and usage errors). */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const cli = spawnCli(args, options);
  // Why 10 s: --help or a usage error exits ~150 ms after spawn on a quiet machine.
  const { code } = await within(cli.exited, DEFAULT_WAIT_MS, `healthgate ${args.join(' ')} to exit`);
  await cli.closed;
  return { code, stdout: cli.stdout, stderr: cli.stderr };
}
