import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { defer } from './cleanup';
import { pollUntil, within } from './wait';

/** The package's bin, which runs the built dist/ (run `npm run build` first; `npm test` does). */
export const BIN = join(__dirname, '..', '..', 'bin', 'healthgate');

/** The environment a CLI child gets: PATH only, plus what a test adds, so the runner's own PORT cannot leak in. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env };
}

/** A running CLI child with its output split into lines. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** The public port named by the start line. */
  readonly port: number;
  /** The start line, parsed. */
  readonly startLine: Record<string, unknown>;
  readonly stdoutLines: string[];
  readonly stderrLines: string[];
  /** stdout lines parsed as JSON (lines that are not JSON are left out). */
  jsonLines(): Array<Record<string, unknown>>;
  /** Resolves with the exit code (or 128+signal). */
  readonly exited: Promise<number>;
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    into.push(...lines);
  });
  stream.on('end', () => {
    if (partial !== '') into.push(partial);
  });
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function exitCode(child: ChildProcess): Promise<number> {
  return once(child, 'exit').then(([code, signal]) =>
    typeof code === 'number' ? code : 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 0),
  );
}

/**
 * Spawns `node bin/healthgate ...args` with `env` (plus PATH), resolves once the start line
 * (`"message":"healthgate listening"`) names the port. Killed when the test ends: SIGTERM,
 * then SIGKILL if it has not exited within 5 s.
 */
export async function startCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  collectLines(child.stdout!, stdoutLines);
  collectLines(child.stderr!, stderrLines);
  const exited = exitCode(child);
  let hasExited = false;
  let exitedWith: number | undefined;
  void exited.then((code) => (exitedWith = code));
  // 'close', not 'exit': by then every line the child wrote has been read.
  child.once('close', () => (hasExited = true));
  defer(async () => {
    if (hasExited) return;
    child.kill('SIGTERM');
    try {
      await within(exited, 5000, 'the CLI to exit after SIGTERM');
    } catch (err) {
      child.kill('SIGKILL');
      await exited;
      throw err;
    }
  });
  const jsonLines = () => stdoutLines.map(parseJson).filter((line): line is Record<string, unknown> => line !== undefined);
  const startLine = await pollUntil(
    'the start line',
    () => {
      const line = jsonLines().find((l) => l.message === 'healthgate listening');
      if (!line && hasExited) {
        throw new Error(
          `the CLI exited (${exitedWith}) before listening; stdout: ${stdoutLines.join('\n')}; stderr: ${stderrLines.join('\n')}`,
        );
      }
      return line;
    },
    { timeoutMs: 10_000, intervalMs: 10 },
  );
  return { child, port: Number(startLine.port), startLine, stdoutLines, stderrLines, jsonLines, exited };
}

/** The outcome of a CLI run to its end. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/healthgate ...args` to its exit (for --help and usage errors); killed after 10 s. */
export async function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const closed = once(child, 'close');
  const exited = exitCode(child);
  defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const code = await within(exited, 10_000, `healthgate ${args.join(' ')} to exit`);
  await closed;
  return { code, stdout, stderr };
}
