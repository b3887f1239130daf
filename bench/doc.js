'use strict';
// docs/performance.md: the method (machine, versions, configs, what each column means, how ratios
// are computed), the tables of one run, and the issue's targets with pass/fail.
const { spawnSync } = require('node:child_process');

/** The hand-kept notes on what bounds the missed targets (bench/analysis.md), if present. */
function analysis() {
  try {
    return require('node:fs').readFileSync(require('node:path').join(__dirname, 'analysis.md'), 'utf8');
  } catch {
    return '';
  }
}
const { readFileSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { versionOf } = require('./rows');
const report = require('./report');

/** What the run ran on: CPU, cores, memory, kernel, OS and the versions of every program. */
function machineFacts({ cc, wrkPath, rows }) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpu = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? '?';
  let distro = '?';
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '?';
  } catch {
    // not Linux-like: keep '?'
  }
  return {
    cpu,
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    distro,
    node: process.version,
    cc: versionOf(cc, ['--version']),
    wrk: wrkPath ? versionOf(wrkPath, ['--version']) : 'not installed',
    programs: rows.map((r) => ({ label: r.label, program: r.missing ? `skipped: ${r.missing}` : r.program })),
    source: sourceState(),
    date: new Date().toISOString().slice(0, 10),
  };
}

/** The commit measured, and whether src/ or bin/ differed from it. */
function sourceState() {
  const root = join(__dirname, '..');
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim();
  if (!commit) return 'not a git checkout';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'bin', 'scripts'], { cwd: root, encoding: 'utf8' }).stdout?.trim();
  return dirty ? `commit ${commit}, with uncommitted changes in src/, bin/ or scripts/` : `commit ${commit}`;
}

