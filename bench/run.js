#!/usr/bin/env node
'use strict';
// `npm run bench`: healthgate against a direct connection, HAProxy and nginx, in one run.
// Builds the C load client, starts a `ws` echo backend, and runs each measurement on every row in
// rotated order (round r starts at row r), all its rounds back to back, taking medians over them.
// Prints the tables and, after a full run, writes docs/performance.md. Profiling is separate:
// bench/profile.js.
//
//   BENCH_QUICK=1             one short round (a smoke run of about a minute); docs not written
//   BENCH_ROUNDS=n            rounds (default 3)
//   BENCH_ROWS=a,b            only these rows (ids: direct, healthgate, healthgate-before, haproxy-tcp, haproxy-http, nginx, naive)
//   BENCH_MEASUREMENTS=a,b    only these measurements (bulk, latency, rate, idle, health, storm)
//   BENCH_BASELINE=ref        the "before" row: healthgate built from this git ref (default: the
//                             commit before issue 14's speed-ups); empty drops the row. It runs in
//                             bulk, rate, idle and storm only.
//   BENCH_STORM_CLIENTS=n     storm clients (default 7000; 3000 with BENCH_QUICK)
//   BENCH_STORM_IN_FLIGHT=n   storm handshakes in flight (default 1000)
//   BENCH_WS_PATH=/x          the WebSocket request path (default `/`, which healthgate must read to the end of the head)
//   BENCH_WRITE_DOCS=1        write docs/performance.md after a partial or quick run too
const { existsSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const proc = require('./processes');
const { defineRows, which } = require('./rows');
const { MEASUREMENTS, runClient, appliesTo } = require('./measure');
const { resolveRef, buildBaseline } = require('./baseline');
const report = require('./report');
const { machineFacts, performanceDoc } = require('./doc');

const ROOT = join(__dirname, '..');
const QUICK = process.env.BENCH_QUICK === '1';
// main before issue 14 (the reconnect storm): the "before" of its speed-ups.
const DEFAULT_BASELINE = 'dea1661';

const SETTINGS = {
  rounds: Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3)),
  warmupSeconds: QUICK ? 0.3 : 0.5,
  bulkConnections: 8,
  bulkMessageBytes: 64 * 1024,
  bulkWindow: 4,
  bulkSeconds: QUICK ? 1 : 5,
  latencyMessageBytes: 1024,
  latencyCount: QUICK ? 5000 : 20000,
  latencyWarmup: QUICK ? 500 : 1000,
  rateConcurrency: 16,
  rateSeconds: QUICK ? 1 : 5,
  idleCount: QUICK ? 1000 : 5000,
  idleConcurrency: 64,
  idleWarmupCount: 200,
  idleSettleMs: QUICK ? 300 : 1000,
  wrkThreads: 1,
  wrkConnections: 16,
  healthSeconds: QUICK ? 1 : 3,
  stormClients: Number(process.env.BENCH_STORM_CLIENTS ?? (QUICK ? 3000 : 7000)),
  stormInFlight: Number(process.env.BENCH_STORM_IN_FLIGHT ?? 1000),
  stormProbeMs: 50,
};

function log(line) {
  process.stderr.write(`${line}\n`);
}

function describe(measurement, result) {
  const pct = (x) => (x === undefined ? '' : `${Math.round(x * 100)}%`);
  const n = (x, d = 0) => (x === undefined ? '—' : x.toFixed(d));
  switch (measurement) {
    case 'bulk':
      return `${n(result.mbPerS)} MB/s, proxy ${n(result.cpuSecondsPerGb, 2)} CPU-s/GB (proxy ${pct(result.proxyCpuShare)} of a core, client ${pct(result.clientCpuShare)})`;
    case 'latency':
      return `p50 ${n(result.p50Us)} µs, p99 ${n(result.p99Us)} µs`;
    case 'rate':
      return `${n(result.perS)} conn/s, proxy ${n(result.cpuUsPerConn)} µs/conn${result.failed ? `, ${result.failed} failed` : ''} (client ${pct(result.clientCpuShare)})`;
    case 'idle':
      return result.kbPerConn === undefined
        ? 'no proxy'
        : `${n(result.kbPerConn, 1)} KB/conn (RSS ${result.rssBeforeKb} → ${result.rssAfterKb} KB)`;
    case 'storm':
      return `${n(result.stormMs)} ms to ${result.clients ?? ''} open; probe p50 ${n(result.probeP50Ms, 1)} p99 ${n(result.probeP99Ms, 1)} ms (${result.probes} probes${result.probeFailed ? `, ${result.probeFailed} failed` : ''}); proxy ${n(result.cpuUsPerConn)} µs/conn, ${n(result.kbPerConn, 1)} KB/conn (client ${pct(result.clientCpuShare)})`;
    case 'health':
      if (result.skipped) return `skipped: ${result.skipped}`;
      return `keep-alive ${n(result.keepAlive.rps)} req/s p99 ${n(result.keepAlive.p99Ms, 2)} ms; new conn ${n(result.close.rps)} req/s p99 ${n(result.close.p99Ms, 2)} ms (wrk ${pct(result.clientCpuShare)})`;
    default:
      return JSON.stringify(result);
  }
}

