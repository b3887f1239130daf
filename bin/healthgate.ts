import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkAddresses } from '../src/addresses';
import { checkCommand } from '../src/check-cli';
import { parseConfig } from '../src/config';
import { HealthgateError } from '../src/errors';
import { start } from '../src/main';
import { StartError } from '../src/supervisor';

/** argv + env → Config, or one usage line on stderr and exit 2; then start() and exit with its code. */
async function main(): Promise<void> {
  // SPEC: a write error on stderr (a closed pipe) never stops healthgate; log.ts does the same for stdout.
  process.stderr.on('error', () => undefined);
  if (process.argv[2] === 'check') {
    process.exitCode = await checkCommand(process.argv.slice(3), process, readVersion());
    return;
  }
  let outcome;
  try {
    outcome = parseConfig(process.argv.slice(2), process.env, process.stdout.isTTY === true, readVersion());
    if (outcome.kind === 'run') await checkAddresses(outcome.config);
  } catch (err) {
    if (err instanceof HealthgateError) {
      process.stderr.write(`healthgate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (outcome.kind === 'print') {
    process.stdout.write(outcome.text);
    return;
  }
  try {
    const gate = await start(outcome.config);
    process.exitCode = await gate.exited;
    process.exit();
  } catch (err) {
    if (err instanceof StartError) {
      process.stderr.write(`healthgate: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    const errno = err as NodeJS.ErrnoException;
    if (errno.code === 'EADDRINUSE' || errno.code === 'EACCES' || errno.code === 'EADDRNOTAVAIL') {
      process.stderr.write(`healthgate: cannot listen: ${errno.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Set by scripts/bundle.js in dist/healthgate.cjs, which has no package.json beside it. */
declare const HEALTHGATE_VERSION: string | undefined;

function readVersion(): string {
  if (typeof HEALTHGATE_VERSION === 'string') return HEALTHGATE_VERSION;
  // dist/bin/healthgate.js → package.json two levels up.
  for (const candidate of [join(__dirname, '..', '..', 'package.json'), join(__dirname, '..', 'package.json')]) {
    try {
      return (JSON.parse(readFileSync(candidate, 'utf8')) as { version: string }).version;
    } catch {
      // try the next place
    }
  }
  return '0.0.0';
}

void main();