/** The reconnect storm (issue 14): its table with ratios, its targets, before and after. */
function stormSection(rows, summary, s) {
  const ran = rows.some((r) => summary[r.id]?.stormMs?.median !== undefined);
  if (!ran) return '';
  const before = rows.find((r) => r.id === 'healthgate-before' && !r.missing);
  return `## Reconnect storm (issue 14)

What users feel after a redeploy: ${s.stormClients.toLocaleString('en-US')} WebSocket clients connect at once through the
proxy, ${s.stormInFlight.toLocaleString('en-US')} handshakes in flight (each a real handshake with the \`ws\` backend, answered 101),
and stay open, while a probe asks \`GET /health\` every ${s.stormProbeMs} ms on a fresh connection. **all connected
ms** runs from the first connect to the last 101; **probe p50/p99** are over the probes that
started within it (timed from connect to the end of the answer's head; a handful of probes, so
p99 is close to the slowest); **proxy CPU µs per conn** is the proxy's CPU time over the same span
divided by the clients; **proxy RSS KB per open conn** is the RSS added once all are open and
${s.idleSettleMs} ms have passed, over the clients. The direct row has no proxy: its probe is answered by the
backend's Node http server. Ratios in brackets: **÷ HAProxy (http) / ÷ the naive Node pipe**, same
run.${before ? ` *${before.label}* is healthgate built from that commit in this run (\`BENCH_BASELINE\`): the before.` : ''}

${report.resultTables(rows, summary, []).storm}

Targets (issue 14), same run:

${report.stormTargetsTable(summary)}
${
  before
    ? `
Before and after, same run: *${before.label}* (the \`BENCH_BASELINE\` commit) against healthgate, each with its
ratio to HAProxy and to the naive Node pipe (medians over the rounds):

${report.beforeAfterTable(summary)}
`
    : ''
}`;
}

function performanceDoc({ facts, settings: s, rows, rounds, summary, warnings, elapsedSeconds, waitedSeconds = 0, wsPath, speed }) {
  const speeds = Object.entries(speed);
  const first = speeds[0]?.[1] ?? 1;
  const hg = rows.find((r) => r.id === 'healthgate');
  const haproxyTcp = rows.find((r) => r.id === 'haproxy-tcp');
  const haproxyHttp = rows.find((r) => r.id === 'haproxy-http');
  const nginx = rows.find((r) => r.id === 'nginx');
  const tables = report.resultTables(rows, summary, rounds);
  return `# Performance

This page is written by \`npm run bench\` (the scripts are in [\`bench/\`](../bench/run.js)); the
figures below are from its run of ${facts.date} (${s.rounds} round${s.rounds === 1 ? '' : 's'}), which took ${Math.round(elapsedSeconds)} s${waitedSeconds >= 1 ? ` (${Math.round(waitedSeconds)} s of it waiting for other processes to leave the CPU)` : ''}.
Rerun it to get figures for your machine; all of them come from one run, so they compare rows
with each other, not with another machine.

## Results

Each cell is the median over ${s.rounds} round${s.rounds === 1 ? '' : 's'}; the ratio in brackets is to **HAProxy (tcp)** in
the same run (see [How ratios are computed](#how-ratios-are-computed)).

WebSocket tunnel:

${tables.tunnel}

Health checks (\`GET /health\`):

${tables.health}

## Targets (issue 5)

Ratios of healthgate's median to HAProxy (tcp)'s median from the same run. The last column
compares with HAProxy in http mode, for information: for the health targets it is the fairer
comparison, because HAProxy in tcp mode cannot answer \`/health\` itself and passes it to the
backend's Node http server.

${report.targetsTable(summary)}

${stormSection(rows, summary, s)}
${analysis()}
## Method

**Machine.** ${facts.cpu}, ${facts.cores} cores, ${facts.memoryGb} GiB, Linux ${facts.kernel} (${facts.distro}).
Every process runs on this one machine over loopback (127.0.0.1), on ports chosen at run time;
nothing is pinned to a core. With two cores, the load client, the proxy and the backend share
them: a proxy that needs more CPU for the same work leaves less for the other two, which is part
of what the bulk and rate figures show.

**Programs.** healthgate as built from ${facts.source}.

${facts.programs.map((p) => `- ${p.label}: ${p.program}`).join('\n')}
- load client: [\`bench/client.c\`](../bench/client.c), built at run time with \`cc -O2\` (${facts.cc})
- health load: ${facts.wrk}

**One worker each.** healthgate is one single-threaded Node process, so every proxy gets one
worker: HAProxy \`nbthread 1\` (one process, run with \`-db\`), nginx \`worker_processes 1\` (its
master only supervises; CPU and RSS are summed over master and worker). The naive Node pipe is one
Node process too.

**Backend.** [\`bench/backend.js\`](../bench/backend.js), one process for the whole run: a \`ws\`
echo server (binary messages echoed as binary, no compression; \`ws\`'s optional native
\`bufferutil\` is not installed, so unmasking runs in JavaScript), whose HTTP side answers every plain
request \`200 ok\`. The direct row connects to it without a proxy; in the bulk test it is usually
the busiest process.

**Rows.**

- *direct*: the client talks to the backend: the baseline for added latency.
- *healthgate*: the bundled single file, as a user runs it:
  \`${hg ? hg.command('<port>', '<backend>') : ''}\`. Readiness checks use the default \`tcp\`
  mode (a TCP connect to the backend, cached for 1 s). \`--max-semi-space-size=2\` is how the
  image's \`ENTRYPOINT\` starts it: with Node's default, V8 keeps a young generation of up to
  16 MB per semi-space after a burst of connections, which shows as about 4 KB more RSS per idle
  connection (measured 10.3 KB against 5.8 KB per connection on this machine); the naive Node pipe
  runs with Node's defaults.
- *HAProxy (tcp)*: \`mode tcp\`, the reference of every ratio. It cannot tell a health GET from a
  tunnel, so \`/health\` goes to the backend's Node http server.
- *HAProxy (http)*: \`mode http\`; answers \`/health\` itself with \`http-request return\`;
  WebSocket upgrades become tunnels (\`timeout tunnel\`).
- *nginx (http proxy)*: \`proxy_pass\` with the usual WebSocket headers (\`Upgrade\`,
  \`Connection: upgrade\`, \`proxy_http_version 1.1\`); answers \`/health\` with \`return 200\`.
  \`keepalive_requests\` is raised from its default of 1000 so that wrk's keep-alive connections
  are not cut; access logs are off (HAProxy logs nothing without a \`log\` line either).
  (Debian's nginx-light has no stream module, so there is no nginx tcp row.)
- *naive Node pipe*: [\`bench/naive-pipe.js\`](../bench/naive-pipe.js), the issue's reference
  point: the first chunk is sniffed, a complete health GET is answered from pre-rendered bytes,
  anything else is written to a new backend connection and then \`pipe()\`d both ways.

**Rounds.** Each measurement runs all its rounds back to back, each round on every row in
rotated order (round 1: rows in the order above; round 2 starts with the second row, and so on),
so that the rows compared with each other ran minutes apart at most and drift (heat, the host,
the backend's heap) falls on all of them alike. Every cell starts a fresh proxy process, warms it
up (${s.warmupSeconds} s of the same load, or a first batch of connections), then measures, then stops it.
The figures are medians over the rounds; [every round's value](#every-round) is listed below.

**This machine's speed drifts.** A fixed JavaScript loop timed for 300 ms before each measurement
(the *speed index*; higher is faster) read ${speeds.map(([m, v]) => `${m} ${v} (${(v / first).toFixed(2)})`).join(', ')}${facts.parallelShare === undefined ? '' : `; two such loops run at once each reached ${Math.round(facts.parallelShare * 100)}% of one alone${facts.parallelShare < 0.85 ? ', so the two vCPUs did not add up to two full cores' : ''}`}.
Throughput figures (MB/s, conn/s, req/s) move with that; the CPU figures per unit of work
(CPU-s per GB, µs per connection, µs per request) and memory move much less, and they are
the ones to trust when rounds disagree.

**Measurements.** WebSocket connections request \`GET ${wsPath}\` (for healthgate a possible health
path, so it reads the whole head before it routes: its slower case). Client frames are masked as
RFC 6455 requires.

1. *Bulk*: ${s.bulkConnections} connections, each keeping ${s.bulkWindow} binary messages of ${s.bulkMessageBytes / 1024} KiB in flight, echoed
   by the backend, for ${s.bulkSeconds} s. **bulk MB/s** is echoed payload received by the client per second
   (10⁶ bytes; each byte crossed the proxy once each way). **proxy CPU-s per GB** is the proxy's
   CPU time (utime + stime from \`/proc/PID/stat\`, read before and after) divided by the echoed
   payload in 10⁹ bytes.
2. *Latency*: one connection, one ${s.latencyMessageBytes}-byte binary message in flight, ${s.latencyWarmup} untimed then
   ${s.latencyCount.toLocaleString('en-US')} timed round trips. **RTT p50/p99** are percentiles of those round trips;
   **added RTT** is the row's figure minus the direct row's figure from the same round (median over rounds).
3. *Connection rate*: ${s.rateConcurrency} concurrent loops of TCP connect, WebSocket handshake (101), close frame,
   the server's close frame and EOF, close, for ${s.rateSeconds} s. **new WS conn/s** counts completed
   loops; **proxy CPU µs per conn** is the proxy's CPU time over them.
4. *Idle memory*: after a warm-up batch of ${s.idleWarmupCount} connections (opened and closed) and a ${s.idleSettleMs} ms
   pause, the proxy's RSS (\`VmRSS\` of \`/proc/PID/status\`) is read; then ${s.idleCount.toLocaleString('en-US')} WebSocket
   connections are opened (${s.idleConcurrency} handshakes at a time) and left silent, and after ${s.idleSettleMs} ms RSS is
   read again. **idle KB per conn** is the difference over ${s.idleCount.toLocaleString('en-US')} (KiB; no forced GC: what
   the OS sees). The client checks that every connection is still open before it resets them.
   The open-file limit of every process is raised to the hard limit (\`ulimit -n\`) for this.
5. *Health*: \`wrk -t${s.wrkThreads} -c${s.wrkConnections} -d${s.healthSeconds}s --latency\` on \`GET /health\`, once with keep-alive and once
   with \`-H 'Connection: close'\` (a new connection per request, as platforms probe). **req/s**
   and **p99** are wrk's; **proxy CPU µs per req** is the proxy's CPU time over the requests.
   Every answer must be 2xx.

**The load generators and the machine are checked.** The C client reports its own CPU time
(\`getrusage\`), and wrk's is read by running it under the client's \`exec\` mode (\`wait4\`); a cell
where either used more than 90% of a core is flagged below. The CPU time that processes outside
the bench used is read from \`/proc\` too (other work on a shared machine): before each cell the
bench waits (up to 20 s) until they use less than 15% of a core; a cell during which they took
more is run again, up to twice, and the cleanest try is kept; one still above that is flagged
below. The highest shares seen:

${report.clientCpuTable(rows, rounds)}

${warnings.length ? `Warnings from this run:\n\n${warnings.map((w) => `- ${w}`).join('\n')}` : 'No cell was flagged and none failed.'}

### How ratios are computed

A ratio is the row's median divided by HAProxy (tcp)'s median for the same figure, both from
this run; for added RTT, the medians of the added RTTs. Above 1.0× is more: better for MB/s,
conn/s and req/s, worse for CPU, latency and memory. CPU times have the kernel's clock-tick
resolution (10 ms per reading); a cell takes two readings over ${Math.min(s.bulkSeconds, s.rateSeconds, s.healthSeconds)} s or more of load.

### Configs

HAProxy (tcp):

\`\`\`text
${haproxyTcp?.config ? haproxyTcp.config('<port>', '<backend>') : '(skipped)'}\`\`\`

HAProxy (http):

\`\`\`text
${haproxyHttp?.config ? haproxyHttp.config('<port>', '<backend>') : '(skipped)'}\`\`\`

nginx (\`<tmp>\` is the cell's temp dir; started with \`nginx -p <tmp> -c <tmp>/nginx.conf\`):

\`\`\`text
${nginx?.config ? nginx.config('<port>', '<backend>') : '(skipped)'}\`\`\`

## Every round

Each figure's value per round, in round order (— where a cell did not run or failed).

${report.roundsTable(rows, summary)}
`;
}

module.exports = { machineFacts, performanceDoc };