/** Runs every kind of load against the backend once, so that no row meets a backend whose JIT is cold. */
async function warmBackend(ctx) {
  const s = ctx.settings;
  const at = ['127.0.0.1', ctx.backendPort, ctx.wsPath];
  await runClient(ctx, ['bulk', ...at, s.bulkConnections, s.bulkMessageBytes, 1, s.bulkWindow]);
  await runClient(ctx, ['latency', ...at, s.latencyMessageBytes, 5000, 0]);
  await runClient(ctx, ['rate', ...at, s.rateConcurrency, 1]);
  if (ctx.wrkPath) await runClient(ctx, ['exec', ctx.wrkPath, '-t1', '-c16', '-d1s', `http://127.0.0.1:${ctx.backendPort}/health`]);
}

// A cell during which other processes on the machine took more than this share of a core is run
// again (up to MAX_CELL_RETRIES times, and retryBudget times per run), keeping the cleanest try.
const FOREIGN_LIMIT = 0.15;
const MAX_CELL_RETRIES = 2;
let retryBudget = 12;

// Before a cell, wait (up to 20 s, and 120 s per run) for other processes to leave the CPU.
const QUIET_WAIT_TOTAL_MS = 120_000;
let quietWaitBudgetMs = QUIET_WAIT_TOTAL_MS;

/** Resolves once other processes use at most FOREIGN_LIMIT of a core over 300 ms, or the wait runs out. */
async function waitForQuiet(what) {
  const deadline = Date.now() + Math.min(20_000, quietWaitBudgetMs);
  const startedAt = Date.now();
  for (let said = false; ; said = true) {
    const before = proc.cpuSnapshot();
    await proc.sleep(300);
    const share = proc.foreignCpuSeconds(before, proc.cpuSnapshot()) / 0.3;
    if (share <= FOREIGN_LIMIT || Date.now() >= deadline) break;
    if (!said) log(`  ${what}: other processes use ${Math.round(share * 100)}% of a core: waiting for them`);
  }
  // The first sample is the check itself; only what came after it was waiting.
  quietWaitBudgetMs -= Math.max(0, Date.now() - startedAt - 300);
}

/** Runs one cell, noting how much CPU other processes took meanwhile; reruns a disturbed one. */
async function runCell(measurement, row, ctx) {
  // Nothing to measure (idle memory without a proxy): no wait, no check.
  if (measurement === 'idle' && row.id === 'direct') return MEASUREMENTS[measurement](row, ctx);
  if (measurement === 'storm') checkStormLimits(ctx.settings);
  let best;
  for (let attempt = 0; ; attempt++) {
    await waitForQuiet(`${measurement} ${row.id}`);
    const startedAt = Date.now();
    const snapshot = proc.cpuSnapshot();
    const result = await MEASUREMENTS[measurement](row, ctx);
    result.foreignCpuShare = proc.foreignCpuSeconds(snapshot, proc.cpuSnapshot()) / ((Date.now() - startedAt) / 1000);
    if (!best || result.foreignCpuShare < best.foreignCpuShare) best = result;
    if (best.foreignCpuShare <= FOREIGN_LIMIT || attempt >= MAX_CELL_RETRIES || retryBudget <= 0) return best;
    retryBudget--;
    log(`  ${measurement} ${row.id}: other processes took ${Math.round(result.foreignCpuShare * 100)}% of a core: running the cell again`);
  }
}

/**
 * The storm holds STORM_CLIENTS connections open at once: the proxy needs two descriptors per
 * client (every child gets the hard open-file limit, processes.js; healthgate's own cap is half of
 * it, less a reserve, listener.ts), the backend and the client one,
 * HAProxy's `maxconn` must admit them, and the loopback needs two ephemeral ports per client.
 * Throws with what to raise rather than measure a proxy that refuses connections.
 */
