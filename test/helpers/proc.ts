import { readdirSync, readFileSync } from 'node:fs';
import { onlyResponse } from './http';
import { rawRequest } from './raw';

// What a test can read of another process on Linux: /proc/<pid>/status, /proc/<pid>/stat, its
// descriptors, and healthgate's own metrics.

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on every Linux port). */
const TICKS_PER_SECOND = 100;

/** The resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** CPU time `pid` has used so far, user plus system, in ms (utime + stime of /proc/<pid>/stat). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15; fields[0] here is field 3 (state).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** How many descriptors `pid` holds open now. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A megabyte figure for messages and reports. */
export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** One scrape: every sample by its full name with labels (`name{label="v"}` or `name`). */
export type Samples = ReadonlyMap<string, number>;

/** Scrapes healthgate's Prometheus text on 127.0.0.1:`port` at `path` (a connection of its own). */
export async function scrape(port: number, path = '/metrics'): Promise<Samples> {
  const response = onlyResponse(await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`));
  if (response.status !== 200) throw new Error(`scrape: ${response.statusLine}`);
  const samples = new Map<string, number>();
  for (const line of response.body.toString('utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** One sample's value; a missing sample is an error (a renamed metric must not pass as 0). */
export function sample(samples: Samples, name: string): number {
  const value = samples.get(name);
  if (value === undefined) throw new Error(`no sample ${name} in the scrape`);
  return value;
}
