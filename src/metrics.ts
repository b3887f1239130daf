import type { AnsweredErrorCode } from './errors';

/** How a connection was classified (SPEC: Logs and metrics). */
export type ConnectionRoute = 'health' | 'backend' | 'rejected' | 'silent';

/** What the data path and the health answers report; the metrics path shows it. */
export interface Metrics {
  /** Counts a connection once it is classified. */
  countConnection(route: ConnectionRoute): void;
  /** Tracks open client connections. */
  connectionOpened(): void;
  connectionClosed(): void;
  /** Adds a closed tunnel's byte counts (to_client: bytes written to the client). */
  addTunnelBytes(toBackend: number, toClient: number): void;
  setBackendUp(up: boolean): void;
  countHealthResponse(kind: 'readiness' | 'liveness', status: number): void;
  countError(code: AnsweredErrorCode): void;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  /** Prometheus text exposition of every metric. */
  render(): Promise<string>;
}

/** Without a metrics path nothing can read a count, so none is kept. */
const NO_METRICS: Metrics = {
  countConnection: () => undefined,
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  addTunnelBytes: () => undefined,
  setBackendUp: () => undefined,
  countHealthResponse: () => undefined,
  countError: () => undefined,
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
  render: () => Promise.resolve(''),
};

/**
 * prom-client's metrics with `--metrics-path`, none without. prom-client is loaded only then:
 * npm's unbundled bin starts 35 ms sooner and 7 MB smaller without it (docs/performance.md).
 */
export function createMetrics(withMetricsPath: boolean): Metrics {
  if (!withMetricsPath) return NO_METRICS;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PromMetrics } = require('./prom-metrics') as typeof import('./prom-metrics');
  return new PromMetrics();
}
