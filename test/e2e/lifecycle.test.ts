import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { defer, drainCleanup } from '../helpers/cleanup';
import { freePort } from '../helpers/raw';
import { within } from '../helpers/wait';

// start() embedded in a process of its own (the built dist/): once `exited` resolves, healthgate
// must leave nothing behind that keeps the process alive.

afterEach(drainCleanup);

const DIST = join(__dirname, '..', '..', 'dist', 'src');

/** Runs start(), shutdown(), awaits exited, then reports the process's active resources. */
const SCRIPT = `
const { EventEmitter } = require('node:events');
const { start } = require(${JSON.stringify(join(DIST, 'main.js'))});
const { parseConfig } = require(${JSON.stringify(join(DIST, 'config.js'))});
const { createLog } = require(${JSON.stringify(join(DIST, 'log.js'))});
(async () => {
  const outcome = parseConfig(['--port', '0', '--host', '127.0.0.1', '-b', process.argv[1], '--drain-timeout', '30000'], {});
  const gate = await start(outcome.config, { signals: new EventEmitter(), log: createLog({ level: 'error', format: 'json' }) });
  gate.shutdown('SIGTERM');
  const code = await gate.exited;
  setImmediate(() => process.stdout.write(JSON.stringify({ code, resources: process.getActiveResourcesInfo() }) + '\\n'));
})();
`;

// Regression: Promise.race([drained, sleep(drainTimeoutMs)]) once left the losing sleep's timer
// behind, so after a clean drain an embedding process stayed alive for the whole drain timeout
// (the CLI hid it with process.exit()).
it('after exited resolves, no timer is left (the drain-timeout sleep lost the race and must be cleared)', async () => {
  const child = spawn(process.execPath, ['-e', SCRIPT, String(await freePort())], { stdio: ['ignore', 'pipe', 'inherit'] });
  defer(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  await within(
    new Promise<void>((resolve) => child.stdout.on('data', () => stdout.includes('\n') && resolve())),
    10_000,
    'the report line',
  );
  const report = JSON.parse(stdout) as { code: number; resources: string[] };
  expect(report.code).toBe(0);
  expect(report.resources.filter((r) => r === 'Timeout')).toEqual([]);
  const [exitCode] = (await within(once(child, 'exit'), 3000, 'the process to exit by itself')) as [number];
  expect(exitCode).toBe(0);
});
