'use strict';
// Reads the figures out of wrk's `--latency` report.

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60000 };

/** Milliseconds from a wrk duration such as `217.00us`, `1.25ms` or `2.01s`. */
function parseDurationMs(text) {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read duration "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2]];
}

/**
 * `{ requests, rps, p50Ms, p99Ms, non2xx, socketErrors }` from wrk's output (run with --latency).
 * Throws when the report lacks a figure: a wrk that failed must not look like a slow proxy.
 */
function parseWrk(output) {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const requests = /^\s*(\d+) requests in/m.exec(output);
  const p50 = /^\s+50%\s+(\S+)/m.exec(output);
  const p99 = /^\s+99%\s+(\S+)/m.exec(output);
  if (!rps || !requests || !p50 || !p99) throw new Error(`wrk: unexpected output:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requests: Number(requests[1]),
    rps: Number(rps[1]),
    p50Ms: parseDurationMs(p50[1]),
    p99Ms: parseDurationMs(p99[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

module.exports = { parseWrk, parseDurationMs };
