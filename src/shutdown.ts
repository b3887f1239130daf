import type { Log } from './log';

/** What shutdown needs of the listener: stop, close what is not routed, wait, cut the rest. */
export interface DrainableListener {
  stopAccepting(): void;
  /** SPEC: connections still being sniffed or idle between health requests are closed at once. */
  closeUnrouted(): void;
  /** Resolves when no connection is open. */
  whenEmpty(): Promise<void>;
  /** Closes every connection still open; returns how many there were. */
  destroyAll(): number;
  readonly openCount: number;
}

/** What shutdown needs of the child in entrypoint mode. */
export interface DrainableChild {
  /** True once a start was tried (spawned, or failed to spawn). */
  readonly started: boolean;
  readonly running: boolean;
  readonly pid: number | undefined;
  /** Resolves once the child has been started, has failed to start, or will not be started. */
  readonly settled: Promise<unknown>;
  /** Resolves with the exit code healthgate should use (128 + signal for a signal). */
  readonly exited: Promise<number>;
  signal(signal: NodeJS.Signals): void;
}

/** Timers, injectable so that unit tests drive the sequence without the wall clock. */
export interface Clock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const SYSTEM_CLOCK: Clock = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Options of the drain: its budgets (ms), what it drains, and where it reports. */
export interface ShutdownOptions {
  readonly shutdownDelayMs: number;
  readonly drainTimeoutMs: number;
  readonly listener: DrainableListener;
  readonly child: DrainableChild | undefined;
  readonly log: Log;
  /** Called once, at the start: from then on readiness answers 503 `draining`. */
  readonly onDraining: () => void;
  /** Called once, just before `exited` resolves (remove signal handlers, flush the log). */
  readonly onExit: () => void;
  readonly clock?: Clock;
}

/**
 * - `running`: no shutdown yet.
 * - `delaying`: the shutdown delay: still accepting, readiness 503.
 * - `draining`: not accepting; tunnels and the child end by themselves, for at most the drain timeout.
 * - `finishing`: SIGKILL to a child still running, the last connections cut, waiting for the child's code.
 * - `exited`: `exited` has resolved.
 */
export type ShutdownState = 'running' | 'delaying' | 'draining' | 'finishing' | 'exited';

/**
 * The drain sequence (SPEC: Shutdown) as a small state machine: delay → stop accepting → signal
 * the child → wait for connections and child, bounded → SIGKILL → exit code. A second signal is
 * forwarded to the child and ends the delay and the wait at once.
 */
export class Shutdown {
  private current: ShutdownState = 'running';
  private hurried = false;
  private wakeSleepers: Array<() => void> = [];
  private resolveExited!: (code: number) => void;
  /** Resolves with the process's exit code: the child's, or 0 without one (1 if the sequence itself failed). */
  readonly exited: Promise<number> = new Promise((resolve) => (this.resolveExited = resolve));
  private readonly clock: Clock;

  constructor(private readonly options: ShutdownOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** The state now. */
  get state(): ShutdownState {
    return this.current;
  }

  /** True from the first call of begin() on. */
  get started(): boolean {
    return this.current !== 'running';
  }

  /**
   * Starts the shutdown: on a signal (SIGTERM, SIGINT), or with none when the child exited by
   * itself. A later call with a signal forwards it to the child and ends the waiting at once.
   */
  begin(signal?: NodeJS.Signals): void {
    if (this.started) {
      if (signal) this.options.child?.signal(signal);
      this.hurry();
      return;
    }
    this.current = 'delaying';
    this.options.log.info('shutting down', { signal });
    this.options.onDraining();
    // No floating promise: a failure in the sequence (a bug) still ends healthgate, child killed.
    this.run(signal).catch((err: unknown) => {
      this.options.log.error('shutdown failed', { error: String(err) });
      this.options.child?.signal('SIGKILL');
      this.exit(1);
    });
  }

  private async run(signal: NodeJS.Signals | undefined): Promise<void> {
    const { listener, child, log } = this.options;
    if (signal && this.options.shutdownDelayMs > 0) {
      log.info('shutdown delay', { signal, delayMs: this.options.shutdownDelayMs });
      await this.sleep(this.options.shutdownDelayMs);
    }
    this.current = 'draining';
    listener.stopAccepting();
    listener.closeUnrouted();
    // A signal that came while the child was being started waits for it, so that it reaches it.
    await child?.settled;
    if (signal) child?.signal(signal);
    log.info('draining', {
      signal,
      connections: listener.openCount,
      drainTimeoutMs: this.options.drainTimeoutMs,
      child: child?.running ?? false,
    });
    const drained = Promise.all([listener.whenEmpty(), child?.running ? child.exited : undefined]);
    await Promise.race([drained, this.sleep(this.options.drainTimeoutMs)]);
    this.current = 'finishing';
    // Ends the sleep that lost the race, whose timer would keep an embedding process alive.
    this.hurry();
    if (child?.running) {
      log.warn('child did not exit in time: SIGKILL', { pid: child.pid });
      child.signal('SIGKILL');
    }
    const closedAtDeadline = listener.destroyAll();
    const code = child?.started ? await child.exited : 0;
    // SPEC (Diagnostics): every line, summaries of bursts included, comes before `exiting`.
    log.flush();
    log.info('exiting', { code, closedAtDeadline });
    this.exit(code);
  }

  private exit(code: number): void {
    if (this.current === 'exited') return;
    this.current = 'exited';
    this.options.onExit();
    this.resolveExited(code);
  }

  /** Resolves after `ms`, or at once once hurried. */
  private sleep(ms: number): Promise<void> {
    if (this.hurried) return Promise.resolve();
    return new Promise((resolve) => {
      const handle = this.clock.setTimeout(() => {
        this.wakeSleepers = this.wakeSleepers.filter((wake) => wake !== cut);
        resolve();
      }, ms);
      const cut = (): void => {
        this.clock.clearTimeout(handle);
        resolve();
      };
      this.wakeSleepers.push(cut);
    });
  }

  private hurry(): void {
    this.hurried = true;
    const sleepers = this.wakeSleepers;
    this.wakeSleepers = [];
    for (const wake of sleepers) wake();
  }
}
