import type { BackendCheck, CheckResult } from './backend-check';
import type { Diagnostics } from './diagnose';
import { renderHealth, renderResponse, type HealthStatus } from './health';
import type { Log } from './log';
import type { Metrics } from './metrics';
import type { LocalTarget, RequestHead } from './sniff';

const NEVER_CHECKED: CheckResult = Object.freeze({ ok: false, backend: 'down', reason: 'backend down' });

/**
 * The answers healthgate gives itself (SPEC: Health answers): readiness from the backend check,
 * 503 `draining` from the shutdown signal on; liveness while the process runs; metrics.
 */
export class LocalAnswers {
  private draining = false;
  private lastResult: CheckResult | undefined;
  private readonly startedAt: number;

  constructor(
    private readonly check: BackendCheck,
    private readonly metrics: Metrics,
    private readonly log: Log,
    private readonly diagnostics: Diagnostics,
    private readonly backendLabel: string,
    /** In entrypoint mode, the port the app was given in PORT (named in 503 answers). */
    private readonly appPort: number | undefined,
    private readonly now: () => number,
  ) {
    this.startedAt = now();
  }

  /** SPEC: readiness answers 503 `draining` from now on, also for a check that is still running. */
  startDraining(): void {
    this.draining = true;
  }

  /** Records a finished check: the backend gauge, a line when the backend comes up, the diagnostics while it is down. */
  readonly onCheckResult = (result: CheckResult): void => {
    if (result.ok && this.lastResult?.ok !== true) this.log.info('backend up', { backend: this.backendLabel });
    if (!result.ok) this.diagnostics.backendDown(result);
    this.lastResult = result;
    this.metrics.setBackendUp(result.ok);
  };

  /** The bytes of the answer to a local request; a promise when a check or a scrape runs first. */
  readonly answer = (target: LocalTarget, head: RequestHead): Buffer | Promise<Buffer> => {
    switch (target) {
      case 'live':
        return this.render(head, {
          kind: 'liveness',
          ok: true,
          backend: this.lastKnown().backend,
          draining: this.draining,
          uptimeSeconds: this.uptimeSeconds(),
        });
      case 'metrics':
        // SPEC: a scrape is not a health answer.
        return this.metrics.render().then((text) => renderResponse(200, head, this.metrics.contentType, Buffer.from(text)));
      case 'health': {
        const known = this.draining ? this.lastKnown() : this.check.fresh();
        if (known) return this.readiness(head, known);
        return this.check.check().then((result) => this.readiness(head, result));
      }
    }
  };

  private readiness(head: RequestHead, result: CheckResult): Buffer {
    return this.render(head, {
      kind: 'readiness',
      ok: result.ok && !this.draining,
      reason: this.draining ? 'draining' : result.reason,
      backend: result.backend,
      draining: this.draining,
      uptimeSeconds: this.uptimeSeconds(),
      // SPEC (Diagnostics): a 503 says what was tried and which port the app was given.
      ...(!result.ok && !this.draining ? { tried: result.tried, appPort: this.appPort } : {}),
    });
  }

  private render(head: RequestHead, status: HealthStatus): Buffer {
    this.metrics.countHealthResponse(status.kind, status.ok ? 200 : 503);
    return renderHealth(head, status);
  }

  /** What readiness knows without running a check (while draining, or for liveness's JSON). */
  private lastKnown(): CheckResult {
    return this.check.fresh() ?? this.lastResult ?? NEVER_CHECKED;
  }

  private uptimeSeconds(): number {
    return (this.now() - this.startedAt) / 1000;
  }
}
