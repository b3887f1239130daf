'use strict';
// The six measurements. Each cell starts a fresh proxy for one row, warms it up, reads the proxy's
// CPU time (utime + stime over its process tree) and RSS before and after the timed part, and
// stops the proxy. The load comes from the C client (bench/client.c) or wrk, whose own CPU use is
// reported so that a saturated load generator is seen.
const proc = require('./processes');
const { parseWrk } = require('./wrk');

const HOST = '127.0.0.1';

/** Runs the C client to its end; resolves with its JSON line (and the text before it). */
async function runClient(ctx, args) {
  const stdout = await proc.run(ctx.clientPath, args.map(String));
  const lines = stdout.trimEnd().split('\n');
  const result = JSON.parse(lines.pop());
  result.text = lines.join('\n');
  result.clientCpuShare = result.cpu_s / result.wall_s;
  return result;
}

function usage(instance) {
  return instance.pid === undefined ? undefined : proc.treeUsage(instance.pid);
}

async function withInstance(row, ctx, body) {
  const instance = await row.start(ctx);
  try {
    return await body(instance);
  } finally {
    await instance.stop();
  }
}

/** Bulk: CONNS connections echoing MSG-byte binary messages (WINDOW in flight each) for SECONDS. */
function bulk(row, ctx) {
  const s = ctx.settings;
  return withInstance(row, ctx, async (instance) => {
    const args = (seconds) => ['bulk', HOST, instance.port, ctx.wsPath, s.bulkConnections, s.bulkMessageBytes, seconds, s.bulkWindow];
    await runClient(ctx, args(s.warmupSeconds));
    const before = usage(instance);
    const out = await runClient(ctx, args(s.bulkSeconds));
    const after = usage(instance);
    const cpu = after && after.cpuSeconds - before.cpuSeconds;
    return {
      mbPerS: out.mb_per_s,
      cpuSecondsPerGb: cpu === undefined ? undefined : cpu / (out.payload_bytes / 1e9),
      proxyCpuShare: cpu === undefined ? undefined : cpu / out.seconds,
      clientCpuShare: out.clientCpuShare,
    };
  });
}

/** Latency: one connection, one message in flight, LATENCY_COUNT timed round trips. */
function latency(row, ctx) {
  const s = ctx.settings;
  return withInstance(row, ctx, async (instance) => {
    const out = await runClient(ctx, ['latency', HOST, instance.port, ctx.wsPath, s.latencyMessageBytes, s.latencyCount, s.latencyWarmup]);
    return { p50Us: out.p50_us, p99Us: out.p99_us, meanUs: out.mean_us, clientCpuShare: out.clientCpuShare };
  });
}

/** Connection rate: connect + handshake + close, RATE_CONCURRENCY at a time, for RATE_SECONDS. */
function rate(row, ctx) {
  const s = ctx.settings;
  return withInstance(row, ctx, async (instance) => {
    const args = (seconds) => ['rate', HOST, instance.port, ctx.wsPath, s.rateConcurrency, seconds];
    await runClient(ctx, args(s.warmupSeconds));
    const before = usage(instance);
    const out = await runClient(ctx, args(s.rateSeconds));
    const after = usage(instance);
    const cpu = after && after.cpuSeconds - before.cpuSeconds;
    return {
      perS: out.per_s,
      failed: out.failed,
      cpuUsPerConn: cpu === undefined ? undefined : (cpu * 1e6) / out.connections,
      proxyCpuShare: cpu === undefined ? undefined : cpu / out.seconds,
      clientCpuShare: out.clientCpuShare,
    };
  });
}

/**
 * Opens `count` idle connections with the client's idle mode (`concurrency` handshakes in flight);
 * calls `whileOpen({ count, startMs, endMs })` (CLOCK_MONOTONIC ms of the first connect and the
 * last 101) before closing them.
 */
