import { parseConfig, type Config } from '../src/config';
import { UsageError } from '../src/errors';

// src/config.ts as a table: argv and env in, a Config or a UsageError out (no process spawned;
// test/e2e/cli.test.ts checks what the CLI prints for each usage error).

function configOf(argv: readonly string[], env: Record<string, string> = {}): Config {
  const outcome = parseConfig(argv, env);
  if (outcome.kind !== 'run') throw new Error('expected a config to run');
  return outcome.config;
}

describe('the drain budget derived from RAILWAY_DEPLOYMENT_DRAINING_SECONDS', () => {
  it.each([
    { name: 'absent: 10 s', env: {}, drainTimeoutMs: 10_000 },
    { name: '30 s: 29.5 s, ending before the platform SIGKILL', env: { RAILWAY_DEPLOYMENT_DRAINING_SECONDS: '30' }, drainTimeoutMs: 29_500 },
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
