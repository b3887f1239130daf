import { Writable } from 'node:stream';
import { createLog } from '../src/log';
import { Shutdown, type Clock, type DrainableChild, type DrainableListener } from '../src/shutdown';

// src/shutdown.ts driven step by step: an injected clock that moves only when told, a child and
// a listener that record what is asked of them. Pure time logic, so no wall clock and no sockets
// (the same sequence runs end to end in test/e2e/shutdown.test.ts).

class ManualClock implements Clock {
  now = 0;
  private timers: Array<{ at: number; callback: () => void; id: number }> = [];
  private nextId = 0;

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.nextId;
    this.timers.push({ at: this.now + ms, callback, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  get pending(): number {
    return this.timers.length;
  }

  /** Moves time on by `ms`, firing what falls due in order, with the promise jobs they start in between. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = due.at;
      due.callback();
    }
    this.now = until;
    await settle();
  }
}

/** Lets every pending promise job run (the sequence awaits between its steps). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

class RecordingListener implements DrainableListener {
  readonly calls: string[] = [];
  openCount: number;
  private resolveEmpty: (() => void) | undefined;

  constructor(open: number) {
    this.openCount = open;
  }

  stopAccepting(): void {
    this.calls.push('stopAccepting');
  }
  closeUnrouted(): void {
    this.calls.push('closeUnrouted');
  }
  whenEmpty(): Promise<void> {
    if (this.openCount === 0) return Promise.resolve();
    return new Promise((resolve) => (this.resolveEmpty = resolve));
  }
  destroyAll(): number {
    this.calls.push('destroyAll');
    const count = this.openCount;
    this.empty();
    return count;
  }
  /** The last tunnel ended by itself. */
  empty(): void {
    this.openCount = 0;
    this.resolveEmpty?.();
  }
}

/** A child that records signals; it exits when the test says, or on a signal in `exitsOn`. */
class RecordingChild implements DrainableChild {
  readonly signals: string[] = [];
  started = true;
  running = true;
  readonly pid = 4242;
  settled: Promise<unknown> = Promise.resolve();
  private resolveExit!: (code: number) => void;
  readonly exited = new Promise<number>((resolve) => (this.resolveExit = resolve));

  constructor(private readonly exitsOn: Partial<Record<string, number>> = {}) {}

  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    this.signals.push(signal);
    const code = signal === 'SIGKILL' ? 137 : this.exitsOn[signal];
    if (code !== undefined) this.exit(code);
  }

  exit(code: number): void {
    this.running = false;
    this.resolveExit(code);
  }
}

const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });

function setup(options: { delayMs?: number; drainMs?: number; child?: RecordingChild | null; open?: number }) {
  const clock = new ManualClock();
  const listener = new RecordingListener(options.open ?? 0);
  const child = options.child === null ? undefined : (options.child ?? new RecordingChild());
  const events: string[] = [];
  const shutdown = new Shutdown({
    shutdownDelayMs: options.delayMs ?? 0,
    drainTimeoutMs: options.drainMs ?? 10_000,
    listener,
    child,
    log: createLog({ level: 'error', format: 'json', stream: sink }),
    onDraining: () => events.push('draining'),
    onExit: () => events.push('exit'),
    clock,
  });
  let code: number | undefined;
  void shutdown.exited.then((c) => (code = c));
  return { clock, listener, child, events, shutdown, exitCode: () => code };
}

it('SIGTERM: readiness drains, the listener stops, the child gets SIGTERM and its exit code is ours, with no time passing', async () => {
  const { clock, listener, child, events, shutdown, exitCode } = setup({ child: new RecordingChild({ SIGTERM: 0 }) });
  shutdown.begin('SIGTERM');
  await clock.advance(0);
  expect(events).toEqual(['draining', 'exit']);
  expect(listener.calls).toEqual(['stopAccepting', 'closeUnrouted', 'destroyAll']);
  expect(child!.signals).toEqual(['SIGTERM']);
  expect(exitCode()).toBe(0);
  expect(shutdown.state).toBe('exited');
  // Regression: the sleep that lost the race left its timer behind, keeping an embedder alive.
  expect(clock.pending).toBe(0);
});

