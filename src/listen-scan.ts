import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A TCP socket in the LISTEN state: its local address as the kernel shows it, and its port. */
export interface ListeningSocket {
  readonly address: string;
  readonly port: number;
}

const LISTEN_STATE = '0A';

/**
 * The TCP sockets that the processes `pids` listen on, read from /proc (Linux): each process's
 * socket descriptors, matched by inode against /proc/net/tcp and tcp6. Empty where /proc cannot
 * tell (another OS, or no permission): nothing is guessed.
 */
export function listeningSockets(pids: readonly number[]): ListeningSocket[] {
  const inodes = new Set(pids.flatMap(socketInodes));
  if (inodes.size === 0) return [];
  const found = new Map<string, ListeningSocket>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const entry of parseProcNetTcp(readOrEmpty(table))) {
      if (entry.state !== LISTEN_STATE || !inodes.has(entry.inode)) continue;
      found.set(`${entry.address}|${entry.port}`, { address: entry.address, port: entry.port });
    }
  }
  return [...found.values()];
}

/** `pid` and every process descended from it (children found through /proc/<pid>/stat's ppid field). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [pid];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readOrEmpty(`/proc/${name}/stat`);
    // Fields after the command name, which may hold spaces and parentheses: state, ppid, ...
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid)) continue;
    const siblings = children.get(ppid) ?? [];
    siblings.push(Number(name));
    children.set(ppid, siblings);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** One row of /proc/net/tcp or tcp6. */
export interface ProcNetTcpEntry {
  readonly address: string;
  readonly port: number;
  readonly state: string;
  readonly inode: string;
}

/** Parses /proc/net/tcp or tcp6 text: addresses decoded to dotted or colon form. Pure. */
export function parseProcNetTcp(text: string): ProcNetTcpEntry[] {
  const entries: ProcNetTcpEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [hexAddress, hexPort] = fields[1].split(':');
    entries.push({ address: decodeAddress(hexAddress), port: parseInt(hexPort, 16), state: fields[3], inode: fields[9] });
  }
  return entries;
}

/** The kernel prints addresses as 32-bit words in host byte order (little-endian on x86 and arm64). */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) => (word.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: string[] = [];
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.push(match[1]);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
