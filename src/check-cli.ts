import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { check, type CheckOptions } from './check';
import { renderJson, renderText } from './check-report';
import { UsageError } from './errors';

/** `healthgate check` argv, read: options to run with, or text (help) to print before exiting 0. */
export type CheckParse = { kind: 'run'; options: CheckOptions; json: boolean } | { kind: 'print'; text: string };

/** Where `healthgate check` writes: its report on stdout, a usage error on stderr. */
export interface CheckIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

const DEFAULT_TIMEOUT_MS = 5000;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function buildProgram(): Command {
  const program = new Command('healthgate check')
    .usage('<url> [options]')
    .description(
      'Checks a deployed service as the platform and a browser see it: a health GET on each health path, then a WebSocket handshake and a ping. Exit 0 when every step passed, 1 when one failed, 2 on a usage error.',
    )
    .argument('<url>', 'the service: https://<app>.up.railway.app or http://localhost:8080')
    .helpOption('-h, --help')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  program.addOption(
    new Option('--health-path <path>', 'path of the health GET; repeatable, one GET each (default /health)').argParser(
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    ),
  );
  program.addOption(new Option('--ws-path <path>', 'path of the WebSocket handshake, wss:// for https:// (default /)'));
  program.addOption(new Option('--json', 'print one JSON object instead of lines (default off)'));
  program.addOption(new Option('--timeout <ms>', 'time allowed for each step (default 5000)'));
  program.addOption(new Option('--ca <file>', 'PEM file of CA certificates to trust besides the system ones (default none)'));
  program.addOption(new Option('--insecure', 'do not verify the TLS certificate (default off)'));
  return program;
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`check: <url> must be an absolute http:// or https:// URL, got '${raw}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`check: <url> must start with http:// or https://, got '${raw}'`);
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new UsageError(`check: <url> takes no path or query (give paths with --health-path and --ws-path), got '${raw}'`);
  }
  return url;
}

function parsePath(raw: string, flag: string): string {
  if (!raw.startsWith('/') || /[\s#]/.test(raw)) throw new UsageError(`check: ${flag} must be a path starting with '/', got '${raw}'`);
  return raw;
}

function parseTimeout(raw: string): number {
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw new UsageError(`check: --timeout must be an integer 1-${MAX_TIMEOUT_MS} (milliseconds), got '${raw}'`);
  }
  return value;
}

function readCa(file: string, readFile: (path: string) => string): string {
  let pem: string;
  try {
    pem = readFile(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new UsageError(`check: --ca: cannot read '${file}'${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new UsageError(`check: --ca: '${file}' holds no PEM certificate`);
  }
  return pem;
}

/** Reads `healthgate check` argv (after `check`) into options; throws UsageError on bad input. */
export function parseCheckArgs(
  argv: readonly string[],
  version: string,
  readFile = (path: string) => readFileSync(path, 'utf8'),
): CheckParse {
  const program = buildProgram();
  let help: string | undefined;
  program.configureOutput({ writeOut: (text) => (help = (help ?? '') + text), writeErr: () => undefined });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return { kind: 'print', text: help ?? '' };
    throw new UsageError(`check: ${err.message.replace(/^error: /, '')} (see healthgate check --help)`);
  }
  const opts = program.opts<{
    healthPath?: string[];
    wsPath?: string;
    json?: boolean;
    timeout?: string;
    ca?: string;
    insecure?: boolean;
  }>();
  const options: CheckOptions = {
    url: parseUrl(program.args[0]),
    healthPaths: (opts.healthPath ?? ['/health']).map((p) => parsePath(p, '--health-path')),
    wsPath: parsePath(opts.wsPath ?? '/', '--ws-path'),
    timeoutMs: opts.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTimeout(opts.timeout),
    ca: opts.ca === undefined ? undefined : readCa(opts.ca, readFile),
    insecure: opts.insecure === true,
    userAgent: `healthgate-check/${version}`,
  };
  return { kind: 'run', options, json: opts.json === true };
}

/**
 * Runs `healthgate check` from its argv (after `check`): the report on `io.stdout` (lines, or one
 * JSON object with --json); resolves with the exit code: 0 every step passed, 1 one failed, 2 usage.
 */
export async function checkCommand(argv: readonly string[], io: CheckIo, version: string): Promise<number> {
  let parsed: CheckParse;
  try {
    parsed = parseCheckArgs(argv, version);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`healthgate: ${err.message}\n`);
    return 2;
  }
  if (parsed.kind === 'print') {
    io.stdout.write(parsed.text);
    return 0;
  }
  const report = await check(parsed.options);
  io.stdout.write(parsed.json ? renderJson(report) : renderText(report));
  return report.ok ? 0 : 1;
}
