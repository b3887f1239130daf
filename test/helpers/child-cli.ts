import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = join(__dirname, '..', '..', 'bin', 'healthgate');

/** healthgate's CLI as a child process, with its output lines and exit. */
export class CliProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  constructor(readonly proc: ChildProcess) {
    this.exit = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    const collect = (stream: NodeJS.ReadableStream, into: string[]): void => {
      createInterface({ input: stream }).on('line', (line) => {
        into.push(line);
        for (const wake of this.waiters.splice(0)) wake();
      });
    };
    collect(proc.stdout!, this.stdout);
    collect(proc.stderr!, this.stderr);
  }

  /** healthgate's own JSON log lines (the child's lines are passed through unparsed). */
  get logs(): Array<Record<string, unknown>> {
    return this.stdout.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        return typeof parsed.message === 'string' ? [parsed] : [];
      } catch {
        return [];
      }
    });
  }

  /** Resolves with the first stdout line matching, waiting for it up to `timeoutMs`. */
  async waitForLine(match: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.stdout.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching line within ${timeoutMs} ms; stdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('\n')}`);
      const woke = new Promise<void>((resolve) => this.waiters.push(resolve));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([woke, this.exit, new Promise((r) => (timer = setTimeout(r, 100)))]);
      clearTimeout(timer);
    }
  }

  /** Resolves with the log line whose message matches. */
  async waitForLog(message: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const line = await this.waitForLine((l) => l.includes(`"message":"${message}"`), timeoutMs);
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** The public port from the start line. */
  async port(): Promise<number> {
    const start = await this.waitForLog('healthgate listening');
    return start.port as number;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  /**
   * Ends healthgate and its child whatever state they are in: SIGTERM, then after `graceMs` SIGKILL
   * to healthgate and to the child's process group (a killed healthgate leaves its child behind, and
   * the child holds our stdout pipe open).
   */
  async stop(graceMs = 3000): Promise<void> {
    this.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exit, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.kill('SIGKILL');
    const childPid = this.logs.find((l) => l.message === 'child started')?.pid;
    if (typeof childPid === 'number') {
      try {
        process.kill(-childPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await this.exit;
  }
}

/** Spawns `healthgate <args>` with `env` added to a clean copy of this process's environment. */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}, options: { detached?: boolean } = {}): CliProcess {
  const base = { ...process.env };
  for (const name of Object.keys(base)) if (name.startsWith('HEALTHGATE_') || name === 'PORT' || name.startsWith('RAILWAY_')) delete base[name];
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...base, HEALTHGATE_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  return new CliProcess(proc);
}

/**
 * Spawns healthgate through `launcher` (the argv before the bin: node with flags, or a shell that
 * lowers a limit and execs node), with PATH as its only environment besides JSON logs.
 */
export function spawnCliVia(launcher: readonly string[], args: readonly string[]): CliProcess {
  const [command, ...rest] = launcher;
  const proc = spawn(command, [...rest, BIN, ...args], {
    env: { PATH: process.env.PATH, HEALTHGATE_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new CliProcess(proc);
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export { freePort } from './raw';
