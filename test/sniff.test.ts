import { HeadMemo } from '../src/head-memo';
import { compileRules, sniff, type Verdict } from '../src/sniff';

const RULES = compileRules({ healthPaths: ['/', '/health'], livePaths: ['/live'], metricsPath: '/metrics', maxHeaderBytes: 256 });

interface Case {
  name: string;
  bytes: string;
  expected: Verdict['kind'];
  status?: number;
  target?: string;
}

const CASES: Case[] = [
  { name: 'GET /health', bytes: 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', expected: 'local', target: 'health' },
  { name: 'GET / with bare LF', bytes: 'GET / HTTP/1.0\nHost: x\n\n', expected: 'local', target: 'health' },
  { name: 'HEAD /live', bytes: 'HEAD /live HTTP/1.1\r\n\r\n', expected: 'local', target: 'live' },
  { name: 'query ignored', bytes: 'GET /health?x=1 HTTP/1.1\r\n\r\n', expected: 'local', target: 'health' },
  { name: 'absolute form', bytes: 'GET http://h:1/health HTTP/1.1\r\n\r\n', expected: 'local', target: 'health' },
  { name: 'empty line skipped', bytes: '\r\nGET /metrics HTTP/1.1\r\n\r\n', expected: 'local', target: 'metrics' },
  { name: 'upgrade on /', bytes: 'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', expected: 'backend' },
  { name: 'POST /health at the method', bytes: 'POST /health HTTP/1.1\r\n\r\n', expected: 'backend' },
  { name: 'GET /ws at the path', bytes: 'GET /ws HTTP/1.1\r\n\r\n', expected: 'backend' },
  { name: 'HELLO at its first letters', bytes: 'HELLO', expected: 'backend' },
  { name: 'lower-case get', bytes: 'get /health HTTP/1.1\r\n\r\n', expected: 'backend' },
  { name: 'HTTP/2.0 version', bytes: 'GET / HTTP/2.0\r\n\r\n', expected: 'backend' },
  { name: 'extra token after version', bytes: 'GET / HTTP/1.1 x\r\n\r\n', expected: 'backend' },
  { name: 'PRI * HTTP/2.0', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expected: 'backend' },
  { name: 'SSH banner', bytes: 'SSH-2.0-OpenSSH_9.2\r\n', expected: 'backend' },
  { name: 'TLS ClientHello', bytes: '\x16\x03\x01\x00\xa5\x01\x00', expected: 'backend' },
  { name: 'obsolete folding', bytes: 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n', expected: 'reject', status: 400 },
  { name: 'header without colon', bytes: 'GET / HTTP/1.1\r\nbroken\r\n\r\n', expected: 'reject', status: 400 },
  {
    name: 'CL and TE',
    bytes: 'GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    expected: 'reject',
    status: 400,
  },
  { name: 'head over the limit', bytes: `GET /health HTTP/1.1\r\nX: ${'a'.repeat(300)}`, expected: 'reject', status: 431 },
];

describe('sniff', () => {
  it.each(CASES)('$name', ({ bytes, expected, status, target }) => {
    const whole = sniff(Buffer.from(bytes, 'latin1'), RULES);
    expect(whole.kind).toBe(expected);
    if (status) expect(whole).toMatchObject({ status });
    if (target) expect(whole).toMatchObject({ target });
  });

  it.each(CASES)('$name, growing byte by byte: need-more until the deciding byte, then the same verdict', ({ bytes }) => {
    const all = Buffer.from(bytes, 'latin1');
    const whole = sniff(all, RULES);
    let decided: Verdict | undefined;
    for (let n = 1; n <= all.length && !decided; n++) {
      const verdict = sniff(all.subarray(0, n), RULES);
      if (verdict.kind !== 'need-more') decided = verdict;
    }
    expect(decided).toEqual(whole);
  });

  it.each(CASES)('$name, through a shared memo of answered heads: the same verdict, first time and again', ({ bytes }) => {
    const memo = new HeadMemo<Verdict>();
    const all = Buffer.from(bytes, 'latin1');
    const fresh = sniff(all, RULES);
    expect(sniff(all, RULES, memo)).toEqual(fresh);
    expect(sniff(all, RULES, memo)).toEqual(fresh);
  });
});
