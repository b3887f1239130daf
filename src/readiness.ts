import { BackendCheck, type CheckResult } from './backend-check';
import type { BackendTarget } from './backend-target';
import type { CheckMode } from './config';
import type { Diagnostics } from './diagnose';
import { renderHealth, renderResponse, type HealthStatus } from './health';
import type { Log } from './log';
import type { Metrics } from './metrics';
import type { LocalTarget, RequestHead } from './sniff';

const NEVER_CHECKED: CheckResult = Object.freeze({ ok: false, backend: 'down', reason: 'backend down' });

/** What the local answers need: the check's settings (from Config), the backend, and where they report. */
export interface LocalAnswersOptions {
  readonly healthCheck: CheckMode;
  readonly checkPath: string;
  readonly backend: BackendTarget;
  readonly metrics: Metrics;
  readonly log: Log;
  readonly diagnostics: Diagnostics;
  /** In entrypoint mode, the port the app was given in PORT (named in 503 answers). */
  readonly appPort: number | undefined;
  readonly now: () => number;
}

/**
 * The answers healthgate gives itself (SPEC: Health answers): readiness from the backend check,
 * 503 `draining` from the shutdown signal on; liveness while the process runs; metrics.
 */
export class LocalAnswers {
  private draining = false;
  private lastResult: CheckResult | undefined;
  private readonly startedAt: number;
  private readonly check: BackendCheck;

  constructor(private readonly options: LocalAnswersOptions) {
    this.check = new BackendCheck(options.healthCheck, options.backend, options.checkPath, this.onCheckResult, options.now);
    this.startedAt = options.now();
  }

  /** SPEC: readiness answers 503 `draining` from now on, also for a check that is still running. */
  startDraining(): void {
    this.draining = true;
  }

  /** Records a finished check: the backend gauge, a line when the backend comes up, the diagnostics while it is down. */
  readonly onCheckResult = (result: CheckResult): void => {
    if (result.ok && this.lastResult?.ok !== true) this.options.log.info('backend up', { backend: this.options.backend.label });
    if (!result.ok) this.options.diagnostics.backendDown(result);
    this.lastResult = result;
    this.options.metrics.setBackendUp(result.ok);
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
        return this.options.metrics.render().then((text) => renderResponse(200, head, this.options.metrics.contentType, Buffer.from(text)));
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
      ...(!result.ok && !this.draining ? { tried: result.tried, appPort: this.options.appPort } : {}),
    });
  }

  private render(head: RequestHead, status: HealthStatus): Buffer {
    this.options.metrics.countHealthResponse(status.kind, status.ok ? 200 : 503);
    return renderHealth(head, status);
  }

  /** What readiness knows without running a check (while draining, or for liveness's JSON). */
  private lastKnown(): CheckResult {
    return this.check.fresh() ?? this.lastResult ?? NEVER_CHECKED;
  }

  private uptimeSeconds(): number {
    return (this.options.now() - this.startedAt) / 1000;
  }
}
