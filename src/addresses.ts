import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Config } from './config';
import { UsageError } from './errors';

/** Resolves a host name to every address it has (dns.promises.lookup with `all`), injectable for tests. */
export type Lookup = (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

const defaultLookup: Lookup = (host) => dnsLookup(host, { all: true });

// Where a connect reaches this machine whatever its interfaces: loopback and "this host".
const ALWAYS_LOCAL = new BlockList();
ALWAYS_LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
ALWAYS_LOCAL.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS_LOCAL.addAddress('::1', 'ipv6');
ALWAYS_LOCAL.addAddress('::', 'ipv6');
ALWAYS_LOCAL.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
ALWAYS_LOCAL.addSubnet('::ffff:0.0.0.0', 104, 'ipv6');

/**
 * SPEC (Command line): refuses, as usage errors, a `--host` that does not resolve and a backend
 * that is healthgate itself: the public port on a loopback, unspecified or listen address, in any
 * spelling (`127.1`, `::ffff:127.0.0.1`, `0:0:0:0:0:0:0:1`, `localhost.`, `2130706433`, `0.0.0.0`).
 * Names are resolved, every address of them compared. A backend name that does not resolve yet is
 * left alone: the app's host may appear after healthgate starts.
 */
export async function checkAddresses(config: Config, lookup: Lookup = defaultLookup): Promise<void> {
  const listen = await resolve(config.host, lookup).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--host ${config.host} does not resolve (${err.code ?? err.message})`);
  });
  if (config.port === 0 || config.backendPort !== config.port) return;
  const backend = isLocalhostName(config.backendHost)
    ? [{ address: '127.0.0.1', family: 4 }]
    : await resolve(config.backendHost, lookup).catch(() => []);
  const own = ownAddresses(listen);
  const self = backend.find(({ address, family }) => {
    const type = family === 6 ? 'ipv6' : 'ipv4';
    return ALWAYS_LOCAL.check(address, type) || own.check(address, type);
  });
  if (self) {
    throw new UsageError(
      `the backend ${config.backendHost}:${config.backendPort} (${self.address}) is healthgate itself; give the app another port with --backend-port`,
    );
  }
}

async function resolve(host: string, lookup: Lookup): Promise<ReadonlyArray<{ address: string; family: number }>> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family !== 0) return [{ address: bare, family }];
  return lookup(bare);
}

/** RFC 6761: `localhost`, its subdomains, and the same with a trailing dot, always mean loopback. */
function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** The addresses healthgate listens on: the resolved --host, or every interface's for a wildcard. */
function ownAddresses(listen: ReadonlyArray<{ address: string; family: number }>): BlockList {
  const own = new BlockList();
  for (const { address, family } of listen) {
    const type = family === 6 ? 'ipv6' : 'ipv4';
    own.addAddress(address, type);
    if (address === '::' || address === '0.0.0.0') {
      for (const nic of Object.values(networkInterfaces()).flat()) {
        if (nic) own.addAddress(nic.address, nic.family === 'IPv6' ? 'ipv6' : 'ipv4');
      }
    }
  }
  return own;
}
