import { parseConfig, type Config } from '../src/config';
import { UsageError } from '../src/errors';

// src/config.ts as a table: argv and env in, a Config or a UsageError out (no process spawned).
// test/e2e/cli.test.ts checks, for a few rows, that the CLI prints the message as one line and
// exits 2; test/addresses.test.ts covers the checks that need name resolution.

type Env = Record<string, string>;

function configOf(argv: readonly string[], env: Env = {}): Config {
  const outcome = parseConfig(argv, env);
  if (outcome.kind !== 'run') throw new Error('expected a config to run');
  return outcome.config;
}

/** The UsageError `parseConfig` throws, or a failure naming what it returned instead. */
function usageErrorOf(argv: readonly string[], env: Env): UsageError {
  try {
    parseConfig(argv, env);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`parseConfig(${JSON.stringify(argv)}) did not throw`);
}

describe('the drain budget derived from RAILWAY_DEPLOYMENT_DRAINING_SECONDS', () => {
  it.each<{ name: string; env: Env; argv?: string[]; drainTimeoutMs: number }>([
    { name: 'absent: 10 s', env: {}, drainTimeoutMs: 10_000 },
    {
      name: '30 s: 29.5 s, ending before the platform SIGKILL',
      env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '30' },
      drainTimeoutMs: 29_500,
    },
    { name: "0 (Railway's default): never below 500 ms", env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '0' }, drainTimeoutMs: 500 },
    { name: '0.5: never below 500 ms', env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '0.5' }, drainTimeoutMs: 500 },
    { name: 'the largest a timer holds', env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '2147483' }, drainTimeoutMs: 2_147_482_500 },
    { name: 'a flag beats it', env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '30' }, argv: ['--drain-timeout', '0'], drainTimeoutMs: 0 },
  ])('$name', ({ env, argv, drainTimeoutMs }) => {
    expect(configOf(['-b', '3000', ...(argv ?? [])], env).drainTimeoutMs).toBe(drainTimeoutMs);
  });

  it.each(['2200000', '-1', 'soon'])('%s is a usage error, not a timer that fires at once', (seconds) => {
    expect(() => configOf(['-b', '3000'], { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: seconds })).toThrow(UsageError);
  });
});

describe('usage errors: a UsageError whose message names the culprit', () => {
  it.each<{ name: string; argv: readonly string[]; env?: Env; says: RegExp }>([
    { name: 'no backend port', argv: ['-p', '0'], says: /backend-port/ },
    { name: 'backend port 70000', argv: ['-b', '70000'], says: /70000/ },
    { name: 'port 70000', argv: ['-p', '70000', '-b', '3000'], says: /--port.*70000/ },
    { name: 'backend port 0', argv: ['-b', '0'], says: /backend-port/ },
    { name: 'a port that is not a number', argv: ['-b', 'http'], says: /'http'/ },
    { name: 'a health path without /', argv: ['-b', '3000', '--health-path', 'health'], says: /health-path.*'health'/ },
    { name: 'a live path without /', argv: ['-b', '3000', '--live-path', 'live'], says: /live-path/ },
    { name: 'an unknown check mode', argv: ['-b', '3000', '--health-check', 'http'], says: /tcp, websocket, none/ },
    { name: 'an unknown log level', argv: ['-b', '3000', '--log-level', 'loud'], says: /log-level/ },
    { name: 'an unknown log format', argv: ['-b', '3000', '--log-format', 'xml'], says: /log-format/ },
    { name: 'an unknown option', argv: ['-b', '3000', '--bogus'], says: /--bogus/ },
    { name: 'a metrics path equal to a health path', argv: ['-b', '3000', '--metrics-path', '/health'], says: /metrics-path/ },
    { name: 'a bad PORT in the env', argv: ['-b', '3000'], env: { PORT: '70000' }, says: /PORT/ },
    {
      name: 'a bad path in HEALTHGATE_HEALTH_PATHS',
      argv: ['-b', '3000'],
      env: { HEALTHGATE_HEALTH_PATHS: '/a,b' },
      says: /HEALTHGATE_HEALTH_PATHS/,
    },
    // Regression: 2,200,000 s overflowed setTimeout, which fired at once and SIGKILLed the app.
    {
      name: 'a drain budget past what a timer holds',
      argv: ['-b', '3000'],
      env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '2200000' },
      says: /RAILWAY_DEPLOYMENT_DRAINING_SECONDS/,
    },
  ])('$name', ({ argv, env, says }) => {
    const error = usageErrorOf(argv, env ?? {});
    expect(error.code).toBe('HG_USAGE');
    expect(error.message).toMatch(says);
    // The bin prints it as one line after "healthgate: ".
    expect(error.message).not.toContain('\n');
  });
});

describe('env variables, and flags beating them', () => {
  it.each<{ name: string; argv: readonly string[]; env: Env; expected: Partial<Config> }>([
    {
      name: 'PORT, HEALTHGATE_HOST and HEALTHGATE_BACKEND_PORT are honoured',
      argv: [],
      env: { PORT: '9100', HEALTHGATE_HOST: '127.0.0.1', HEALTHGATE_BACKEND_PORT: '9200' },
      expected: { port: 9100, host: '127.0.0.1', backendPort: 9200, backendHost: 'localhost' },
    },
    {
      name: 'HEALTHGATE_HEALTH_PATHS=/a,/b replaces the defaults',
      argv: ['-p', '0'],
      env: { HEALTHGATE_BACKEND_PORT: '9200', HEALTHGATE_HEALTH_PATHS: '/a,/b' },
      expected: { healthPaths: ['/a', '/b'] },
    },
    {
      name: 'flags beat env variables: --port, --backend-port, --health-path, --health-check, --host',
      argv: ['--port', '9101', '-b', '9201', '--health-path', '/c', '--health-check', 'tcp', '--host', '127.0.0.1'],
      env: {
        PORT: '9100',
        HEALTHGATE_BACKEND_PORT: '9200',
        HEALTHGATE_HEALTH_PATHS: '/a',
        HEALTHGATE_HEALTH_CHECK: 'none',
        HEALTHGATE_HOST: '::1',
      },
      expected: { port: 9101, backendPort: 9201, healthPaths: ['/c'], healthCheck: 'tcp', host: '127.0.0.1' },
    },
    {
      name: 'the defaults with only a backend port',
      argv: ['-b', '3000'],
      env: {},
      expected: {
        port: 8080,
        host: '::',
        backendHost: 'localhost',
        healthPaths: ['/', '/health'],
        livePaths: [],
        healthCheck: 'tcp',
        logFormat: 'json',
      },
    },
  ])('$name', ({ argv, env, expected }) => {
    expect(configOf(argv, env)).toMatchObject(expected);
  });
});
