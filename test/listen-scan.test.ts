import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { defer, drainCleanup } from './helpers/cleanup';
import { listeningSockets, parseProcNetTcp, processTree } from '../src/listen-scan';

// src/listen-scan.ts: which TCP ports a process tree listens on, from /proc.

afterEach(drainCleanup);

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

it.each([
  {
    name: 'IPv4 0.0.0.0:8000',
    row: '0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 4242 1',
    address: '0.0.0.0',
    port: 8000,
  },
  {
    name: 'IPv4 127.0.0.1:8081',
    row: '1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 4243 1',
    address: '127.0.0.1',
    port: 8081,
  },
  {
    name: 'IPv6 ::',
    row: '0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 0:0 0:0 0 1000 0 77 1',
    address: '::',
    port: 8000,
  },
  {
    name: 'IPv6 ::1',
    row: '0: 00000000000000000000000001000000:1F40 00000000000000000000000000000000:0000 0A 0:0 0:0 0 1000 0 78 1',
    address: '::1',
    port: 8000,
  },
  {
    name: 'IPv4-mapped',
    row: '0: 0000000000000000FFFF00000100007F:1F40 00000000000000000000000000000000:0000 0A 0:0 0:0 0 1000 0 79 1',
    address: '::ffff:127.0.0.1',
    port: 8000,
  },
])('decodes $name', ({ row, address, port }) => {
  const [entry] = parseProcNetTcp(`${HEADER}\n   ${row}\n`);
  expect({ address: entry.address, port: entry.port, state: entry.state }).toEqual({ address, port, state: '0A' });
});

it('finds the ports this process listens on, and its tree', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;
  expect(listeningSockets([process.pid])).toContainEqual({ address: '127.0.0.1', port });
  expect(processTree(process.pid)[0]).toBe(process.pid);
});