it('a child that ignores SIGTERM is SIGKILLed exactly at the drain timeout: exit 137', async () => {
  const { clock, child, exitCode, shutdown } = setup({ drainMs: 3000 });
  shutdown.begin('SIGTERM');
  await clock.advance(2999);
  expect(child!.signals).toEqual(['SIGTERM']);
  expect(shutdown.state).toBe('draining');
  await clock.advance(1);
  expect(child!.signals).toEqual(['SIGTERM', 'SIGKILL']);
  expect(exitCode()).toBe(137);
});

it('tunnels that outlive the drain timeout are cut then; without a child the code is 0', async () => {
  const { clock, listener, exitCode, shutdown } = setup({ child: null, open: 3, drainMs: 500 });
  shutdown.begin('SIGTERM');
  await clock.advance(499);
  expect(exitCode()).toBeUndefined();
  await clock.advance(1);
  expect(listener.calls).toEqual(['stopAccepting', 'closeUnrouted', 'destroyAll']);
  expect(exitCode()).toBe(0);
});

it('without a child it exits as soon as the last tunnel ends, before the drain timeout', async () => {
  const { clock, listener, exitCode, shutdown } = setup({ child: null, open: 1 });
  shutdown.begin('SIGTERM');
  await clock.advance(100);
  listener.empty();
  await clock.advance(0);
  expect(exitCode()).toBe(0);
  expect(clock.pending).toBe(0);
});

it('--shutdown-delay: still accepting during the delay; the drain timeout counts from its end', async () => {
  const { clock, listener, child, exitCode, shutdown } = setup({ delayMs: 1500, drainMs: 1000 });
  shutdown.begin('SIGTERM');
  await clock.advance(1499);
  expect(listener.calls).toEqual([]);
  expect(child!.signals).toEqual([]);
  expect(shutdown.state).toBe('delaying');
  await clock.advance(1);
  expect(listener.calls).toEqual(['stopAccepting', 'closeUnrouted']);
  expect(child!.signals).toEqual(['SIGTERM']);
  await clock.advance(999);
  expect(exitCode()).toBeUndefined();
  await clock.advance(1);
  expect(exitCode()).toBe(137);
});

it('a second signal during the delay is forwarded and ends the delay and the wait at once', async () => {
  const { clock, listener, child, exitCode, shutdown } = setup({ delayMs: 10_000, drainMs: 10_000 });
  shutdown.begin('SIGTERM');
  await clock.advance(100);
  shutdown.begin('SIGINT');
  await clock.advance(0);
  expect(listener.calls).toEqual(['stopAccepting', 'closeUnrouted', 'destroyAll']);
  expect(child!.signals).toEqual(['SIGINT', 'SIGTERM', 'SIGKILL']);
  expect(exitCode()).toBe(137);
  expect(clock.now).toBe(100);
});

it('a second signal during the wait is forwarded and ends the wait at once', async () => {
  const { clock, child, exitCode, shutdown } = setup({ drainMs: 10_000 });
  shutdown.begin('SIGTERM');
  await clock.advance(2000);
  shutdown.begin('SIGTERM');
  await clock.advance(0);
  expect(child!.signals).toEqual(['SIGTERM', 'SIGTERM', 'SIGKILL']);
  expect(exitCode()).toBe(137);
});

it('a child that exited by itself: no delay, no signal, its code', async () => {
  const child = new RecordingChild();
  const { clock, exitCode, shutdown } = setup({ child, delayMs: 5000 });
  child.exit(3);
  shutdown.begin();
  await clock.advance(0);
  expect(child.signals).toEqual([]);
  expect(exitCode()).toBe(3);
});

it('a signal that comes while the child is being started reaches it once it has started', async () => {
  const child = new RecordingChild({ SIGTERM: 0 });
  let started!: () => void;
  child.settled = new Promise<void>((resolve) => (started = resolve));
  const { clock, exitCode, shutdown } = setup({ child });
  shutdown.begin('SIGTERM');
  await clock.advance(50);
  expect(child.signals).toEqual([]);
  started();
  await clock.advance(0);
  expect(child.signals).toEqual(['SIGTERM']);
  expect(exitCode()).toBe(0);
});

it('a child that was never started (the signal came first): code 0, nothing to wait for', async () => {
  const child = new RecordingChild();
  child.started = false;
  child.running = false;
  const { clock, exitCode, shutdown } = setup({ child });
  shutdown.begin('SIGTERM');
  await clock.advance(0);
  expect(exitCode()).toBe(0);
});
