import { isIP } from 'node:net';
import { hostPort } from './backend-target';
import type { CheckResult } from './backend-check';
import type { Log } from './log';
import { listeningSockets, processTree, type ListeningSocket } from './listen-scan';

/** SPEC (Diagnostics): each finding is repeated at most this often while it lasts. */
export const REPEAT_MS = 30_000;

/** What diagnostics know of the set-up. */
export interface DiagnoseOptions {
  readonly log: Log;
  readonly backendPort: number;
  /** The addresses a backend connect tries (127.0.0.1 and ::1 for localhost). */
  readonly backendAddresses: readonly string[];
  /** In entrypoint mode: the child's pid once started, else undefined. */
  readonly appPid: () => number | undefined;
  readonly now?: () => number;
  /** Where the app's listening sockets come from; /proc by default. */
  readonly scan?: (pid: number) => readonly ListeningSocket[];
}

// A platform's health-check marks (SPEC: Diagnostics): a Host, or the start of a User-Agent.
const PROBE_HOSTS: ReadonlyArray<[string, string]> = [['healthcheck.railway.app', 'Railway']];
const PROBE_AGENTS: ReadonlyArray<[string, string]> = [
  ['kube-probe/', 'Kubernetes'],
  ['googlehc/', 'Google Cloud'],
  ['elb-healthchecker/', 'AWS ELB'],
  ['consul health check', 'Consul'],
];
const HEAD_SCAN_BYTES = 4096;

/**
 * Findings that explain a failing deploy, each one warn line with a fixed message and the fix in
 * a field, at most once per 30 s per finding: a platform probe on a path healthgate passes on,
 * the backend down (what was tried, the PORT the app was given), the app listening elsewhere.
 */
export class Diagnostics {
  private readonly lastSaid = new Map<string, number>();
  private readonly now: () => number;
  private readonly scan: (pid: number) => readonly ListeningSocket[];

  constructor(private readonly options: DiagnoseOptions) {
    this.now = options.now ?? Date.now;
    this.scan = options.scan ?? ((pid) => listeningSockets(processTree(pid)));
  }

  /** At start: on Railway without a drain budget, every redeploy cuts open WebSockets. */
  atStart(env: Readonly<Record<string, string | undefined>>): void {
    const seconds = Number(env.RAILWAY_DEPLOYMENT_DRAINING_SECONDS ?? '0');
    if (env.RAILWAY_SERVICE_ID === undefined || seconds > 0) return;
    this.say('railway', 'no drain budget on Railway: every redeploy cuts open WebSockets', {
      fix: 'set RAILWAY_DEPLOYMENT_DRAINING_SECONDS (for example 30) in the service variables, so that the app can close its WebSockets with 1001',
    });
  }

  /** A stream routed to the backend: warns when it is a platform's health check on a path healthgate does not answer. */
  readonly routedToBackend = (sniffed: Buffer): void => {
    const probe = platformProbe(sniffed);
    if (!probe) return;
    this.say(`probe ${probe.path}`, 'platform health check on a path healthgate passes to the app', {
      path: probe.path,
      platform: probe.platform,
      fix: `add --health-path ${probe.path} (or HEALTHGATE_HEALTH_PATHS=${probe.path}), or point the platform's health check at a health path`,
    });
  };

  /** A failed readiness check: what was tried, and where the app listens if not there. */
  backendDown(result: CheckResult): void {
    const appPort = this.options.appPid() === undefined ? undefined : this.options.backendPort;
    this.say('backend down', 'backend down', {
      reason: result.reason,
      ...(result.tried ? { tried: result.tried } : {}),
      ...(appPort !== undefined ? { appPort } : {}),
    });
    const pid = this.options.appPid();
    if (pid === undefined) return;
    const finding = whereTheAppListens(this.scan(pid), this.options.backendPort, this.options.backendAddresses);
    if (finding) this.say('app listens', finding.message, { listening: finding.listening, fix: finding.fix });
  }

  private say(key: string, message: string, fields: Record<string, unknown>): void {
    const last = this.lastSaid.get(key);
    if (last !== undefined && this.now() - last < REPEAT_MS) return;
    this.lastSaid.set(key, this.now());
    this.options.log.finding(message, fields);
  }
}

/** A finding about the app's listening sockets, or undefined when they explain nothing. */
export interface ListenFinding {
  readonly message: string;
  readonly listening: string[];
  readonly fix: string;
}

/**
 * Pure: from the sockets the app's process tree listens on, why a connect to the backend fails.
 * Nothing listening tells nothing (the app may still be starting): no finding, nothing guessed.
 */
export function whereTheAppListens(
  sockets: readonly ListeningSocket[],
  backendPort: number,
  backendAddresses: readonly string[],
): ListenFinding | undefined {
  if (sockets.length === 0) return undefined;
  const listening = sockets.map((s) => hostPort(s.address, s.port));
  const onPort = sockets.filter((s) => s.port === backendPort);
  if (onPort.length === 0) {
    const other = sockets[0];
    return {
      message: 'the app listens on another port',
      listening,
      fix: `the app listens on ${hostPort(other.address, other.port)}, not ${backendPort}: make it read PORT, or pass --backend-port ${other.port}`,
    };
  }
  if (onPort.some((s) => reaches(s.address, backendAddresses))) return undefined;
  const where = onPort[0].address;
  return {
    message: 'the app listens on an address the backend host does not reach',
    listening,
    fix: `the app listens on ${hostPort(where, backendPort)} only: make it listen on 0.0.0.0 or ::, or pass --backend-host ${where}`,
  };
}

/** True when a socket bound to `bound` accepts a connect to one of `targets` (or when a target is a name we cannot compare). */
function reaches(bound: string, targets: readonly string[]): boolean {
  return targets.some((target) => {
    const family = isIP(target);
    if (family === 0) return true;
    if (bound === '::') return true;
    if (bound === '0.0.0.0') return family === 4 || target.startsWith('::ffff:');
    return bound === target || bound === `::ffff:${target}`;
  });
}

/** The path and platform of a platform's health check among the sniffed bytes, if they are one. */
function platformProbe(sniffed: Buffer): { path: string; platform: string } | undefined {
  const text = sniffed.toString('latin1', 0, Math.min(sniffed.length, HEAD_SCAN_BYTES));
  const line = /^(?:GET|HEAD) (\S+) HTTP\/1\.[01]\r?\n/.exec(text);
  if (!line) return undefined;
  const headerEnd = text.search(/\r?\n\r?\n/);
  const head = (headerEnd < 0 ? text : text.slice(0, headerEnd)).toLowerCase();
  if (/\r?\nupgrade:/.test(head)) return undefined;
  const host = /\r?\nhost:[ \t]*([^\r\n]*)/.exec(head)?.[1].trim().replace(/:\d+$/, '');
  const agent = /\r?\nuser-agent:[ \t]*([^\r\n]*)/.exec(head)?.[1].trim() ?? '';
  const platform = PROBE_HOSTS.find(([name]) => host === name)?.[1] ?? PROBE_AGENTS.find(([prefix]) => agent.startsWith(prefix))?.[1];
  if (!platform) return undefined;
  const path = line[1].replace(/^https?:\/\/[^/]*/i, '').replace(/\?.*$/, '') || '/';
  return { path, platform };
}
