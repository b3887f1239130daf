import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AnsweredErrorCode } from './errors';
import { ANSWERED_ERRORS } from './errors';
import type { ConnectionRoute, Metrics } from './metrics';

/** healthgate's counters and gauges (SPEC: Logs and metrics), on a registry of their own with the process defaults. */
export class PromMetrics implements Metrics {
  private readonly registry = new Registry();
  private readonly connections = new Counter({
    name: 'healthgate_connections_total',
    help: 'Client connections by how they were handled.',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  private readonly active = new Gauge({
    name: 'healthgate_connections_active',
    help: 'Client connections open now.',
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'healthgate_bytes_total',
    help: 'Bytes piped through tunnels, counted when a tunnel closes.',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  private readonly backendUp = new Gauge({
    name: 'healthgate_backend_up',
    help: '1 when the last readiness check of the backend passed.',
    registers: [this.registry],
  });
  private readonly healthResponses = new Counter({
    name: 'healthgate_health_responses_total',
    help: 'Health answers by kind and status.',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'healthgate_errors_total',
    help: 'Errors answered before a route was chosen.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Zero every labelled series so that a scrape shows them before the first event.
    for (const route of ['health', 'backend', 'rejected', 'silent']) this.connections.inc({ route }, 0);
    for (const direction of ['to_backend', 'to_client']) this.bytes.inc({ direction }, 0);
    for (const { metricKind } of Object.values(ANSWERED_ERRORS)) this.errors.inc({ kind: metricKind }, 0);
    this.backendUp.set(0);
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Counts a connection once it is classified. */
  countConnection(route: ConnectionRoute): void {
    bound(this.boundChildren, `route ${route}`, () => this.connections.labels({ route })).inc();
  }

  // Every labelled series is bound once, the first time it is used: no label hashing per event.
  private readonly boundChildren = new Map<string, { inc(value?: number): void }>();

  /** Tracks open client connections. */
  connectionOpened(): void {
    this.active.inc();
  }

  connectionClosed(): void {
    this.active.dec();
  }

  /** Adds a closed tunnel's byte counts. */
  addTunnelBytes(toBackend: number, toClient: number): void {
    bound(this.boundChildren, 'direction to_backend', () => this.bytes.labels({ direction: 'to_backend' })).inc(toBackend);
    bound(this.boundChildren, 'direction to_client', () => this.bytes.labels({ direction: 'to_client' })).inc(toClient);
  }

  setBackendUp(up: boolean): void {
    this.backendUp.set(up ? 1 : 0);
  }

  countHealthResponse(kind: 'readiness' | 'liveness', status: number): void {
    bound(this.boundChildren, `health ${kind} ${status}`, () => this.healthResponses.labels({ kind, status: String(status) })).inc();
  }

  countError(code: AnsweredErrorCode): void {
    const kind = ANSWERED_ERRORS[code].metricKind;
    bound(this.boundChildren, `error ${kind}`, () => this.errors.labels({ kind })).inc();
  }

  /** Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

function bound<T>(children: Map<string, T>, key: string, create: () => T): T {
  let child = children.get(key);
  if (!child) children.set(key, (child = create()));
  return child;
}
