import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { BackendTarget } from './backend-target';
import type { Config } from './config';
import { Connection, type ConnectionContext } from './connection';
import { Diagnostics } from './diagnose';
import { logListening, startChild } from './startup';
import { HeadMemo } from './head-memo';
import { Listener } from './listener';
import { createLog, type Log } from './log';
import { createMetrics } from './metrics';
import { LocalAnswers } from './readiness';
import { listenForSignals } from './signals';
import { Shutdown, type Clock } from './shutdown';
import { compileRules } from './sniff';
import { childEnvironment, Supervisor, type SpawnFunction } from './supervisor';

/** The edges of the process, injectable so that tests can capture logs, send signals and drive time. */
export interface Deps {
  readonly log?: Log;
  /** Where SIGTERM and friends arrive; `process` by default. */
  readonly signals?: EventEmitter;
  readonly spawn?: SpawnFunction;
  /** The child's base environment; `process.env` by default. */
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
  readonly clock?: Clock;
  /** The lingering close after an answer that closes (2 s); a test lengthens it. */
  readonly lingerMs?: number;
}

/** A running healthgate: its bound address (the real port with `--port 0`), its exit code to come, and SIGTERM's effect. */
export interface Gate {
  readonly address: AddressInfo;
  readonly exited: Promise<number>;
  shutdown(signal?: NodeJS.Signals): void;
}

/** Wires healthgate's parts, listens, starts the child in entrypoint mode; shutdown.ts does the rest. */
export async function start(config: Config, deps: Deps = {}): Promise<Gate> {
  const { command, backendPort, signalGroup, healthCheck, checkPath } = config;
  const { headerTimeoutMs, halfCloseTimeoutMs, shutdownDelayMs, drainTimeoutMs } = config;
  const log = deps.log ?? createLog({ level: config.logLevel, format: config.logFormat });
  const env = deps.env ?? process.env;
  const now = deps.now ?? Date.now;
  const metrics = createMetrics(config.metricsPath !== undefined);
  const backend = new BackendTarget(config.backendHost, backendPort);
  const child =
    command.length > 0 ? new Supervisor({ command, signalGroup, env: childEnvironment(env, config), spawn: deps.spawn }) : undefined;
  const diagnostics = new Diagnostics({ log, backendPort, backendAddresses: backend.addresses, appPid: () => child?.pid, now });
  const appPort = child ? backendPort : undefined;
  const answers = new LocalAnswers({ healthCheck, checkPath, backend, metrics, log, diagnostics, appPort, now });
  const context: ConnectionContext = {
    rules: compileRules(config),
    memo: new HeadMemo(),
    headerTimeoutMs,
    halfCloseTimeoutMs,
    backend,
    metrics,
    log,
    answerLocal: answers.answer,
    routedToBackend: diagnostics.routedToBackend,
    lingerMs: deps.lingerMs,
  };
  let nextId = 0;
  const listener = new Listener<Connection>(log, (socket, release) => new Connection(socket, context, ++nextId, release));
  const onExit = (): void => {
    stopSignals();
    log.close();
  };
  const onDraining = (): void => answers.startDraining();
  const shutdown = new Shutdown({ shutdownDelayMs, drainTimeoutMs, listener, child, log, clock: deps.clock, onDraining, onExit });
  // Handlers go in before the port is bound: a platform may signal as soon as it sees the port.
  const stopSignals = listenForSignals(deps.signals ?? process, shutdown, child);

  const address = await listener.listen(config.port, config.host).catch((err: unknown) => {
    onExit();
    throw err;
  });
  logListening(log, config, address, backend.label, child?.commandLine);
  diagnostics.atStart(env);
  const onStartFailed = (): void => {
    listener.stopAccepting();
    onExit();
  };
  if (child) await startChild(child, shutdown, log, onStartFailed);
  return { address, exited: shutdown.exited, shutdown: (signal) => shutdown.begin(signal) };
}
