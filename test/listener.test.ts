import { connectionCap } from '../src/listener';

// src/listener.ts: the connection cap under the open-file limit (the flood itself is
// test/hardening/fd-exhaustion.load.test.ts, through the CLI under `ulimit -n 256`).

describe('connectionCap', () => {
  it.each([
    { name: 'ulimit -n 256: two descriptors a connection after a reserve of 32', limit: 256, cap: 112 },
    { name: 'ulimit -n 1024', limit: 1024, cap: 496 },
    { name: 'a container default of 1048576', limit: 1_048_576, cap: 524_272 },
    { name: 'a limit under the reserve still lets one in', limit: 16, cap: 1 },
    { name: 'unknown: no cap', limit: undefined, cap: undefined },
    { name: 'unlimited: no cap', limit: Infinity, cap: undefined },
  ])('$name', ({ limit, cap }) => {
    expect(connectionCap(limit)).toBe(cap);
  });
});
