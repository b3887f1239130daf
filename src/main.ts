import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { BackendCheck } from './backend-check';
import { BackendTarget } from './backend-target';
import type { Config } from './config';
import { Connection, type ConnectionContext } from './connection';
import { Listener } from './listener';
import { Diagnostics } from './diagnose';
import { createLog, type Log } from './log';
import { Metrics } from './metrics';
import { LocalAnswers } from './readiness';
import { listenForSignals } from './signals';
import { Shutdown, type Clock } from './shutdown';
import { HeadMemo } from './head-memo';
import { compileRules } from './sniff';
import { childEnvironment, Supervisor, type SpawnFunction } from './supervisor';

/** The edges of the process, injectable so that tests can capture logs and send signals. */
export interface Deps {
  readonly log?: Log;
  /** Where SIGTERM and friends arrive; `process` by default. */
  readonly signals?: EventEmitter;
  readonly spawn?: SpawnFunction;
  /** The child's base environment; `process.env` by default. */
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
  readonly clock?: Clock;
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

/** Starts healthgate: listens, starts the child in entrypoint mode, and hands shutdown to shutdown.ts. */
export async function start(config: Config, deps: Deps = {}): Promise<Gate> {
  const log = deps.log ?? createLog({ level: config.logLevel, format: config.logFormat });
  const now = deps.now ?? Date.now;
  const metrics = new Metrics(config.metricsPath !== undefined);
  const backend = new BackendTarget(config.backendHost, config.backendPort);
  const { command, signalGroup, backendPort } = config;
  const appPid = (): number | undefined => supervisor?.pid;
  const diagnostics = new Diagnostics({ log, backendPort, backendAddresses: backend.addresses, appPid, now });
  const check = new BackendCheck(config.healthCheck, backend, config.checkPath, (result) => answers.onCheckResult(result), now);
  const appPort = command.length > 0 ? backendPort : undefined;
  const answers = new LocalAnswers(check, metrics, log, diagnostics, backend.label, appPort, now);
  const { headerTimeoutMs, halfCloseTimeoutMs, shutdownDelayMs, drainTimeoutMs } = config;
  const context: ConnectionContext = {
    rules: compileRules(config),
    memo: new HeadMemo(),
    headerTimeoutMs,
    halfCloseTimeoutMs,
    backend,
    metrics,
    log,
    answerLocal: answers.answer,
    routedToBackend: (sniffed) => diagnostics.routedToBackend(sniffed),
  };
  let nextId = 0;
  const listener = new Listener<Connection>(log, (socket, release) => new Connection(socket, context, ++nextId, release));
  const env = childEnvironment(deps.env ?? process.env, config);
  const supervisor = command.length > 0 ? new Supervisor({ command, env, signalGroup, spawn: deps.spawn }) : undefined;
  const onExit = (): void => {
    stopListening();
    log.close();
  };
  const onDraining = (): void => answers.startDraining();
  const shutdown = new Shutdown({
    shutdownDelayMs,
    drainTimeoutMs,
    listener,
    child: supervisor,
    log,
    clock: deps.clock,
    onDraining,
    onExit,
  });
  // Handlers go in before the port is bound: a platform may signal as soon as it sees the port.
  const stopListening = listenForSignals(deps.signals ?? process, shutdown, supervisor);

  const address = await listener.listen(config.port, config.host).catch((err: unknown) => {
    onExit();
    throw err;
  });
  logListening(log, config, address, backend.label, supervisor?.commandLine);
  diagnostics.atStart(deps.env ?? process.env);
  if (supervisor) await startChild(supervisor, shutdown, listener, log, onExit);
  return { address, exited: shutdown.exited, shutdown: (signal) => shutdown.begin(signal) };
}

/** SPEC (Logs): one info line at start names the address and port, the backend, the paths and the check. */
function logListening(log: Log, config: Config, address: AddressInfo, backend: string, command: string | undefined): void {
  const { healthPaths, livePaths, healthCheck, metricsPath } = config;
  const optional = { ...(metricsPath ? { metricsPath } : {}), ...(command ? { command } : {}) };
  log.info('healthgate listening', {
    address: address.address,
    port: address.port,
    backend,
    healthPaths,
    livePaths,
    healthCheck,
    ...optional,
  });
}

/** Starts the child unless a shutdown came first; its own exit starts the drain (SPEC: Entrypoint mode). */
async function startChild(
  supervisor: Supervisor,
  shutdown: Shutdown,
  listener: Listener<Connection>,
  log: Log,
  onExit: () => void,
): Promise<void> {
  if (shutdown.started) {
    supervisor.skipStart();
    return;
  }
  try {
    await supervisor.start();
  } catch (err) {
    listener.stopAccepting();
    onExit();
    throw err;
  }
  log.info('child started', { pid: supervisor.pid, command: supervisor.commandLine });
  void supervisor.exited.then((code) => {
    if (shutdown.started) return;
    // SPEC (Diagnostics): an app that fails (a code other than 0, or a signal) is a warning.
    if (code === 0) log.info('child exited', { code });
    else log.warn('child exited', { code });
    shutdown.begin();
  });
}
