import type { AddressInfo } from 'node:net';
import type { Config } from './config';
import type { Log } from './log';
import type { Shutdown } from './shutdown';
import type { Supervisor } from './supervisor';

// What happens once the public port is bound: the start line, then the app in entrypoint mode.

/** SPEC (Logs): one info line at start names the address and port, the backend, the paths and the check. */
export function logListening(log: Log, config: Config, address: AddressInfo, backend: string, command: string | undefined): void {
  const { healthPaths, livePaths, healthCheck, metricsPath } = config;
  // Undefined fields (no metrics path, no command) are left out of the line.
  log.info('healthgate listening', {
    address: address.address,
    port: address.port,
    backend,
    healthPaths,
    livePaths,
    healthCheck,
    metricsPath,
    command,
  });
}

/**
 * Entrypoint mode (SPEC): starts the app unless a shutdown came first, and lets the app's own exit
 * start the drain. A command that cannot be started rejects (StartError: exit 126 or 127), after
 * `onStartFailed` has closed the port.
 */
export async function startChild(supervisor: Supervisor, shutdown: Shutdown, log: Log, onStartFailed: () => void): Promise<void> {
  if (shutdown.started) {
    supervisor.skipStart();
    return;
  }
  try {
    await supervisor.start();
  } catch (err) {
    onStartFailed();
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
