#!/usr/bin/env node
'use strict';
// Where healthgate spends its time and memory, under the bench's loads: not part of `npm run bench`.
//
//   node bench/profile.js cpu bulk|rate|health|health-close|storm [seconds]
//       runs dist/healthgate.cjs under `node --cpu-prof`, drives it with the bench's load for
//       `seconds` (default 10), and prints the functions with the most self time, and the
//       self time per source (healthgate, node:net, streams, …).
//   node bench/profile.js memory [connections]
//       opens `connections` (default 5000) idle WebSocket connections through healthgate and
//       prints what each costs: RSS, V8 heap, external memory, and the heap objects added per
//       connection (from two heap snapshots, taken after a full GC).
// Build first (npm run build). The proxy to study is healthgate unless PROFILE_ROW names another
// Node row (naive); PROFILE_NODE_ARGS adds node flags (e.g. `--max-semi-space-size=1`).
const { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const proc = require('./processes');
const { runClient, holdIdle } = require('./measure');
const { defineRows, which } = require('./rows');

const HOST = '127.0.0.1';

async function setup() {
  const tmp = mkdtempSync(join(tmpdir(), 'healthgate-profile-'));
  const clientPath = join(tmp, 'client');
  await proc.run(which('cc') ?? 'gcc', ['-O2', '-o', clientPath, join(__dirname, 'client.c')]);
  const backendPort = await proc.freePort();
  const backend = proc.start(process.execPath, [join(__dirname, 'backend.js'), backendPort]);
  await proc.waitForPort(backendPort, backend);
  const settings = { idleConcurrency: 64 };
  const row = defineRows(join(tmp, 'rows')).find((r) => r.id === (process.env.PROFILE_ROW ?? 'healthgate'));
  return { tmp, backend, row, ctx: { clientPath, backendPort, wsPath: '/', wrkPath: which('wrk'), settings } };
}

/** The load of one bench measurement on `port`, for `seconds`. */
async function drive(ctx, load, port, seconds) {
  switch (load) {
    case 'bulk':
      return runClient(ctx, ['bulk', HOST, port, '/', 8, 65536, seconds, 4]);
    case 'rate':
      return runClient(ctx, ['rate', HOST, port, '/', 16, seconds]);
    case 'storm': {
      // Storms of 3,000 clients (1,000 handshakes in flight), each held open then reset, for `seconds`.
      const end = Date.now() + seconds * 1000;
      let storms = 0;
      while (Date.now() < end) {
        await holdIdle(ctx, port, 3000, () => undefined, 1000);
        storms++;
      }
      return { storms, connections: storms * 3000 };
    }
    case 'health':
    case 'health-close': {
      const args = ['exec', ctx.wrkPath, '-t1', '-c16', `-d${Math.round(seconds)}s`, '--latency'];
      if (load === 'health-close') args.push('-H', 'Connection: close');
      return runClient(ctx, [...args, `http://${HOST}:${port}/health`]);
    }
    default:
      throw new Error(`unknown load ${load}`);
  }
}

/** Self time per function and per source from a .cpuprofile. */
function summariseProfile(profile) {
  const selfUs = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map();
  const sources = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const file = url.replace(/^.*\//, '') || '(native)';
    const key = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    const source = url.includes('healthgate.cjs')
      ? 'healthgate.cjs (bundle: src + winston, prom-client, http-parser-js)'
      : url.includes('/bench/')
        ? file
        : url === ''
          ? functionName.startsWith('(')
            ? functionName
            : '(native)'
          : url
              .replace(/^node:internal\//, 'node:')
              .replace(/\/[^/]*$/, '/…')
              .replace(/^node:(net|events|buffer|timers).*/, 'node:$1');
    sources.set(source, (sources.get(source) ?? 0) + us);
  }
  const top = (map, n) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  // Inclusive time of healthgate's own functions (bundle frames), each counted once per sample.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map();
  for (const [id, us] of selfUs) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at).callFrame;
      if (!(url.includes('healthgate.cjs') || url.includes('/bench/')) || !functionName) continue;
      const key = `${functionName} ${url.replace(/^.*\//, '')}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    functions: top(functions, 30),
    sources: top(sources, 12),
    inclusive: top(inclusive, 30),
  };
}

async function cpu(load, seconds) {
  const { tmp, backend, row, ctx } = await setup();
  const profDir = join(tmp, 'prof');
  const extra = process.env.PROFILE_NODE_ARGS ? process.env.PROFILE_NODE_ARGS.split(' ') : [];
  const instance = await row.start({ backendPort: ctx.backendPort, nodeArgs: [...extra, '--cpu-prof', '--cpu-prof-dir', profDir] });
  await drive(ctx, load, instance.port, 1); // warm-up, inside the profile (small against `seconds`)
  const before = proc.treeUsage(instance.pid);
  const out = await drive(ctx, load, instance.port, seconds);
  const after = proc.treeUsage(instance.pid);
  const stopping = Date.now();
  await instance.stop();
  await proc.stop(backend);
  if (!existsSync(profDir)) throw new Error(`no profile: the proxy did not exit by itself within ${Date.now() - stopping} ms of SIGTERM`);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no .cpuprofile written');
  const summary = summariseProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8')));
  const cpuSeconds = after.cpuSeconds - before.cpuSeconds;
  console.log(
    `${row.label} under ${load} for ${seconds} s: proxy CPU ${cpuSeconds.toFixed(2)} s (${((100 * cpuSeconds) / seconds).toFixed(0)}% of a core)`,
  );
  console.log(
    `load: ${
      out.text
        ? out.text
            .split('\n')
            .filter((l) => /Requests\/sec|requests in/.test(l))
            .join('; ')
        : JSON.stringify(out)
    }`,
  );
  console.log(
    `profile: ${summary.totalMs.toFixed(0)} ms on the main thread, ${summary.idleMs.toFixed(0)} ms idle; profile at ${join(profDir, file)}`,
  );
  console.log('\nself time by source:');
  for (const line of summary.sources) console.log(`  ${line}`);
  console.log('\nself time by function (top 30):');
  for (const line of summary.functions) console.log(`  ${line}`);
  console.log("\ninclusive time of the bundle's functions (top 30; callees in node: included):");
  for (const line of summary.inclusive) console.log(`  ${line}`);
}

/** `{ "type name": { count, size } }` from a heap snapshot. */
function heapCensus(path) {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const census = new Map();
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + iType]];
    let name = snapshot.strings[nodes[i + iName]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (type === 'code' || type === 'hidden') name = name.slice(0, 40);
    const key = `${type} ${name}`.trim();
    const entry = census.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += nodes[i + iSize];
    census.set(key, entry);
  }
  return census;
}

async function memory(connections) {
  const { tmp, backend, row, ctx } = await setup();
  const probeFile = join(tmp, 'memory.jsonl');
  process.env.MEMORY_PROBE_FILE = probeFile;
  process.env.MEMORY_PROBE_SNAPSHOTS = '1';
  const extra = process.env.PROFILE_NODE_ARGS ? process.env.PROFILE_NODE_ARGS.split(' ') : [];
  const instance = await row.start({
    backendPort: ctx.backendPort,
    nodeArgs: [...extra, '--expose-gc', '--require', join(__dirname, 'memory-probe.js')],
  });
  const probe = async (n) => {
    process.kill(instance.pid, 'SIGUSR2');
    for (let i = 0; i < 600; i++) {
      if (existsSync(probeFile) && readFileSync(probeFile, 'utf8').trim().split('\n').length >= n) break;
      await proc.sleep(100);
    }
    const lines = readFileSync(probeFile, 'utf8').trim().split('\n');
    // rss is read in the probe after the GC and before the snapshot, which itself takes memory.
    const line = JSON.parse(lines[n - 1]);
    return { ...line, rssKb: line.rss / 1024 };
  };
  await holdIdle(ctx, instance.port, 200, () => undefined);
  await proc.sleep(500);
  const baseNoGcKb = proc.rssKb(instance.pid);
  const base = await probe(1);
  const rssNoGc = {};
  const { value: loaded } = await holdIdle(ctx, instance.port, connections, async () => {
    await proc.sleep(1000);
    rssNoGc.kb = proc.rssKb(instance.pid);
    return probe(2);
  });
  await instance.stop();
  await proc.stop(backend);
  const per = (key, scale = 1024) => ((loaded[key] - base[key]) / scale / connections).toFixed(2);
  console.log(`${row.label}, ${connections} idle WebSocket connections (each: a client socket and a backend socket)`);
  console.log(`  RSS before GC      ${((rssNoGc.kb - baseNoGcKb) / connections).toFixed(2)} KB per connection (what the bench reports)`);
  console.log(`  RSS after full GC  ${((loaded.rssKb - base.rssKb) / connections).toFixed(2)} KB per connection`);
  console.log(`  V8 heap used       ${per('heapUsed')} KB per connection (heapTotal ${per('heapTotal')})`);
  console.log(`  external           ${per('external')} KB per connection (of which ArrayBuffers ${per('arrayBuffers')})`);
  const a = heapCensus(base.snapshot);
  const b = heapCensus(loaded.snapshot);
  const rows = [];
  for (const [key, after] of b) {
    const before = a.get(key) ?? { count: 0, size: 0 };
    const dCount = after.count - before.count;
    const dSize = after.size - before.size;
    if (dSize > 0.5 * connections || dCount >= connections / 2)
      rows.push({ key, perCount: dCount / connections, perBytes: dSize / connections });
  }
  // The snapshots are large: the figures are printed, the files go.
  rmSync(tmp, { recursive: true, force: true });
  rows.sort((x, y) => y.perBytes - x.perBytes);
  const total = rows.reduce((s, r) => s + r.perBytes, 0);
  console.log(`\nheap objects added per connection (${(total / 1024).toFixed(2)} KB listed; after a full GC):`);
  console.log('  bytes/conn  objects/conn  type name');
  for (const r of rows.slice(0, 40))
    console.log(`  ${r.perBytes.toFixed(0).padStart(10)}  ${r.perCount.toFixed(2).padStart(12)}  ${r.key}`);
}

const [mode, arg1, arg2] = process.argv.slice(2);
const task =
  mode === 'cpu'
    ? cpu(arg1, Number(arg2 ?? 10))
    : mode === 'memory'
      ? memory(Number(arg1 ?? 5000))
      : Promise.reject(new Error('usage: node bench/profile.js cpu bulk|rate|health|health-close|storm [seconds] | memory [connections]'));
task.then(
  () => process.exit(0),
  (err) => {
    console.error(`profile: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
