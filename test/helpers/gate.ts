import { loopbackArgs } from './cli';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../src/config';
import { createLog } from '../../src/log';
import { start, type Deps, type Gate } from '../../src/main';
import { defer } from './cleanup';
import { within } from './wait';

/** One parsed JSON log line. */
export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

/** An in-process healthgate on 127.0.0.1 with its log lines captured. */
export interface TestGate {
  readonly gate: Gate;
  readonly port: number;
  readonly config: Config;
  /** Every log line so far, parsed. */
  readonly logs: LogLine[];
  /** The warn lines so far. */
  readonly warnings: () => LogLine[];
}

/**
 * Starts healthgate in-process via start(): `--port 0 --host 127.0.0.1`, `-b backendPort` and
 * `args`, logging JSON at debug level into `logs` through the real logger (burst summaries
 * included), with `deps` over the defaults. Shut down when the test ends.
 */
export async function startGate(backendPort: number, args: readonly string[] = [], deps: Pick<Deps, 'lingerMs'> = {}): Promise<TestGate> {
  const outcome = parseConfig([...loopbackArgs(backendPort), '--drain-timeout', '2000', '--log-level', 'debug', ...args], {});
  if (outcome.kind !== 'run') throw new Error('expected a config to run');
  const logs: LogLine[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  const log = createLog({ level: outcome.config.logLevel, format: 'json', stream });
  // A plain emitter: the test process's own signals stay out of it.
  const gate = await start(outcome.config, { ...deps, log, signals: new EventEmitter() });
  defer(async () => {
    gate.shutdown('SIGTERM');
    await within(gate.exited, 5000, 'healthgate to exit');
  });
  return {
    gate,
    port: gate.address.port,
    config: outcome.config,
    logs,
    warnings: () => logs.filter((line) => line.level === 'warn'),
  };
}