function holdIdle(ctx, port, count, whileOpen, concurrency = ctx.settings.idleConcurrency) {
  return new Promise((resolve, reject) => {
    const child = proc.start(ctx.clientPath, ['idle', HOST, String(port), ctx.wsPath, String(count), String(concurrency)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let released = false;
    child.stdout.on('data', (text) => {
      stdout += text;
      // The whole line: a chunk may end inside it.
      const ready = /^ready (\d+) ([\d.]+) ([\d.]+)\n/m.exec(stdout);
      if (!released && ready) {
        released = true;
        Promise.resolve({ count: Number(ready[1]), startMs: Number(ready[2]), endMs: Number(ready[3]) })
          .then(whileOpen)
          .then(
            (value) => {
              child.stdin.end('close\n');
              child.once('exit', (code) => {
                if (code !== 0) return reject(new Error(`idle client exit ${code}: ${child.output}`));
                const result = JSON.parse(stdout.trimEnd().split('\n').pop());
                resolve({ value, result });
              });
            },
            (err) => {
              child.kill('SIGKILL');
              reject(err);
            },
          );
      }
    });
    child.once('exit', (code) => {
      if (!released) reject(new Error(`idle client exit ${code} before all connections opened: ${child.output}`));
    });
  });
}

/** Idle memory: RSS added by IDLE_COUNT open, silent WebSocket connections through the proxy. */
function idle(row, ctx) {
  const s = ctx.settings;
  if (row.id === 'direct') return Promise.resolve({ kbPerConn: undefined });
  return withInstance(row, ctx, async (instance) => {
    // Warm-up: the code paths of accept, handshake and close have run once before the baseline.
    await holdIdle(ctx, instance.port, s.idleWarmupCount, () => undefined);
    await proc.sleep(s.idleSettleMs);
    const before = usage(instance);
    const { value: after, result } = await holdIdle(ctx, instance.port, s.idleCount, async () => {
      await proc.sleep(s.idleSettleMs);
      return usage(instance);
    });
    if (result.lost > 0) throw new Error(`${result.lost} idle connections were closed by the proxy`);
    return {
      kbPerConn: (after.rssKb - before.rssKb) / s.idleCount,
      rssBeforeKb: before.rssKb,
      rssAfterKb: after.rssKb,
      openSeconds: result.open_seconds,
    };
  });
}

async function runWrk(ctx, port, seconds, close) {
  const s = ctx.settings;
  // wrk takes whole seconds.
  const args = ['exec', ctx.wrkPath, '-t', s.wrkThreads, '-c', s.wrkConnections, '-d', `${Math.max(1, Math.round(seconds))}s`, '--latency'];
  if (close) args.push('-H', 'Connection: close');
  args.push(`http://${HOST}:${port}/health`);
  const out = await runClient(ctx, args);
  if (out.status !== 0) throw new Error(`wrk exit ${out.status}: ${out.text}`);
  const figures = parseWrk(out.text);
  if (figures.non2xx > 0) throw new Error(`wrk: ${figures.non2xx} answers were not 2xx`);
  return { ...figures, clientCpuShare: out.child_cpu_s / out.wall_s };
}

/** Health: wrk on GET /health, keep-alive then `Connection: close`; req/s, p99, proxy CPU per request. */
function health(row, ctx) {
  const s = ctx.settings;
  if (!ctx.wrkPath) return Promise.resolve({ skipped: 'wrk not installed (apt-get install wrk)' });
  return withInstance(row, ctx, async (instance) => {
    await runWrk(ctx, instance.port, s.warmupSeconds, false);
    const result = {};
    for (const [key, close] of [
      ['keepAlive', false],
      ['close', true],
    ]) {
      const before = usage(instance);
      const figures = await runWrk(ctx, instance.port, s.healthSeconds, close);
      const after = usage(instance);
      const cpu = after && after.cpuSeconds - before.cpuSeconds;
      result[key] = { ...figures, cpuUsPerReq: cpu === undefined ? undefined : (cpu * 1e6) / figures.requests };
    }
    result.clientCpuShare = Math.max(result.keepAlive.clientCpuShare, result.close.clientCpuShare);
    return result;
  });
}

/** Starts the client's probe mode on `port`; `stop()` resolves with its samples `[{ startMs, us, status }]`. */
function startProbe(ctx, port, path, intervalMs) {
  const child = proc.start(ctx.clientPath, ['probe', HOST, String(port), path, String(intervalMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (text) => (stdout += text));
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`probe exited early (${child.exitCode}): ${child.output}`));
        child.once('exit', (code) => {
          if (code !== 0) return reject(new Error(`probe exit ${code}: ${child.output}`));
          const samples = [];
          for (const line of stdout.split('\n')) {
            const m = /^p ([\d.]+) (\d+) (\d+)$/.exec(line);
            if (m) samples.push({ startMs: Number(m[1]), us: Number(m[2]), status: Number(m[3]) });
          }
          resolve(samples);
        });
        child.stdin.end('stop\n');
      }),
  };
}

