import { parseCheckArgs } from '../src/check-cli';
import { UsageError } from '../src/errors';
import { BIN } from './helpers/cli';

const noFile = (): string => {
  throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
};

describe('parseCheckArgs', () => {
  it('defaults: GET /health, a handshake on /, 5000 ms, verification on, text output', () => {
    const parsed = parseCheckArgs(['https://app.up.railway.app'], '1.2.3', noFile);
    expect(parsed).toMatchObject({
      kind: 'run',
      json: false,
      options: {
        healthPaths: ['/health'],
        wsPath: '/',
        timeoutMs: 5000,
        ca: undefined,
        insecure: false,
        userAgent: 'healthgate-check/1.2.3',
      },
    });
    expect(parsed.kind === 'run' && parsed.options.url.href).toBe('https://app.up.railway.app/');
  });

  it('repeated --health-path replaces the default, in order; the flags are read', () => {
    const parsed = parseCheckArgs(
      [
        'http://localhost:8080',
        '--health-path',
        '/',
        '--health-path',
        '/healthz',
        '--ws-path',
        '/ws',
        '--json',
        '--timeout',
        '300',
        '--insecure',
      ],
      '0.0.0',
      noFile,
    );
    expect(parsed).toMatchObject({
      kind: 'run',
      json: true,
      options: { healthPaths: ['/', '/healthz'], wsPath: '/ws', timeoutMs: 300, insecure: true },
    });
  });

  it('--help is text to print', () => {
    expect(parseCheckArgs(['--help'], '0.0.0', noFile)).toEqual({
      kind: 'print',
      text: expect.stringMatching(/^Usage: healthgate check <url>/),
    });
  });

  it.each([
    { args: ['http://x', '--ws-path', '//evil'], ok: true },
    { args: ['http://x', '--ws-path', 'ws'], ok: false },
    { args: ['http://x', '--timeout', '-1'], ok: false },
    { args: ['http://x', '--timeout', '2147483648'], ok: false },
    { args: ['http://x', '--ca', 'ca.pem'], ok: false },
    { args: ['http://x', 'extra'], ok: false },
    { args: ['http://x?q=1'], ok: false },
  ])('$args', ({ args, ok }) => {
    const parse = (): unknown => parseCheckArgs(args, '0.0.0', noFile);
    if (ok) expect(parse).not.toThrow();
    else expect(parse).toThrow(UsageError);
  });
});

// What `healthgate check` prints for each usage error, after "healthgate: " (e2e/check.test.ts
// runs two of them through the CLI: one line on stderr, exit 2). The --ca files are real files.
describe('parseCheckArgs usage errors: one line that says what is wrong', () => {
  it.each<{ name: string; args: readonly string[]; says: RegExp }>([
    { name: 'no URL', args: [], says: /missing required argument 'url'/ },
    {
      name: 'not a URL',
      args: ['app.up.railway.app'],
      says: /<url> must be an absolute http:\/\/ or https:\/\/ URL, got 'app.up.railway.app'/,
    },
    { name: 'a scheme other than http(s)', args: ['ws://127.0.0.1:8080'], says: /<url> must start with http:\/\/ or https:\/\// },
    { name: 'a URL with a path', args: ['http://127.0.0.1:8080/health'], says: /takes no path/ },
    {
      name: 'a timeout that is not a number',
      args: ['http://127.0.0.1:8080', '--timeout', '5s'],
      says: /--timeout must be an integer.*'5s'/,
    },
    { name: 'a timeout of 0', args: ['http://127.0.0.1:8080', '--timeout', '0'], says: /--timeout/ },
    { name: 'a health path without /', args: ['http://127.0.0.1:8080', '--health-path', 'health'], says: /--health-path must be a path/ },
    {
      name: 'an unreadable --ca file',
      args: ['https://127.0.0.1:8080', '--ca', '/nonexistent/ca.pem'],
      says: /--ca: cannot read '\/nonexistent\/ca.pem' \(ENOENT\)/,
    },
    {
      name: 'a --ca file that holds no certificate',
      args: ['https://127.0.0.1:8080', '--ca', BIN],
      says: /--ca: .* holds no PEM certificate/,
    },
    { name: 'an unknown option', args: ['http://127.0.0.1:8080', '--bogus'], says: /unknown option '--bogus'/ },
  ])('$name', ({ args, says }) => {
    let error: unknown;
    try {
      parseCheckArgs(args, '0.0.0');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    const { message } = error as UsageError;
    expect(message).toMatch(/^check: /);
    expect(message).toMatch(says);
    expect(message).not.toMatch(/\n/);
  });
});
