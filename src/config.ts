import { Command, CommanderError, Option } from 'commander';
import { UsageError } from './errors';

/** How a readiness path judges the backend. */
export type CheckMode = 'tcp' | 'websocket' | 'none';
/** Log levels, most to least severe. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
/** Log line formats: JSON lines, or readable lines for a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Everything healthgate needs to run, validated and frozen. Times are milliseconds. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly backendPort: number;
  readonly backendHost: string;
  readonly healthPaths: readonly string[];
  readonly livePaths: readonly string[];
  readonly healthCheck: CheckMode;
  readonly checkPath: string;
  readonly metricsPath: string | undefined;
  readonly headerTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly drainTimeoutMs: number;
  readonly shutdownDelayMs: number;
  readonly halfCloseTimeoutMs: number;
  readonly childPortEnv: readonly string[];
  readonly signalGroup: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** The child to start in entrypoint mode (`-- <command> [args...]`); empty without one. */
  readonly command: readonly string[];
}

/** The result of reading a command line: a config to run, or text to print before exiting 0. */
export type ParseOutcome = { kind: 'run'; config: Config } | { kind: 'print'; text: string };

type Env = Readonly<Record<string, string | undefined>>;

/** One row of the option table; `parse` turns the raw text into a value or throws UsageError. */
interface OptionSpec<K extends keyof Config> {
  key: K;
  flags: string;
  env: string;
  description: string;
  /** Shown in --help; the real default comes from `fallback`. */
  defaultText: string;
  repeatable?: boolean;
  /** A flag without a value (its env variable takes 1/true/yes or 0/false/no). */
  boolean?: boolean;
  parse: (raw: string, source: string) => Config[K];
  fallback: (env: Env, stdoutIsTTY: boolean) => Config[K] | undefined;
}

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
const CHECK_MODES: readonly CheckMode[] = ['tcp', 'websocket', 'none'];
const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
const MIN_DERIVED_DRAIN_MS = 500;
// The longest delay setTimeout honours; past it Node fires after 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseInteger(raw: string, source: string, min: number, max: number): number {
  const text = raw.trim();
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${source} must be an integer ${min}-${max}, got '${raw}'`);
  }
  return value;
}

const port = (min: number) => (raw: string, source: string) => parseInteger(raw, source, min, 65535);
const milliseconds = (raw: string, source: string) => parseInteger(raw, source, 0, MAX_TIMER_MS);

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string, source: string): T => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new UsageError(`${source} must be one of ${values.join(', ')}, got '${raw}'`);
    }
    return raw as T;
  };
}

function urlPath(raw: string, source: string): string {
  // SPEC: a path is compared as sent: no decoding, no normalisation, no query.
  if (!raw.startsWith('/') || /[\s?#]/.test(raw) || /[^\x21-\x7e]/.test(raw)) {
    throw new UsageError(`${source} must be a path starting with '/', without spaces or '?', got '${raw}'`);
  }
  return raw;
}

function nonEmpty(raw: string, source: string): string {
  if (raw.trim() === '') throw new UsageError(`${source} must not be empty`);
  return raw.trim();
}

function envName(raw: string, source: string): string {
  if (!ENV_NAME.test(raw)) throw new UsageError(`${source} must be an environment variable name, got '${raw}'`);
  return raw;
}

function yesNo(raw: string, source: string): boolean {
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes'].includes(text)) return true;
  if (['0', 'false', 'no', ''].includes(text)) return false;
  throw new UsageError(`${source} must be 1/true/yes or 0/false/no, got '${raw}'`);
}

/**
 * SPEC: RAILWAY_DEPLOYMENT_DRAINING_SECONDS×1000 − 500, never below 500 (an app always gets a
 * moment to close its WebSockets with 1001), else 10000. A value past what a timer can hold is a
 * usage error like a flag's: setTimeout would fire at once and SIGKILL the app.
 */
function defaultDrainTimeoutMs(env: Env): number {
  const raw = env.RAILWAY_DEPLOYMENT_DRAINING_SECONDS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_DRAIN_TIMEOUT_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new UsageError(`RAILWAY_DEPLOYMENT_DRAINING_SECONDS must be a number of seconds, got '${raw}'`);
  }
  const ms = Math.max(MIN_DERIVED_DRAIN_MS, Math.round(seconds * 1000) - 500);
  if (ms > MAX_TIMER_MS) {
    throw new UsageError(`RAILWAY_DEPLOYMENT_DRAINING_SECONDS=${raw} gives a drain timeout past ${MAX_TIMER_MS} ms (about 24.8 days)`);
  }
  return ms;
}

const fixed =
  <T>(value: T) =>
  () =>
    value;

function spec<K extends keyof Config>(row: OptionSpec<K>): OptionSpec<K> {
  return row;
}

/** The option table: flag, env variable, default and parser of every option (SPEC: Command line). */
export const OPTIONS = [
  spec({
    key: 'port',
    flags: '-p, --port <n>',
    env: 'PORT',
    description: 'public port to listen on; 0 takes a free port',
    defaultText: '8080',
    parse: port(0),
    fallback: fixed(8080),
  }),
  spec({
    key: 'host',
    flags: '--host <addr>',
    env: 'HEALTHGATE_HOST',
    description: 'listen address (:: is dual stack, falling back to 0.0.0.0 without IPv6)',
    defaultText: '::',
    parse: nonEmpty,
    fallback: fixed('::'),
  }),
  spec({
    key: 'backendPort',
    flags: '-b, --backend-port <n>',
    env: 'HEALTHGATE_BACKEND_PORT',
    description: "the app's internal port (required)",
    defaultText: 'required',
    parse: port(1),
    fallback: fixed(undefined),
  }),
  spec({
    key: 'backendHost',
    flags: '--backend-host <host>',
    env: 'HEALTHGATE_BACKEND_HOST',
    description: "the app's host; localhost tries 127.0.0.1 and ::1",
    defaultText: 'localhost',
    parse: nonEmpty,
    fallback: fixed('localhost'),
  }),
  spec({
    key: 'healthPaths',
    flags: '--health-path <path>',
    env: 'HEALTHGATE_HEALTH_PATHS',
    description: 'readiness path; repeatable; replaces the defaults',
    defaultText: '/ and /health',
    repeatable: true,
    parse: (raw, source) => [urlPath(raw, source)],
    fallback: fixed(['/', '/health']),
  }),
  spec({
    key: 'livePaths',
    flags: '--live-path <path>',
    env: 'HEALTHGATE_LIVE_PATHS',
    description: 'liveness path, 200 while healthgate runs; repeatable',
    defaultText: 'none',
    repeatable: true,
    parse: (raw, source) => [urlPath(raw, source)],
    fallback: fixed([]),
  }),
  spec({
    key: 'healthCheck',
    flags: '--health-check <mode>',
    env: 'HEALTHGATE_HEALTH_CHECK',
    description: 'what readiness checks: tcp, websocket or none',
    defaultText: 'tcp',
    parse: oneOf(CHECK_MODES),
    fallback: fixed<CheckMode>('tcp'),
  }),
  spec({
    key: 'checkPath',
    flags: '--check-path <path>',
    env: 'HEALTHGATE_CHECK_PATH',
    description: "request path of the websocket check's handshake",
    defaultText: '/',
    parse: urlPath,
    fallback: fixed('/'),
  }),
  spec({
    key: 'metricsPath',
    flags: '--metrics-path <path>',
    env: 'HEALTHGATE_METRICS_PATH',
    description: 'serve Prometheus text metrics on this path',
    defaultText: 'off',
    parse: urlPath,
    fallback: fixed(undefined),
  }),
  spec({
    key: 'headerTimeoutMs',
    flags: '--header-timeout <ms>',
    env: 'HEALTHGATE_HEADER_TIMEOUT',
    description: 'time allowed for a complete request head',
    defaultText: '10000',
    parse: (raw, source) => parseInteger(raw, source, 1, MAX_TIMER_MS),
    fallback: fixed(10_000),
  }),
  spec({
    key: 'maxHeaderBytes',
    flags: '--max-header-size <bytes>',
    env: 'HEALTHGATE_MAX_HEADER_SIZE',
    description: 'largest head of a possible health request',
    defaultText: '32768',
    parse: (raw, source) => parseInteger(raw, source, 64, 16 * 1024 * 1024),
    fallback: fixed(32_768),
  }),
  spec({
    key: 'drainTimeoutMs',
    flags: '--drain-timeout <ms>',
    env: 'HEALTHGATE_DRAIN_TIMEOUT',
    description: 'how long connections and the child may finish after SIGTERM',
    defaultText: 'RAILWAY_DEPLOYMENT_DRAINING_SECONDS*1000-500 (at least 500), else 10000',
    parse: milliseconds,
    fallback: defaultDrainTimeoutMs,
  }),
  spec({
    key: 'shutdownDelayMs',
    flags: '--shutdown-delay <ms>',
    env: 'HEALTHGATE_SHUTDOWN_DELAY',
    description: 'after SIGTERM, keep accepting this long while readiness says 503',
    defaultText: '0',
    parse: milliseconds,
    fallback: fixed(0),
  }),
  spec({
    key: 'halfCloseTimeoutMs',
    flags: '--half-close-timeout <ms>',
    env: 'HEALTHGATE_HALF_CLOSE_TIMEOUT',
    description: 'close a tunnel this long after one side closed',
    defaultText: '60000',
    parse: (raw, source) => parseInteger(raw, source, 1, MAX_TIMER_MS),
    fallback: fixed(60_000),
  }),
  spec({
    key: 'childPortEnv',
    flags: '--child-port-env <NAME>',
    env: 'HEALTHGATE_CHILD_PORT_ENV',
    description: "more variables set to the backend port in the child's environment; repeatable",
    defaultText: 'none',
    repeatable: true,
    parse: (raw, source) => [envName(raw, source)],
    fallback: fixed([]),
  }),
  spec({
    key: 'signalGroup',
    flags: '--signal-group',
    env: 'HEALTHGATE_SIGNAL_GROUP',
    description: "send forwarded signals to the child's whole process group",
    defaultText: 'off',
    boolean: true,
    parse: yesNo,
    fallback: fixed(false),
  }),
  spec({
    key: 'logLevel',
    flags: '--log-level <level>',
    env: 'LOG_LEVEL',
    description: 'error, warn, info or debug',
    defaultText: 'info',
    parse: oneOf(LOG_LEVELS),
    fallback: fixed<LogLevel>('info'),
  }),
  spec({
    key: 'logFormat',
    flags: '--log-format <fmt>',
    env: 'HEALTHGATE_LOG_FORMAT',
    description: 'json, or pretty',
    defaultText: 'json, pretty on a TTY',
    parse: oneOf(LOG_FORMATS),
    fallback: (_env, tty): LogFormat => (tty ? 'pretty' : 'json'),
  }),
] as const;

type AnySpec = OptionSpec<keyof Config>;

function buildProgram(version: string): Command {
  const program = new Command('healthgate')
    .usage('[options] [-- <command> [args...]]')
    .description('Answers HTTP health checks on the public port and pipes WebSocket and every other byte to the app.')
    .version(version, '-V, --version')
    .helpOption('-h, --help')
    .argument('[command...]', 'entrypoint mode: the app to start as the backend')
    .passThroughOptions()
    .addHelpText(
      'after',
      '\nCommands:\n  check <url>                check a deployed service: its health GET, a WebSocket\n                             handshake and a ping (see healthgate check --help)\n',
    )
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  for (const row of OPTIONS as readonly AnySpec[]) {
    const option = new Option(row.flags, `${row.description} (env ${row.env}; default ${row.defaultText})`);
    if (row.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    program.addOption(option);
  }
  return program;
}

/** Reads argv (without node and script) and env into a frozen Config; throws UsageError on bad input. */
export function parseConfig(argv: readonly string[], env: Env, stdoutIsTTY = false, version = '0.0.0'): ParseOutcome {
  const program = buildProgram(version);
  let helpOrVersion: string | undefined;
  program.configureOutput({ writeOut: (text) => (helpOrVersion = (helpOrVersion ?? '') + text), writeErr: () => undefined });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { kind: 'print', text: helpOrVersion ?? '' };
      // Commander's messages start with "error: "; SPEC wants one line after "healthgate: ".
      throw new UsageError(`${err.message.replace(/^error: /, '')} (see --help)`);
    }
    throw err;
  }
  const cli = program.opts<Record<string, string | string[] | boolean | undefined>>();
  const values: Record<string, unknown> = {};
  for (const row of OPTIONS as readonly AnySpec[]) {
    const name = program.options.find((o) => o.flags === row.flags)!.attributeName();
    values[row.key] = readOption(row, cli[name], env, stdoutIsTTY);
  }
  values.command = program.args;
  return { kind: 'run', config: validate(values as unknown as Config) };
}

function readOption(row: AnySpec, cliValue: string | string[] | boolean | undefined, env: Env, tty: boolean): unknown {
  const longFlag = row.flags.match(/--[a-z-]+/)![0];
  if (cliValue !== undefined) {
    if (row.boolean) return cliValue === true;
    if (row.repeatable) return (cliValue as string[]).flatMap((raw) => row.parse(raw, longFlag) as string[]);
    return row.parse(cliValue as string, longFlag);
  }
  const envValue = env[row.env];
  if (envValue !== undefined && (envValue.trim() !== '' || row.boolean)) {
    if (row.repeatable) {
      // SPEC: env variables of repeatable options take a comma-separated list.
      const items = envValue
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      return items.flatMap((raw) => row.parse(raw, row.env) as string[]);
    }
    return row.parse(envValue, row.env);
  }
  return row.fallback(env, tty);
}

function validate(config: Config): Config {
  if (config.backendPort === undefined) {
    throw new UsageError('--backend-port is required (or HEALTHGATE_BACKEND_PORT): the port your app listens on');
  }
  if (config.healthPaths.length === 0) throw new UsageError('--health-path needs at least one path');
  const live = new Set(config.livePaths);
  const both = config.healthPaths.find((p) => live.has(p));
  if (both) throw new UsageError(`${both} cannot be both a health path and a live path`);
  if (config.metricsPath && (config.healthPaths.includes(config.metricsPath) || live.has(config.metricsPath))) {
    throw new UsageError(`--metrics-path ${config.metricsPath} is also a health or live path`);
  }
  // A backend that is healthgate itself needs name resolution: addresses.ts, before start.
  return Object.freeze({
    ...config,
    healthPaths: Object.freeze(dedupe(config.healthPaths)),
    livePaths: Object.freeze(dedupe(config.livePaths)),
    childPortEnv: Object.freeze(dedupe(config.childPortEnv)),
    command: Object.freeze([...config.command]),
  });
}

function dedupe(items: readonly string[]): string[] {
  return [...new Set(items)];
}