/** The q-quantile (nearest rank) of numbers. */
function quantile(values, q) {
  if (values.length === 0) return undefined;
  const xs = [...values].sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)];
}

/** The rows the storm runs on: the four. */
const STORM_ROWS = new Set(['direct', 'healthgate', 'healthgate-before', 'haproxy-http', 'naive']);

/**
 * Storm (issue 14, a redeploy's reconnect wave): STORM_CLIENTS WebSocket clients connect with
 * STORM_IN_FLIGHT handshakes at a time and stay open, while a probe GETs /health every
 * STORM_PROBE_MS on a fresh connection. Time until the last 101; the probes that started within
 * it; the proxy's CPU from the first connect to the last 101, per connection; its RSS added per
 * open connection once they are all open and settled.
 */
function storm(row, ctx) {
  const s = ctx.settings;
  return withInstance(row, ctx, async (instance) => {
    // Warm-up as for idle: accept, handshake and close have run before the baseline.
    await holdIdle(ctx, instance.port, s.idleWarmupCount, () => undefined);
    await proc.sleep(s.idleSettleMs);
    const probe = startProbe(ctx, instance.port, '/health', s.stormProbeMs);
    await proc.sleep(4 * s.stormProbeMs);
    const before = usage(instance);
    let probeSamples;
    const { value, result } = await holdIdle(
      ctx,
      instance.port,
      s.stormClients,
      async (ready) => {
        const atReady = usage(instance);
        probeSamples = await probe.stop();
        await proc.sleep(s.idleSettleMs);
        return { ready, atReady, settled: usage(instance) };
      },
      s.stormInFlight,
    ).catch(async (err) => {
      await probe.stop().catch(() => undefined);
      throw err;
    });
    if (result.lost > 0) throw new Error(`${result.lost} storm connections were closed by the proxy`);
    const { ready, atReady, settled } = value;
    const during = probeSamples.filter((p) => p.startMs >= ready.startMs && p.startMs <= ready.endMs);
    const answered = during.filter((p) => p.status === 200).map((p) => p.us / 1000);
    return {
      clients: ready.count,
      stormMs: ready.endMs - ready.startMs,
      probes: during.length,
      probeFailed: during.length - answered.length,
      probeP50Ms: quantile(answered, 0.5),
      probeP99Ms: quantile(answered, 0.99),
      cpuUsPerConn: before && ((atReady.cpuSeconds - before.cpuSeconds) * 1e6) / s.stormClients,
      kbPerConn: before && (settled.rssKb - before.rssKb) / s.stormClients,
      rssBeforeKb: before?.rssKb,
      rssAfterKb: settled?.rssKb,
      // The client's CPU over the storm: at most its whole CPU time (the resets at the end included).
      clientCpuShare: result.cpu_s / result.open_seconds,
    };
  });
}

/** The measurements in the order a round runs them. */
const MEASUREMENTS = { bulk, latency, rate, idle, health, storm };

/** The measurements whose before and after docs/performance.md shows (issue 14). */
const BEFORE_MEASUREMENTS = new Set(['bulk', 'rate', 'idle', 'storm']);

/** Whether a measurement runs on a row: the storm on its rows only, the "before" row on BEFORE_MEASUREMENTS only. */
function appliesTo(measurement, row) {
  if (row.id === 'healthgate-before' && !BEFORE_MEASUREMENTS.has(measurement)) return false;
  return measurement !== 'storm' || STORM_ROWS.has(row.id);
}

module.exports = { MEASUREMENTS, runClient, holdIdle, appliesTo, quantile };
