import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The bench's folder. */
export const BENCH = join(__dirname, '..', '..', 'bench');

/**
 * bench/client.c compiled (-O2, and -Wall -Werror: a warning fails), once for the calling test file (in its
 * beforeAll) and removed after it; returns the binary's path, to be read inside tests.
 */
export function compiledClient(): () => string {
  let binary = '';
  beforeAll(() => {
    binary = join(mkdtempSync(join(tmpdir(), 'healthgate-bench-client-')), 'client');
    execFileSync('cc', ['-O2', '-Wall', '-Werror', '-o', binary, join(BENCH, 'client.c')]);
  });
  afterAll(() => rmSync(dirname(binary), { recursive: true, force: true }));
  return () => binary;
}
