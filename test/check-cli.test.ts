import { parseCheckArgs } from '../src/check-cli';
import { UsageError } from '../src/errors';

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
