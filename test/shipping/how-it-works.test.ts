import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { codeBlock } from './markdown';
import { ROOT } from './support';

describe('docs/how-it-works.md: a second server on the same port', () => {
  it('the example script shows EADDRINUSE without SO_REUSEPORT, and a random split of clients with it', () => {
    const block = codeBlock(join(ROOT, 'docs', 'how-it-works.md'), 'same-port').text;
    expect(block).toBe('python3 docs/examples/same-port/same-port.py');
    const [python, script] = block.split(' ');
    const out = execFileSync(python, [script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(out).toMatch(/^second bind without SO_REUSEPORT: EADDRINUSE \(/m);
    const split = /with SO_REUSEPORT, (\d+) connections to port \d+: (\d+) reached the app, (\d+) reached the health server/.exec(out);
    expect(split).not.toBeNull();
    const [total, app, health] = split!.slice(1).map(Number);
    expect(app + health).toBe(total);
    // Each of 200 connections lands on either listener: both get some (all on one side would
    // happen with a probability of about 2^-199).
    expect(app).toBeGreaterThan(0);
    expect(health).toBeGreaterThan(0);
  });
});
