import { checkAddresses, type Lookup } from '../src/addresses';
import { parseConfig, type Config } from '../src/config';
import { UsageError } from '../src/errors';

// src/addresses.ts as a table: the checks the bin runs after parseConfig that need name
// resolution. A `lookup` is injected where a row needs a name to resolve (or not) a certain way;
// the other rows use the real one on numeric and localhost names, which need no DNS.

type Env = Record<string, string>;

function configOf(argv: readonly string[], env: Env = {}): Config {
  const outcome = parseConfig(argv, env);
  if (outcome.kind !== 'run') throw new Error('expected a config to run');
  return outcome.config;
}

/** A lookup that knows one name, answers ENOTFOUND for every other. */
function lookupOnly(name: string, address: string, family: 4 | 6): Lookup {
  return (host) => {
    if (host === name) return Promise.resolve([{ address, family }]);
    return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
  };
}

const SELF = ['-p', '9000', '-b', '9000'];

describe('refused: a usage error', () => {
  it.each<{ name: string; argv: readonly string[]; env?: Env; lookup?: Lookup; says: RegExp }>([
    { name: 'the backend is healthgate itself (-p 9000 -b 9000)', argv: SELF, says: /itself/ },
    {
      name: 'the backend is healthgate itself on the listen host',
      argv: ['--host', '127.0.0.1', '--backend-host', '127.0.0.1', ...SELF],
      says: /itself/,
    },
    { name: 'the backend port in the env equal to PORT', argv: [], env: { PORT: '9000', HEALTHGATE_BACKEND_PORT: '9000' }, says: /itself/ },
    // Regression: every spelling of a self-loop started, and one upgrade chained ~10,000 connections.
    ...[
      '127.1',
      '::ffff:127.0.0.1',
      '0:0:0:0:0:0:0:1',
      '[::1]',
      'localhost.',
      'LOCALHOST',
      'app.localhost',
      '2130706433',
      '0.0.0.0',
      '::',
      '127.8.9.10',
    ].map((host) => ({
      name: `the backend is healthgate itself: --backend-host ${host}`,
      argv: [...SELF, '--backend-host', host],
      says: /itself/,
    })),
    {
      name: 'the backend is healthgate itself: --backend-host names the --host address',
      argv: ['--host', '192.0.2.7', '--backend-host', '192.0.2.7', ...SELF],
      says: /\(192\.0\.2\.7\) is healthgate itself/,
    },
    {
      name: 'the backend is healthgate itself: a backend name that resolves to a loopback address',
      argv: [...SELF, '--backend-host', 'app.internal'],
      lookup: lookupOnly('app.internal', '127.0.0.1', 4),
      says: /app\.internal:9000 \(127\.0\.0\.1\) is healthgate itself/,
    },
    // Regression: a 13-line stack trace and exit 1.
    {
      name: 'a --host that does not resolve',
      argv: ['-b', '3000', '--host', 'no-such-host.invalid'],
      lookup: lookupOnly('other', '192.0.2.1', 4),
      says: /^--host no-such-host\.invalid does not resolve \(ENOTFOUND\)$/,
    },
  ])('$name', async ({ argv, env, lookup, says }) => {
    const checked = checkAddresses(configOf(argv, env), lookup);
    await expect(checked).rejects.toThrow(UsageError);
    await expect(checked).rejects.toThrow(says);
  });
});

describe('allowed', () => {
  it.each<{ name: string; argv: readonly string[]; lookup?: Lookup }>([
    { name: 'another backend port on loopback', argv: ['-p', '9000', '-b', '9001'] },
    { name: 'port 0: a free port is never the backend port', argv: ['-p', '0', '-b', '9000'] },
    { name: 'the same port on another machine', argv: [...SELF, '--host', '127.0.0.1', '--backend-host', '192.0.2.8'] },
    {
      name: 'the same port on a backend name that does not resolve yet (the app may appear later)',
      argv: [...SELF, '--host', '127.0.0.1', '--backend-host', 'app.internal'],
      lookup: lookupOnly('other', '192.0.2.1', 4),
    },
    {
      name: 'a --host name that resolves',
      argv: ['-b', '3000', '--host', 'gate.internal'],
      lookup: lookupOnly('gate.internal', '192.0.2.9', 4),
    },
  ])('$name', async ({ argv, lookup }) => {
    await expect(checkAddresses(configOf(argv), lookup)).resolves.toBeUndefined();
  });
});