function checkStormLimits(s) {
  // The handshakes in flight are among the clients; 64 for the listener, the probe and stdio.
  const fds = 2 * s.stormClients + 64;
  if (proc.nofile < fds)
    throw new Error(
      `the storm needs ${fds} open files per proxy; the hard limit is ${proc.nofile} (raise it: ulimit -Hn, or lower BENCH_STORM_CLIENTS)`,
    );
  if (s.stormClients + s.idleWarmupCount > 8500) throw new Error(`HAProxy's maxconn (9000, rows.js) admits at most 8500 storm clients`);
  try {
    const [low, high] = require('node:fs').readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (high - low + 1 < 2 * s.stormClients)
      throw new Error(`the storm needs ${2 * s.stormClients} ephemeral ports; net.ipv4.ip_local_port_range has ${high - low + 1}`);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
}

/**
 * Iterations of a fixed JavaScript loop in 300 ms on an idle machine: a rough gauge of how fast
 * the CPU runs now, recorded before each measurement to show drift over the run.
 */
function speedIndex() {
  const end = process.hrtime.bigint() + 300_000_000n;
  let iterations = 0;
  let sink = 0;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 10_000; i++) sink += i % 7;
    iterations++;
  }
  return sink > 0 ? iterations : 0;
}

/** How fast each of two busy processes runs, as a share of one busy process alone (1.0: two real cores). */
async function parallelShare() {
  const spin = `const at = Number(process.argv[1]); while (Date.now() < at);
    const end = process.hrtime.bigint() + 300000000n; let n = 0, s = 0;
    while (process.hrtime.bigint() < end) { for (let i = 0; i < 10000; i++) s += i % 7; n++; }
    console.log(s > 0 ? n : 0);`;
  const together = async (k) => {
    const at = Date.now() + 300;
    const outs = await Promise.all(Array.from({ length: k }, () => proc.run(process.execPath, ['-e', spin, at])));
    return outs.map(Number);
  };
  // Alternated three times, medians: the host's load moves between samples.
  const alone = [];
  const both = [];
  for (let i = 0; i < 3; i++) {
    alone.push(...(await together(1)));
    const pair = await together(2);
    both.push((pair[0] + pair[1]) / 2);
  }
  return report.median(both) / report.median(alone);
}

