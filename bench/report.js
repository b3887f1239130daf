'use strict';
// Turns the rounds into figures: medians per row, ratios to HAProxy (tcp), the Markdown tables,
// the issue's targets with pass/fail, and docs/performance.md with the method.

const REFERENCE = 'haproxy-tcp';

function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** The figures of the table: key, title, how to read it out of one round's cells, unit, and which way is better. */
const FIGURES = [
  { key: 'bulkMbPerS', title: 'bulk MB/s', pick: (c) => c.bulk?.mbPerS, better: 'higher', digits: 0 },
  { key: 'bulkCpuPerGb', title: 'proxy CPU-s per GB', pick: (c) => c.bulk?.cpuSecondsPerGb, better: 'lower', digits: 2 },
  { key: 'rttP50', title: 'RTT p50 µs', pick: (c) => c.latency?.p50Us, better: 'lower', digits: 0 },
  { key: 'rttP99', title: 'RTT p99 µs', pick: (c) => c.latency?.p99Us, better: 'lower', digits: 0 },
  { key: 'addedP50', title: 'added RTT p50 µs', derived: true, better: 'lower', digits: 0 },
  { key: 'addedP99', title: 'added RTT p99 µs', derived: true, better: 'lower', digits: 0 },
  { key: 'connPerS', title: 'new WS conn/s', pick: (c) => c.rate?.perS, better: 'higher', digits: 0 },
  { key: 'cpuUsPerConn', title: 'proxy CPU µs per conn', pick: (c) => c.rate?.cpuUsPerConn, better: 'lower', digits: 0 },
  { key: 'idleKbPerConn', title: 'idle KB per conn', pick: (c) => c.idle?.kbPerConn, better: 'lower', digits: 1 },
  { key: 'healthKaRps', title: 'health req/s keep-alive', pick: (c) => c.health?.keepAlive?.rps, better: 'higher', digits: 0 },
  { key: 'healthKaP99', title: 'keep-alive p99 ms', pick: (c) => c.health?.keepAlive?.p99Ms, better: 'lower', digits: 2 },
  {
    key: 'healthKaCpu',
    title: 'proxy CPU µs per req (keep-alive)',
    pick: (c) => c.health?.keepAlive?.cpuUsPerReq,
    better: 'lower',
    digits: 1,
  },
  { key: 'healthCloseRps', title: 'health req/s new conn each', pick: (c) => c.health?.close?.rps, better: 'higher', digits: 0 },
  { key: 'healthCloseP99', title: 'new-conn p99 ms', pick: (c) => c.health?.close?.p99Ms, better: 'lower', digits: 2 },
  {
    key: 'healthCloseCpu',
    title: 'proxy CPU µs per req (new conn)',
    pick: (c) => c.health?.close?.cpuUsPerReq,
    better: 'lower',
    digits: 1,
  },
  { key: 'stormMs', title: 'all connected ms', pick: (c) => c.storm?.stormMs, better: 'lower', digits: 0 },
  { key: 'stormProbeP50', title: 'probe p50 ms', pick: (c) => c.storm?.probeP50Ms, better: 'lower', digits: 1 },
  { key: 'stormProbeP99', title: 'probe p99 ms', pick: (c) => c.storm?.probeP99Ms, better: 'lower', digits: 1 },
  { key: 'stormCpuUsPerConn', title: 'proxy CPU µs per conn', pick: (c) => c.storm?.cpuUsPerConn, better: 'lower', digits: 0 },
  { key: 'stormKbPerConn', title: 'proxy RSS KB per open conn', pick: (c) => c.storm?.kbPerConn, better: 'lower', digits: 1 },
  { key: 'stormProbeFailed', title: 'storm probes failed', pick: (c) => c.storm?.probeFailed, better: 'lower', digits: 0 },
];
const STORM_KEYS = ['stormMs', 'stormProbeP50', 'stormProbeP99', 'stormCpuUsPerConn', 'stormKbPerConn'];
/** The storm's references (issue 14): ratios to HAProxy in http mode and to the naive Node pipe. */
const STORM_REFS = ['haproxy-http', 'naive'];
const BY_KEY = Object.fromEntries(FIGURES.map((f) => [f.key, f]));

/**
 * `{ [rowId]: { [figureKey]: { median, values } } }` from `rounds[r][rowId][measurement]`.
 * Added RTT is each round's row figure minus the same round's direct figure, then the median.
 */
