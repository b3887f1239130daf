import {
  causeOfError,
  judgeHealth,
  judgeWebSocket,
  parseHealthgateBody,
  renderJson,
  renderText,
  type CheckReport,
  type StepTarget,
} from '../src/check-report';

const HTTPS: StepTarget = { url: new URL('https://app.up.railway.app/health'), timeoutMs: 5000 };
const WSS: StepTarget = { url: new URL('wss://app.up.railway.app/'), timeoutMs: 5000 };

describe('causeOfError: a failure before any answer, in one sentence', () => {
  it.each([
    { code: 'ENOTFOUND', kind: 'dns', says: /^DNS: app\.up\.railway\.app does not resolve \(ENOTFOUND\)/ },
    { code: 'EAI_AGAIN', kind: 'dns', says: /does not resolve \(EAI_AGAIN\)/ },
    { code: 'ECONNREFUSED', kind: 'refused', says: /^Connection refused at app\.up\.railway\.app:443: nothing listens there/ },
    { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', kind: 'tls', says: /not accepted \(DEPTH_ZERO_SELF_SIGNED_CERT\).*--ca <file>.*--insecure/ },
    { code: 'SELF_SIGNED_CERT_IN_CHAIN', kind: 'tls', says: /\(SELF_SIGNED_CERT_IN_CHAIN\).*--ca <file>/ },
    { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', kind: 'tls', says: /\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\).*--insecure/ },
    { code: 'CERT_HAS_EXPIRED', kind: 'tls', says: /\(CERT_HAS_EXPIRED\)/ },
    { code: 'ERR_TLS_CERT_ALTNAME_INVALID', kind: 'tls', says: /\(ERR_TLS_CERT_ALTNAME_INVALID\).*--insecure/ },
    { code: 'ERR_SSL_WRONG_VERSION_NUMBER', kind: 'tls', says: /handshake .* failed \(ERR_SSL_WRONG_VERSION_NUMBER\).*try http:\/\// },
    { code: 'EPROTO', kind: 'tls', says: /try http:\/\// },
    { code: 'EHOSTUNREACH', kind: 'unreachable', says: /cannot be reached \(EHOSTUNREACH\)/ },
    { code: 'ECONNRESET', kind: 'reset', says: /closed the connection without an HTTP answer \(ECONNRESET\).*HTTPS/ },
    { code: undefined, kind: 'error', says: /^The request failed: boom\.$/ },
  ])('$code → $kind', ({ code, kind, says }) => {
    const cause = causeOfError(code, 'boom', HTTPS);
    expect(cause.kind).toBe(kind);
    expect(cause.cause).toMatch(says);
  });
});

describe('parseHealthgateBody: only healthgate JSON counts', () => {
  it.each([
    {
      name: 'ok',
      body: '{"status":"ok","backend":"up","draining":false,"uptimeSeconds":12.3}',
      expected: { status: 'ok', backend: 'up', draining: false, uptimeSeconds: 12.3 },
    },
    {
      name: 'unavailable with a reason',
      body: '{"status":"unavailable","backend":"down","draining":false,"uptimeSeconds":1,"reason":"backend down"}',
      expected: { status: 'unavailable', backend: 'down', draining: false, uptimeSeconds: 1, reason: 'backend down' },
    },
    { name: 'text', body: 'ok\n', expected: undefined },
    { name: "Railway's 404", body: '{"status":"error","code":404,"message":"Application not found"}', expected: undefined },
    { name: 'another backend state', body: '{"status":"ok","backend":"maybe","draining":false,"uptimeSeconds":1}', expected: undefined },
    { name: 'null', body: 'null', expected: undefined },
  ])('$name', ({ body, expected }) => {
    expect(parseHealthgateBody(body)).toEqual(expected);
  });
});

function response(status: number, body = '', headers: Record<string, string> = {}) {
  return { type: 'response', status, headers, body, ms: 12 } as const;
}

describe('judgeHealth: 200 passes, anything else fails with its cause', () => {
  it.each([
    {
      name: 'a redirect',
      outcome: response(301, '', { location: 'https://x/' }),
      kind: 'redirect',
      says: /redirect \(301\) to https:\/\/x\//,
    },
    {
      name: 'a 500 from the app',
      outcome: response(500, 'oops'),
      kind: 'http-status',
      says: /got 500, not 200, and not healthgate's answer/,
    },
    {
      name: 'healthgate draining',
      outcome: response(503, '{"status":"unavailable","backend":"up","draining":true,"uptimeSeconds":5,"reason":"draining"}'),
      kind: 'unavailable',
      says: /it is draining/,
    },
    {
      name: 'a timeout before connecting',
      outcome: { type: 'timeout', connected: false, ms: 5000 } as const,
      kind: 'timeout',
      says: /^No connection to app\.up\.railway\.app:443 within 5000 ms/,
    },
  ])('$name', ({ outcome, kind, says }) => {
    const result = judgeHealth(HTTPS, outcome);
    expect(result).toMatchObject({ step: 'health', ok: false, kind });
    expect(result.cause).toMatch(says);
  });

  it('a 200 that is not healthgate JSON still passes, without healthgate fields', () => {
    expect(judgeHealth(HTTPS, response(200, 'ok\n'))).toEqual({ step: 'health', url: HTTPS.url.href, ok: true, status: 200, ms: 12 });
  });
});

describe('judgeWebSocket', () => {
  it('a close before the pong fails with the close code', () => {
    expect(judgeWebSocket(WSS, { type: 'closed', closeCode: 1008, ms: 3 })).toMatchObject({
      ok: false,
      status: 101,
      kind: 'closed',
      cause: expect.stringMatching(/code 1008/),
    });
  });

  it('a handshake that never gets its 101 is a timeout, not a missing pong', () => {
    expect(judgeWebSocket(WSS, { type: 'timeout', connected: true, opened: false, ms: 5000 })).toMatchObject({
      kind: 'timeout',
      cause: expect.stringMatching(/^Connected, but no 101 came within 5000 ms/),
    });
  });
});

describe('renderText and renderJson', () => {
  const report: CheckReport = {
    url: 'https://app.up.railway.app/',
    ok: false,
    steps: [
      {
        step: 'health',
        url: 'https://app.up.railway.app/health',
        ok: true,
        status: 200,
        ms: 41.24,
        healthgate: { status: 'ok', backend: 'up', draining: false, uptimeSeconds: 812.4 },
      },
      {
        step: 'websocket',
        url: 'wss://app.up.railway.app/',
        ok: false,
        status: 404,
        ms: 3.21,
        kind: 'no-upgrade',
        cause: 'The WebSocket handshake on / got 404 instead of 101.',
      },
    ],
  };

  it('text: one line per step, the cause indented below a failure', () => {
    expect(renderText(report)).toBe(
      [
        'ok    GET https://app.up.railway.app/health  200 in 41 ms, healthgate: status=ok backend=up draining=false uptimeSeconds=812.4',
        'FAIL  WebSocket wss://app.up.railway.app/  404 in 3.2 ms',
        '      The WebSocket handshake on / got 404 instead of 101.',
        '',
      ].join('\n'),
    );
  });

  it('JSON: one line, keys in reading order', () => {
    const text = renderJson(report);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.trimEnd()).not.toContain('\n');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['url', 'ok', 'steps']);
    expect(Object.keys((JSON.parse(text) as { steps: object[] }).steps[1])).toEqual(['step', 'url', 'ok', 'status', 'ms', 'kind', 'cause']);
  });
});
