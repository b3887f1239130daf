import type { Writable } from 'node:stream';
import winston from 'winston';
import type { LogFormat, LogLevel } from './config';

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** The small logging surface that healthgate's modules use. */
export interface Log {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  /** A warn line whose caller limits its rate itself (diagnose.ts): never folded into a burst summary. */
  finding(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** True when debug lines are written, so that callers can skip building their fields. */
  readonly debugEnabled: boolean;
  /** Writes pending burst summaries now (before a last line, so that every line precedes it). */
  flush(): void;
  /** Flushes pending burst summaries and stops their timer. */
  close(): void;
}

const SUMMARY_WINDOW_MS = 1000;

/** Builds the winston logger: JSON lines (level, message, timestamp, fields) or readable lines, to stdout. */
export function createLog(options: { level: LogLevel; format: LogFormat; stream?: Writable }): Log {
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf(({ level, message, timestamp, ...fields }) => {
            // SPEC (Diagnostics): readable lines print no undefined fields.
            const extra = Object.entries(fields)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join(' ');
            return `${String(timestamp)} ${level.padEnd(5)} ${String(message)}${extra ? ' ' + extra : ''}`;
          }),
        );
  // SPEC: every line goes to stdout (Railway marks stderr lines as errors).
  const stream = options.stream ?? process.stdout;
  const logger = winston.createLogger({
    level: options.level,
    format,
    transports: [new winston.transports.Stream({ stream })],
  });
  // SPEC: a write error on stdout (a reader that has gone: `healthgate … | head -n1`) stops
  // logging, never the proxy. Without these listeners the EPIPE is an unhandled 'error' event.
  const output = { broken: false };
  const stopLogging = (): void => {
    output.broken = true;
  };
  stream.on('error', stopLogging);
  logger.on('error', stopLogging);
  return summarizeWarnings(logger, options.level === 'debug', output);
}

interface Burst {
  count: number;
  fields: LogFields | undefined;
}

/**
 * SPEC: a burst of the same warning is summarised ("… and N more in the last second"): the first
 * line of each message in a one-second window is written, the rest are counted and summarised once.
 */
function summarizeWarnings(logger: winston.Logger, debugEnabled: boolean, output: { readonly broken: boolean }): Log {
  const bursts = new Map<string, Burst>();
  let timer: NodeJS.Timeout | undefined;

  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (const [message, burst] of bursts) {
      if (burst.count > 0) {
        logger.warn(`${message} (and ${burst.count} more in the last second)`, { ...burst.fields, suppressed: burst.count });
      }
    }
    bursts.clear();
  };

  return {
    error: (message, fields) => output.broken || logger.error(message, fields),
    info: (message, fields) => output.broken || logger.info(message, fields),
    debug: (message, fields) => output.broken || logger.debug(message, fields),
    finding: (message, fields) => output.broken || logger.warn(message, fields),
    warn(message, fields) {
      if (output.broken) return;
      const burst = bursts.get(message);
      if (burst) {
        burst.count++;
        burst.fields = fields;
        return;
      }
      bursts.set(message, { count: 0, fields: undefined });
      logger.warn(message, fields);
      if (!timer) {
        timer = setTimeout(flush, SUMMARY_WINDOW_MS);
        timer.unref();
      }
    },
    debugEnabled,
    flush,
    close: flush,
  };
}
