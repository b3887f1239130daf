import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { BackendCheck, type CheckResult } from './backend-check';
import { BackendTarget } from './backend-target';
import type { Config } from './config';
import { Connection, type ConnectionContext } from './connection';
import { renderHealth, renderResponse, type HealthStatus } from './health';
import { Listener } from './listener';
import { createLog, type Log } from './log';
import { Metrics } from './metrics';
import { compileRules, type LocalTarget, type RequestHead } from './sniff';
import { Supervisor, type SpawnFunction } from './supervisor';

/** The edges of the process, injectable so that tests can capture logs and send signals. */
export interface Deps {
  readonly log?: Log;
  /** Where SIGTERM and friends arrive; `process` by default. */
  readonly signals?: EventEmitter;
  readonly spawn?: SpawnFunction;
  /** The child's base environment; `process.env` by default. */
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
}

/** A running healthgate. */
export interface Gate {
  /** The bound public address (the real port when `--port 0`). */
  readonly address: AddressInfo;
  /** Resolves with the process's exit code once healthgate has shut down. */
  readonly exited: Promise<number>;
  /** Starts the shutdown as SIGTERM would (a second call ends the waiting at once). */
  shutdown(signal?: NodeJS.Signals): void;
}

const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
// SPEC: forwarded to a child; without one they change nothing. A listener of our own also keeps
// Node's defaults away: SIGHUP and SIGUSR2 would kill the process, and SIGUSR1 would open the
// inspector on 127.0.0.1:9229, where anything that reaches loopback could run code in healthgate.
const PASSED_ON_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGUSR1', 'SIGUSR2'];