async function main() {
  const startedAt = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'healthgate-bench-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

  if (!existsSync(join(ROOT, 'dist', 'healthgate.cjs')))
    throw new Error('dist/healthgate.cjs is missing: run `npm run build` (npm run bench does)');
  const cc = which('cc') ?? which('gcc');
  if (!cc) throw new Error('no C compiler: the load client needs one (apt-get install gcc)');
  const clientPath = join(tmp, 'client');
  await proc.run(cc, ['-O2', '-o', clientPath, join(__dirname, 'client.c')]);
  const wrkPath = which('wrk');

  const tmpRows = join(tmp, 'rows');
  const onlyRows = process.env.BENCH_ROWS?.split(',');
  const onlyMeasurements = process.env.BENCH_MEASUREMENTS?.split(',');
  const measurements = Object.keys(MEASUREMENTS).filter((m) => !onlyMeasurements || onlyMeasurements.includes(m));
  const baselineRef = process.env.BENCH_BASELINE ?? DEFAULT_BASELINE;
  let baseline;
  if (baselineRef && (!onlyRows || onlyRows.includes('healthgate-before'))) {
    const ref = resolveRef(baselineRef);
    if (ref) baseline = { ref, bundle: await buildBaseline(ref, join(tmp, 'baseline')) };
    else log(`skipped: healthgate before: git does not know ${baselineRef}`);
  }
  const rows = defineRows(tmpRows, baseline).filter((r) => !onlyRows || onlyRows.includes(r.id));
  const active = rows.filter((r) => !r.missing);
  for (const row of rows) if (row.missing) log(`skipped: ${row.label}: ${row.missing}`);
  if (!wrkPath) log('skipped: health: wrk not installed (apt-get install wrk)');

  const facts = machineFacts({ cc, wrkPath, rows });
  if (facts.cores >= 2) facts.parallelShare = await parallelShare();
  log(
    `bench: ${facts.cpu}, ${facts.cores} cores (two busy processes each at ${Math.round((facts.parallelShare ?? 1) * 100)}% of one alone); ${SETTINGS.rounds} round(s) of ${measurements.join(', ')} over ${active.map((r) => r.id).join(', ')}`,
  );
  if (facts.cores !== 2) log(`note: this machine has ${facts.cores} cores; the issue's figures are for 2`);

  const backendPort = await proc.freePort();
  const backend = proc.start(process.execPath, [join(__dirname, 'backend.js'), backendPort]);
  await proc.waitForPort(backendPort, backend);
  const wsPath = process.env.BENCH_WS_PATH ?? '/';
  const ctx = { clientPath, wrkPath, backendPort, wsPath, settings: SETTINGS };
  await warmBackend(ctx);

  /** rounds[r][rowId][measurement] = result */
  const rounds = Array.from({ length: SETTINGS.rounds }, () => ({}));
  const warnings = [];
  const speed = {};
  // Measurement by measurement, all rounds back to back: rows compared with each other ran minutes
  // apart at most, so a machine whose speed drifts (shared or throttled vCPUs) shifts them alike.
  for (const measurement of measurements) {
    speed[measurement] = speedIndex();
    log(`${measurement}: machine speed index ${speed[measurement].toFixed(0)}`);
    for (let r = 0; r < SETTINGS.rounds; r++) {
      const round = rounds[r];
      const order = active.map((_, i) => active[(i + r) % active.length]);
      for (const row of order) {
        if (!appliesTo(measurement, row)) continue;
        if (backend.exitCode !== null || backend.signalCode !== null) throw new Error(`the backend died: ${backend.output}`);
        let result;
        try {
          result = await runCell(measurement, row, ctx);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          warnings.push(`round ${r + 1}, ${measurement}, ${row.label}: failed: ${message.split('\n')[0]}`);
          log(`round ${r + 1}/${SETTINGS.rounds} ${measurement.padEnd(7)} ${row.id.padEnd(12)} FAILED: ${message}`);
          continue;
        }
        (round[row.id] ??= {})[measurement] = result;
        if (result.foreignCpuShare > FOREIGN_LIMIT) {
          warnings.push(
            `round ${r + 1}, ${measurement}, ${row.label}: other processes on this machine used ${Math.round(result.foreignCpuShare * 100)}% of a core meanwhile`,
          );
        }
        if (result.clientCpuShare > 0.9) {
          warnings.push(
            `round ${r + 1}, ${measurement}, ${row.label}: the load generator used ${Math.round(result.clientCpuShare * 100)}% of a core: it may be the bottleneck`,
          );
        }
        const foreign = result.foreignCpuShare > 0.05 ? ` [other processes: ${Math.round(result.foreignCpuShare * 100)}% of a core]` : '';
        log(`round ${r + 1}/${SETTINGS.rounds} ${measurement.padEnd(7)} ${row.id.padEnd(12)} ${describe(measurement, result)}${foreign}`);
      }
    }
  }
  await proc.stop(backend);

  const summary = report.summarise(rows, rounds);
  const elapsedSeconds = (Date.now() - startedAt) / 1000;
  const waitedSeconds = (QUIET_WAIT_TOTAL_MS - quietWaitBudgetMs) / 1000;
  const tables = report.resultTables(rows, summary, rounds);
  if (measurements.some((m) => m !== 'storm')) {
    process.stdout.write(
      `\nWebSocket tunnel:\n\n${tables.tunnel}\n\nHealth checks (GET /health):\n\n${tables.health}\n\nTargets (healthgate ÷ HAProxy (tcp), same run):\n\n${report.targetsTable(summary)}\n`,
    );
  }
  if (measurements.includes('storm')) {
    process.stdout.write(
      `\nReconnect storm (${SETTINGS.stormClients} clients, ${SETTINGS.stormInFlight} handshakes in flight):\n\n${tables.storm}\n\nStorm targets (same run):\n\n${report.stormTargetsTable(summary)}\n`,
    );
  }
  const beforeAfter = report.beforeAfterTable(summary);
  if (beforeAfter) process.stdout.write(`\nhealthgate before and after (same run):\n\n${beforeAfter}\n`);
  for (const warning of warnings) process.stdout.write(`\nwarning: ${warning}`);
  process.stdout.write(
    `\n\nrun time: ${elapsedSeconds.toFixed(0)} s, of which ${waitedSeconds.toFixed(0)} s waiting for other processes\n`,
  );

  const full = !QUICK && !onlyRows && !onlyMeasurements;
  if (full || process.env.BENCH_WRITE_DOCS === '1') {
    const doc = performanceDoc({
      facts,
      settings: SETTINGS,
      rows,
      rounds,
      summary,
      warnings,
      elapsedSeconds,
      waitedSeconds,
      wsPath,
      speed,
    });
    writeFileSync(join(ROOT, 'docs', 'performance.md'), doc);
    log('wrote docs/performance.md');
  } else {
    log('docs/performance.md not written: not a full run (set BENCH_WRITE_DOCS=1 to write it anyway)');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
