import { randomBytes } from 'node:crypto';
import { EchoBackend } from '../helpers/backends';
import { drainCleanup } from '../helpers/cleanup';
import { startCli, loopbackArgs } from '../helpers/cli';
import { onlyResponse, parseResponse, requestHead } from '../helpers/http';
import { RawClient, rawRequest } from '../helpers/raw';
import { pollUntil } from '../helpers/wait';
import { WRITE_MODES } from '../helpers/ws-client';

// --metrics-path: Prometheus text from the built CLI, whose counters move with traffic.

afterEach(drainCleanup);

/** Reads one sample (`name{labels}` exactly as exposed) from Prometheus text; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Scrapes over one keep-alive connection, so that the scrapes add a single connection to the counts. */
class Scraper {
  private constructor(private readonly client: RawClient) {}

  static async open(port: number): Promise<Scraper> {
    return new Scraper(await RawClient.connect(port));
  }

  async scrape(oneByteAtATime = false): Promise<{ text: string; contentType: string }> {
    await this.client.write(requestHead('GET /metrics HTTP/1.1', ['Host: x']), { oneByteAtATime });
    const response = parseResponse(await this.client.waitFor('a scrape', (b) => parseResponse(b) !== undefined))!;
    this.client.take(response.length);
    expect(response.status).toBe(200);
    return { text: response.body.toString('utf8'), contentType: response.headers['content-type'] };
  }

  async value(series: string): Promise<number> {
    const found = sample((await this.scrape()).text, series);
    if (found === undefined) throw new Error(`no sample ${series}`);
    return found;
  }
}

async function gate(): Promise<{ port: number; backend: EchoBackend }> {
  const backend = await EchoBackend.start('app');
  const cli = await startCli([...loopbackArgs(backend.port), '--metrics-path', '/metrics', '--live-path', '/live']);
  return { port: cli.port, backend };
}

const close = ['Connection: close'];

describe.each(WRITE_MODES)('metrics, scrape written $mode', ({ oneByteAtATime }) => {
  it('is Prometheus text with every healthgate series and the process defaults', async () => {
    const { port } = await gate();
    const scraper = await Scraper.open(port);
    const { text, contentType } = await scraper.scrape(oneByteAtATime);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const series of [
      'healthgate_connections_total{route="health"}',
      'healthgate_connections_total{route="backend"}',
      'healthgate_connections_total{route="rejected"}',
      'healthgate_connections_total{route="silent"}',
      'healthgate_connections_active',
      'healthgate_bytes_total{direction="to_backend"}',
      'healthgate_bytes_total{direction="to_client"}',
      'healthgate_backend_up',
      'healthgate_errors_total{kind="header_timeout"}',
      'healthgate_errors_total{kind="header_too_large"}',
      'healthgate_errors_total{kind="bad_request"}',
      'healthgate_errors_total{kind="backend_unreachable"}',
      'process_cpu_seconds_total',
    ]) {
      expect([series, sample(text, series)]).toEqual([series, expect.any(Number)]);
    }
    expect(text).toMatch(/^# TYPE healthgate_connections_total counter$/m);
    // The scrape's own connection is open.
    expect(sample(text, 'healthgate_connections_active')).toBeGreaterThanOrEqual(1);
  });
});

it('health counters move with health GETs; a scrape is not a health answer', async () => {
  const { port } = await gate();
  const scraper = await Scraper.open(port);
  const connections = 'healthgate_connections_total{route="health"}';
  const ready = 'healthgate_health_responses_total{kind="readiness",status="200"}';
  const live = 'healthgate_health_responses_total{kind="liveness",status="200"}';
  const before = (await scraper.scrape()).text;
  for (let i = 0; i < 3; i++) {
    expect(onlyResponse(await rawRequest(port, requestHead('GET /health HTTP/1.1', close))).status).toBe(200);
  }
  expect(onlyResponse(await rawRequest(port, requestHead('GET /live HTTP/1.1', close))).status).toBe(200);
  const after = (await scraper.scrape()).text;
  expect(sample(after, connections)! - sample(before, connections)!).toBe(4);
  expect(sample(after, ready)! - (sample(before, ready) ?? 0)).toBe(3);
  expect(sample(after, live)! - (sample(before, live) ?? 0)).toBe(1);
  expect(sample(after, 'healthgate_backend_up')).toBe(1);
});

it('bytes_total and route="backend" move after a tunnel closes', async () => {
  const { port, backend } = await gate();
  const scraper = await Scraper.open(port);
  const toBackend = 'healthgate_bytes_total{direction="to_backend"}';
  const toClient = 'healthgate_bytes_total{direction="to_client"}';
  const routed = 'healthgate_connections_total{route="backend"}';
  const before = (await scraper.scrape()).text;
  const data = randomBytes(100_000);
  const echoed = await rawRequest(port, data, { end: true });
  expect(echoed.equals(backend.echoOf(data))).toBe(true);
  // Counted when the tunnel closes, which healthgate sees a moment after the client does.
  const after = await pollUntil('the tunnel bytes', async () => {
    const { text } = await scraper.scrape();
    return sample(text, toBackend)! > sample(before, toBackend)! ? text : undefined;
  });
  expect(sample(after, toBackend)! - sample(before, toBackend)!).toBe(data.length);
  expect(sample(after, toClient)! - sample(before, toClient)!).toBe(data.length + backend.prefix.length);
  expect(sample(after, routed)! - sample(before, routed)!).toBe(1);
  // Only the scraper's own connection is still open.
  expect(sample(after, 'healthgate_connections_active')).toBe(1);
});

it('error, rejected and silent counters move with bad requests and silent connections', async () => {
  const { port } = await gate();
  const scraper = await Scraper.open(port);
  const before = (await scraper.scrape()).text;
  expect(onlyResponse(await rawRequest(port, requestHead('GET /health HTTP/1.1', ['no colon']))).status).toBe(400);
  expect((await rawRequest(port, '', { end: true })).length).toBe(0);
  const after = await pollUntil('the silent connection to be counted', async () => {
    const { text } = await scraper.scrape();
    const series = 'healthgate_connections_total{route="silent"}';
    return sample(text, series)! > sample(before, series)! ? text : undefined;
  });
  for (const [series, delta] of [
    ['healthgate_errors_total{kind="bad_request"}', 1],
    ['healthgate_connections_total{route="rejected"}', 1],
    ['healthgate_connections_total{route="silent"}', 1],
    ['healthgate_errors_total{kind="header_timeout"}', 0],
  ] as const) {
    expect([series, sample(after, series)! - sample(before, series)!]).toEqual([series, delta]);
  }
});
