import type { EventEmitter } from 'node:events';

// SPEC (Shutdown): SIGTERM and SIGINT start the drain; a second one is forwarded and hurries it.
const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
// SPEC: forwarded to a child; without one they change nothing. A listener of our own also keeps
// Node's defaults away: SIGHUP and SIGUSR2 would kill the process, and SIGUSR1 would open the
// inspector on 127.0.0.1:9229, where anything that reaches loopback could run code in healthgate.
const PASSED_ON_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGUSR1', 'SIGUSR2'];

/**
 * Routes process signals: shutdown signals to `shutdown.begin`, the others to the child. SIGQUIT
 * goes to the child, which decides (healthgate follows its exit); without a child it drains like
 * SIGTERM, as in nginx (its graceful stop), where Node's default would cut every tunnel.
 * Returns the function that removes every listener it added.
 */
export function listenForSignals(
  signals: EventEmitter,
  shutdown: { begin(signal?: NodeJS.Signals): void },
  child: { signal(signal: NodeJS.Signals): void } | undefined,
): () => void {
  const onShutdown = (signal: NodeJS.Signals): void => shutdown.begin(signal);
  const onPassOn = (signal: NodeJS.Signals): void => child?.signal(signal);
  const onQuit = (signal: NodeJS.Signals): void => (child ? child.signal(signal) : shutdown.begin(signal));
  const listeners: Array<[NodeJS.Signals, (signal: NodeJS.Signals) => void]> = [
    ...SHUTDOWN_SIGNALS.map((name) => [name, onShutdown] as [NodeJS.Signals, typeof onShutdown]),
    ...PASSED_ON_SIGNALS.map((name) => [name, onPassOn] as [NodeJS.Signals, typeof onPassOn]),
    ['SIGQUIT', onQuit],
  ];
  for (const [name, listener] of listeners) signals.on(name, listener);
  return () => {
    for (const [name, listener] of listeners) signals.removeListener(name, listener);
  };
}