/** Starts healthgate: listens, starts the child in entrypoint mode, and owns shutdown and drain. */
export async function start(config: Config, deps: Deps = {}): Promise<Gate> {
  const log = deps.log ?? createLog({ level: config.logLevel, format: config.logFormat });
  const now = deps.now ?? Date.now;
  const signals = deps.signals ?? process;
  const startedAt = now();
  const metrics = new Metrics(config.metricsPath !== undefined);
  const backend = new BackendTarget(config.backendHost, config.backendPort);
  let lastCheck: CheckResult | undefined;
  const check = new BackendCheck(
    config.healthCheck,
    backend,
    config.checkPath,
    (result) => {
      if (lastCheck?.ok !== result.ok) log.info(result.ok ? 'backend up' : 'backend down', { backend: backend.label, reason: result.reason });
      lastCheck = result;
      metrics.setBackendUp(result.ok);
    },
    now,
  );
  let draining = false;

  const uptimeSeconds = (): number => (now() - startedAt) / 1000;
  // What readiness knows without running a check (while draining, or for liveness's JSON).
  const lastKnown = (): CheckResult => check.fresh() ?? lastCheck ?? { ok: false, backend: 'down', reason: 'backend down' };
  const healthAnswer = (head: RequestHead, status: HealthStatus): Buffer => {
    metrics.countHealthResponse(status.kind, status.ok ? 200 : 503);
    return renderHealth(head, status);
  };
  // SPEC: readiness is the check's result, and 503 `draining` from the shutdown signal on (also
  // for a check that was still running when the signal came).
  const readinessAnswer = (head: RequestHead, result: CheckResult): Buffer =>
    healthAnswer(head, {
      kind: 'readiness',
      ok: result.ok && !draining,
      reason: draining ? 'draining' : result.reason,
      backend: result.backend,
      draining,
      uptimeSeconds: uptimeSeconds(),
    });

  const answerLocal = (target: LocalTarget, head: RequestHead): Buffer | Promise<Buffer> => {
    switch (target) {
      case 'live':
        return healthAnswer(head, { kind: 'liveness', ok: true, backend: lastKnown().backend, draining, uptimeSeconds: uptimeSeconds() });
      case 'metrics':
        // SPEC: a scrape is not a health answer.
        return metrics.render().then((text) => renderResponse(200, head, metrics.contentType, Buffer.from(text)));
      case 'health': {
        const known = draining ? lastKnown() : check.fresh();
        if (known) return readinessAnswer(head, known);
        return check.check().then((result) => readinessAnswer(head, result));
      }
    }
  };

  const context: ConnectionContext = {
    rules: compileRules(config),
    headerTimeoutMs: config.headerTimeoutMs,
    halfCloseTimeoutMs: config.halfCloseTimeoutMs,
    backend,
    metrics,
    log,
    answerLocal,
  };
  let nextId = 0;
  const listener = new Listener<Connection>(log, (socket: Socket, release) => new Connection(socket, context, ++nextId, release));

  let supervisor: Supervisor | undefined;
  if (config.command.length > 0) {
    const childEnv: NodeJS.ProcessEnv = { ...(deps.env ?? process.env) };
    // SPEC: the child binds the internal port: PORT and each --child-port-env name are set to it.
    for (const name of ['PORT', ...config.childPortEnv]) childEnv[name] = String(config.backendPort);
    supervisor = new Supervisor({ command: config.command, env: childEnv, signalGroup: config.signalGroup, spawn: deps.spawn });
  }

  // Shutdown: one interruptible sequence, driven by signals, a child's exit, or shutdown().
  let resolveExited!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExited = resolve));
  let shutdownStarted = false;
  let hurry: () => void = () => undefined;
  const hurried = new Promise<void>((resolve) => (hurry = resolve));
  // Settles once the child has been started (or failed to be): a signal that arrives before must wait for it.
  let childSettled: Promise<unknown> = Promise.resolve();

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      void hurried.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  const removeSignalHandlers = (): void => {
    for (const name of SHUTDOWN_SIGNALS) signals.removeListener(name, onShutdownSignal);
    for (const name of PASSED_ON_SIGNALS) signals.removeListener(name, onForwardSignal);
    signals.removeListener('SIGQUIT', onQuitSignal);
  };

  const drain = async (signal: NodeJS.Signals | undefined): Promise<void> => {
    draining = true;
    if (signal && config.shutdownDelayMs > 0) {
      log.info('shutdown delay', { signal, delayMs: config.shutdownDelayMs });
      await sleep(config.shutdownDelayMs);
    }
    listener.stopAccepting();
    for (const connection of listener.connections) connection.closeIfNotRouted();
    await childSettled;
    if (signal) supervisor?.signal(signal);
    log.info('draining', { signal, connections: listener.connections.size, drainTimeoutMs: config.drainTimeoutMs, child: supervisor?.running ?? false });
    const drained = Promise.all([listener.whenEmpty(), supervisor?.running ? supervisor.exited : undefined]);
    await Promise.race([drained, sleep(config.drainTimeoutMs)]);
    // Ends the sleep that lost the race, whose timer would keep an embedding process alive.
    hurry();
    if (supervisor?.running) {
      log.warn('child did not exit in time: SIGKILL', { pid: supervisor.pid });
      supervisor.signal('SIGKILL');
    }
    const left = listener.connections.size;
    for (const connection of listener.connections) connection.destroy();
    const code = supervisor?.started ? await supervisor.exited : 0;
    log.info('exiting', { code, closedAtDeadline: left });
    removeSignalHandlers();
    log.close();
    resolveExited(code);
  };

  // No floating promise: a drain that fails (a bug) still ends healthgate, with its child killed.
  const runDrain = (signal: NodeJS.Signals | undefined): void => {
    drain(signal).catch((err: unknown) => {
      log.error('shutdown failed', { error: String(err) });
      supervisor?.signal('SIGKILL');
      removeSignalHandlers();
      log.close();
      resolveExited(1);
    });
  };

  const shutdown = (signal?: NodeJS.Signals): void => {
    if (shutdownStarted) {
      // SPEC: a second SIGINT/SIGTERM is forwarded and ends the delay and the wait at once.
      if (signal) supervisor?.signal(signal);
      hurry();
      return;
    }
    shutdownStarted = true;
    log.info('shutting down', { signal });
    runDrain(signal);
  };
  const onShutdownSignal = (signal: NodeJS.Signals): void => shutdown(signal);
  const onForwardSignal = (signal: NodeJS.Signals): void => supervisor?.signal(signal);
  // SIGQUIT goes to the app, which decides (healthgate follows its exit). Without an app it
  // drains like SIGTERM, as it does in nginx (its graceful stop): whoever sends it wants the
  // process gone, and Node's default (an abrupt exit) would cut every tunnel.
  const onQuitSignal = (signal: NodeJS.Signals): void => (supervisor ? supervisor.signal(signal) : shutdown(signal));

  // Handlers go in before the port is bound: a platform may signal as soon as it sees the port.
  for (const name of SHUTDOWN_SIGNALS) signals.on(name, onShutdownSignal);
  for (const name of PASSED_ON_SIGNALS) signals.on(name, onForwardSignal);
  signals.on('SIGQUIT', onQuitSignal);

  let address: AddressInfo;
  try {
    address = await listener.listen(config.port, config.host);
  } catch (err) {
    removeSignalHandlers();
    log.close();
    throw err;
  }
  log.info('healthgate listening', {
    address: address.address,
    port: address.port,
    backend: backend.label,
    healthPaths: config.healthPaths,
    livePaths: config.livePaths,
    healthCheck: config.healthCheck,
    metricsPath: config.metricsPath,
    command: config.command.length > 0 ? config.command.join(' ') : undefined,
  });

  if (supervisor && !shutdownStarted) {
    const starting = supervisor.start();
    childSettled = starting.catch(() => undefined);
    try {
      await starting;
    } catch (err) {
      listener.stopAccepting();
      removeSignalHandlers();
      log.close();
      throw err;
    }
    log.info('child started', { pid: supervisor.pid, command: config.command.join(' ') });
    void supervisor.exited.then((code) => {
      if (shutdownStarted) return;
      log.info('child exited', { code });
      shutdownStarted = true;
      runDrain(undefined);
    });
  }

  return { address, exited, shutdown };
}
