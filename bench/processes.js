'use strict';
// Child processes of the bench: spawned with a raised open-file limit, tracked, and all killed
// on exit, Ctrl-C or an error; plus what /proc tells about them (CPU time, RSS, descendants).
const { spawn, spawnSync } = require('node:child_process');
const { readFileSync, readdirSync } = require('node:fs');
const net = require('node:net');

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** @type {Set<import('node:child_process').ChildProcess>} */
const running = new Set();

/** The open-file limit every child gets: the hard limit, which an unprivileged raise can reach. */
const nofile = (() => {
  const out = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? 1 << 20 : Number(out) || 1024;
})();

/**
 * Spawns `command` with its soft open-file limit raised to the hard limit (the shell's `ulimit -n`
 * then `exec`, so the pid is the command's own). Killed when the bench exits.
 */
function start(command, args, options = {}) {
  const quoted = [command, ...args].map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('sh', ['-c', `ulimit -n ${nofile} && exec ${quoted}`], {
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  child.output = '';
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    stream.setEncoding('utf8');
    stream.on('data', (text) => {
      // Keep the tail only: enough to explain a failure.
      child.output = (child.output + text).slice(-8192);
    });
  }
  return child;
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
function stop(child, graceMs = 2000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Kills every child still running, at once (exit paths cannot wait). */
function killAll() {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}: stopping ${running.size} process(es)\n`);
    killAll();
    process.exit(130);
  });
}
process.on('exit', killAll);

/** A loopback TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects if `child` exits or time runs out. */
async function waitForPort(port, child, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before listening on ${port}: ${child.output.trim()}`);
    }
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pid and all its descendants (nginx's master and worker, say). */
function processTree(pid) {
  const parentOf = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // exited while we looked
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** utime + stime of one process, in seconds (from /proc/PID/stat, clock-tick resolution). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from the state field (3) here.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size of one process in KiB (VmRSS of /proc/PID/status). */
function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** CPU seconds and RSS KiB summed over a process and its descendants. */
function treeUsage(pid) {
  let cpu = 0;
  let rss = 0;
  for (const p of processTree(pid)) {
    try {
      cpu += cpuSeconds(p);
      rss += rssKb(p);
    } catch {
      // exited while we looked
    }
  }
  return { cpuSeconds: cpu, rssKb: rss };
}

/** Every process's parent and CPU seconds so far (utime + stime, its own only). */
function cpuSnapshot() {
  const snapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      snapshot.set(Number(entry), { ppid: Number(f[1]), seconds: (Number(f[11]) + Number(f[12])) / CLK_TCK });
    } catch {
      // exited while we looked
    }
  }
  return snapshot;
}

/**
 * CPU seconds that processes outside this bench (not the runner nor its descendants) used between
 * two snapshots: other work on a shared machine, which skews a cell. Kernel threads are left out
 * (ksoftirqd does the bench's own loopback work), and so are reaped children's times, which land
 * all at once when a long-lived process is reaped; processes that both started and ended between
 * the snapshots escape it.
 */
function foreignCpuSeconds(before, after) {
  const ours = new Set([process.pid]);
  for (const snapshot of [before, after]) {
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, { ppid }] of snapshot) {
        if (!ours.has(pid) && ours.has(ppid)) {
          ours.add(pid);
          grew = true;
        }
      }
    }
  }
  let seconds = 0;
  for (const [pid, now] of after) {
    const then = before.get(pid);
    // pid 2 is kthreadd, the parent of every kernel thread.
    if (!then || ours.has(pid) || pid === 2 || now.ppid === 2) continue;
    if (now.seconds >= then.seconds) seconds += now.seconds - then.seconds;
  }
  return seconds;
}

/** Runs a command to its end; resolves with its stdout, rejects with its stderr on failure. */
function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = start(command, args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (text) => (stdout += text));
    if (options.input !== undefined) child.stdin.end(options.input);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')}: exit ${code ?? signal}: ${child.output.trim().slice(-2000)}`));
    });
  });
}

module.exports = {
  CLK_TCK,
  nofile,
  start,
  stop,
  killAll,
  freePort,
  waitForPort,
  sleep,
  processTree,
  cpuSeconds,
  rssKb,
  treeUsage,
  cpuSnapshot,
  foreignCpuSeconds,
  run,
};