function summarise(rows, rounds) {
  const out = {};
  for (const row of rows) {
    const figures = {};
    for (const f of FIGURES.filter((x) => !x.derived)) {
      const values = rounds.map((round) => (round[row.id] ? f.pick(round[row.id]) : undefined));
      figures[f.key] = { median: median(values), values };
    }
    for (const [key, base] of [
      ['addedP50', (c) => c.latency?.p50Us],
      ['addedP99', (c) => c.latency?.p99Us],
    ]) {
      const values = rounds.map((round) => {
        const mine = round[row.id] && base(round[row.id]);
        const direct = round.direct && base(round.direct);
        return row.id === 'direct' || mine === undefined || direct === undefined ? undefined : mine - direct;
      });
      figures[key] = { median: median(values), values };
    }
    out[row.id] = figures;
  }
  return out;
}

function format(value, digits) {
  if (value === undefined) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * mine ÷ reference; undefined when either is missing, the reference is not positive or mine is
 * negative (an added RTT at or below the direct row's: lost in noise, and no ratio means anything).
 */
function ratio(summary, rowId, key, refId = REFERENCE) {
  const mine = summary[rowId]?.[key]?.median;
  const ref = summary[refId]?.[key]?.median;
  if (mine === undefined || ref === undefined || ref <= 0 || mine < 0) return undefined;
  return mine / ref;
}

function cell(summary, rowId, key) {
  const f = BY_KEY[key];
  const value = summary[rowId]?.[key]?.median;
  if (value === undefined) return '—';
  const r = ratio(summary, rowId, key);
  return r === undefined || rowId === REFERENCE ? format(value, f.digits) : `${format(value, f.digits)} (${r.toFixed(2)}×)`;
}

function table(rows, summary, keys, extra = []) {
  const head = ['row', ...extra.map((e) => e.title), ...keys.map((k) => BY_KEY[k].title)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const row of rows) {
    if (row.missing) {
      lines.push(
        `| ${row.label} | skipped: ${row.missing} |${head
          .slice(2)
          .map(() => '')
          .join('|')}|`,
      );
      continue;
    }
    // The "before" row runs only some measurements (measure.js): no line of dashes where it did not.
    if (row.id === 'healthgate-before' && keys.every((k) => summary[row.id]?.[k]?.median === undefined)) continue;
    lines.push(`| ${[row.label, ...extra.map((e) => e.value(row)), ...keys.map((k) => cell(summary, row.id, k))].join(' | ')} |`);
  }
  return lines.join('\n');
}

const TUNNEL_KEYS = ['bulkMbPerS', 'bulkCpuPerGb', 'rttP50', 'rttP99', 'addedP50', 'addedP99', 'connPerS', 'cpuUsPerConn', 'idleKbPerConn'];
const HEALTH_KEYS = ['healthKaRps', 'healthKaP99', 'healthKaCpu', 'healthCloseRps', 'healthCloseP99', 'healthCloseCpu'];

/**
 * The storm table: each figure with its ratios to HAProxy (http) and to the naive pipe, same run
 * ("1.20× / 0.95×"); the direct row has no proxy, so only its time and probe (the backend's) count.
 */
function stormTable(rows, summary) {
  const head = ['row', ...STORM_KEYS.map((k) => BY_KEY[k].title), 'probes failed'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const active = rows.filter((r) => !r.missing && summary[r.id]?.stormMs?.median !== undefined);
  for (const row of active) {
    const cells = STORM_KEYS.map((key) => {
      const f = BY_KEY[key];
      const value = summary[row.id]?.[key]?.median;
      if (value === undefined) return 'n/a';
      const ratios = STORM_REFS.map((ref) => (ref === row.id ? undefined : ratio(summary, row.id, key, ref)));
      if (row.id === 'direct' || ratios.every((r) => r === undefined)) return format(value, f.digits);
      return `${format(value, f.digits)} (${ratios.map((r) => (r === undefined ? '—' : `${r.toFixed(2)}×`)).join(' / ')})`;
    });
    const failed = summary[row.id]?.stormProbeFailed?.values?.filter((v) => v !== undefined) ?? [];
    lines.push(`| ${[row.label, ...cells, failed.length ? String(Math.max(...failed)) : '—'].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The figures that issue 14 shows before and after, and the HAProxy row each is compared with. */
const BEFORE_AFTER = [
  { key: 'bulkMbPerS', haproxy: 'haproxy-tcp' },
  { key: 'bulkCpuPerGb', haproxy: 'haproxy-tcp' },
  { key: 'cpuUsPerConn', haproxy: 'haproxy-tcp' },
  { key: 'idleKbPerConn', haproxy: 'haproxy-tcp' },
  { key: 'stormMs', haproxy: 'haproxy-http' },
  { key: 'stormProbeP99', haproxy: 'haproxy-http' },
  { key: 'stormCpuUsPerConn', haproxy: 'haproxy-http' },
  { key: 'stormKbPerConn', haproxy: 'haproxy-http' },
];

/**
 * healthgate before (BENCH_BASELINE) and after, same run, each with its ratio to HAProxy (tcp for
 * the tunnel figures, http for the storm's) and to the naive Node pipe; '' when the before row did
 * not run.
 */
function beforeAfterTable(summary) {
  if (!summary['healthgate-before']) return '';
  const storm = (key) => (key.startsWith('storm') ? 'storm: ' : '');
  const lines = [
    '| figure | before | after | before ÷ HAProxy | after ÷ HAProxy | before ÷ naive | after ÷ naive |',
    '|---|---|---|---|---|---|---|',
  ];
  const r = (row, key, ref) => {
    const x = ratio(summary, row, key, ref);
    return x === undefined ? '—' : `${x.toFixed(2)}×`;
  };
  for (const { key, haproxy } of BEFORE_AFTER) {
    const f = BY_KEY[key];
    const before = summary['healthgate-before']?.[key]?.median;
    const after = summary.healthgate?.[key]?.median;
    if (before === undefined && after === undefined) continue;
    const label = `${storm(key)}${f.title} (${f.better} is better; HAProxy ${haproxy.slice(8)})`;
    lines.push(
      `| ${[label, format(before, f.digits), format(after, f.digits), r('healthgate-before', key, haproxy), r('healthgate', key, haproxy), r('healthgate-before', key, 'naive'), r('healthgate', key, 'naive')].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** Issue 14's targets: figure, reference row, bound on healthgate ÷ reference. */
const STORM_TARGETS = [
  { text: 'storm time ≤ 1.2× HAProxy (http)', key: 'stormMs', ref: 'haproxy-http', op: '<=', bound: 1.2 },
  { text: 'probe p99 during the storm ≤ 1.0× HAProxy (http)', key: 'stormProbeP99', ref: 'haproxy-http', op: '<=', bound: 1.0 },
  { text: 'CPU per connection ≤ 0.8× the naive pipe', key: 'stormCpuUsPerConn', ref: 'naive', op: '<=', bound: 0.8 },
  { text: 'RSS per open connection ≤ 1.5× HAProxy (http)', key: 'stormKbPerConn', ref: 'haproxy-http', op: '<=', bound: 1.5 },
];

/** The storm targets: healthgate (and, where it ran, healthgate before) against each target's reference. */
function stormTargetsTable(summary) {
  const before = summary['healthgate-before']?.stormMs?.median !== undefined;
  const lines = [
    `| target | healthgate | reference | healthgate ÷ reference |${before ? ' healthgate before | before ÷ reference |' : ''}`,
    `|---|---|---|---|${before ? '---|---|' : ''}`,
  ];
  for (const t of STORM_TARGETS) {
    const f = BY_KEY[t.key];
    const cells = [
      t.text,
      format(summary.healthgate?.[t.key]?.median, f.digits),
      format(summary[t.ref]?.[t.key]?.median, f.digits),
      verdict(ratio(summary, 'healthgate', t.key, t.ref), t),
    ];
    if (before)
      cells.push(
        format(summary['healthgate-before']?.[t.key]?.median, f.digits),
        verdict(ratio(summary, 'healthgate-before', t.key, t.ref), t),
      );
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The two result tables, `{ tunnel, health }`, each figure with its ratio to HAProxy (tcp). */
function resultTables(rows, summary, rounds) {
  const answeredBy = { title: '/health answered by', value: (row) => (row.healthBy === 'proxy' ? 'proxy' : 'backend (Node http)') };
  // wrk near a full core caps req/s: the proxy's CPU per request still compares rows fairly.
  const wrkCpu = {
    title: 'wrk CPU (max)',
    value: (row) => {
      const shares = rounds.map((round) => round[row.id]?.health?.clientCpuShare).filter((v) => v !== undefined);
      return shares.length ? `${Math.round(Math.max(...shares) * 100)}%` : '—';
    },
  };
  return {
    tunnel: table(rows, summary, TUNNEL_KEYS),
    health: table(rows, summary, HEALTH_KEYS, [answeredBy, wrkCpu]),
    storm: stormTable(rows, summary),
  };
}

/** The issue's targets: figure, comparison with the reference row, bound. */
const TARGETS = [
  { text: 'bulk MB/s ≥ 1.0×', key: 'bulkMbPerS', op: '>=', bound: 1.0 },
  { text: 'proxy CPU per GB ≤ 1.0×', key: 'bulkCpuPerGb', op: '<=', bound: 1.0 },
  { text: 'added RTT p50 ≤ 1.0×', key: 'addedP50', op: '<=', bound: 1.0 },
  { text: 'added RTT p99 ≤ 1.0×', key: 'addedP99', op: '<=', bound: 1.0 },
  { text: 'CPU per new WebSocket connection ≤ 1.5×', key: 'cpuUsPerConn', op: '<=', bound: 1.5 },
  { text: 'idle memory per connection ≤ 2.0×', key: 'idleKbPerConn', op: '<=', bound: 2.0 },
  { text: 'health req/s keep-alive ≥ 1.0×', key: 'healthKaRps', op: '>=', bound: 1.0 },
  { text: 'health req/s, new connection each ≥ 0.8×', key: 'healthCloseRps', op: '>=', bound: 0.8 },
];

function verdict(r, target) {
  if (r === undefined) return 'n/a';
  const pass = target.op === '>=' ? r >= target.bound : r <= target.bound;
  return `${r.toFixed(2)}× ${pass ? 'pass' : '**fail**'}`;
}

/** The targets table: healthgate against HAProxy (tcp), the reference, and (for information) HAProxy (http). */
function targetsTable(summary) {
  const lines = [
    '| target | healthgate | HAProxy (tcp) | healthgate ÷ HAProxy (tcp) | for information: ÷ HAProxy (http) |',
    '|---|---|---|---|---|',
  ];
  for (const t of TARGETS) {
    const f = BY_KEY[t.key];
    const hg = summary.healthgate?.[t.key]?.median;
    const ref = summary[REFERENCE]?.[t.key]?.median;
    lines.push(
      `| ${t.text} | ${format(hg, f.digits)} | ${format(ref, f.digits)} | ${verdict(ratio(summary, 'healthgate', t.key), t)} | ${verdict(ratio(summary, 'healthgate', t.key, 'haproxy-http'), t)} |`,
    );
  }
  if (lines.some((l) => l.includes('| n/a'))) {
    lines.push(
      '',
      'n/a: a figure is missing, or an added RTT is negative (the row beat the direct connection in the same rounds: noise, so no ratio means anything).',
    );
  }
  return lines.join('\n');
}

/** Every round's value of every figure, for judging the spread behind a median. */
function roundsTable(rows, summary) {
  const active = rows.filter((r) => !r.missing);
  const lines = [`| figure | ${active.map((r) => r.label).join(' | ')} |`, `|---|${active.map(() => '---').join('|')}|`];
  for (const f of FIGURES) {
    const cells = active.map((row) => {
      const values = summary[row.id]?.[f.key]?.values ?? [];
      return values.every((v) => v === undefined) ? '—' : values.map((v) => format(v, f.digits)).join(' / ');
    });
    lines.push(`| ${f.title} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The load generators' CPU, as the largest share of one core seen per measurement and row. */
function clientCpuTable(rows, rounds) {
  const active = rows.filter((r) => !r.missing);
  const measurements = ['bulk', 'latency', 'rate', 'health', 'storm'];
  const lines = [`| load generator | ${active.map((r) => r.label).join(' | ')} |`, `|---|${active.map(() => '---').join('|')}|`];
  for (const m of measurements) {
    const cells = active.map((row) => {
      const shares = rounds.map((round) => round[row.id]?.[m]?.clientCpuShare).filter((v) => v !== undefined);
      return shares.length ? `${Math.round(Math.max(...shares) * 100)}%` : '—';
    });
    lines.push(`| ${m === 'health' ? 'wrk (health)' : `C client (${m})`} | ${cells.join(' | ')} |`);
  }
  const foreign = active.map((row) => {
    const shares = rounds
      .flatMap((round) => Object.values(round[row.id] ?? {}).map((cell) => cell.foreignCpuShare))
      .filter((v) => v !== undefined);
    return shares.length ? `${Math.round(Math.max(...shares) * 100)}%` : '—';
  });
  lines.push(`| other processes on the machine, any cell | ${foreign.join(' | ')} |`);
  return lines.join('\n');
}

module.exports = {
  REFERENCE,
  FIGURES,
  TARGETS,
  STORM_TARGETS,
  median,
  summarise,
  resultTables,
  targetsTable,
  stormTargetsTable,
  beforeAfterTable,
  roundsTable,
  clientCpuTable,
  ratio,
  format,
};
