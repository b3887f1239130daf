import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasPythonWebsockets } from '../helpers/python';
import { localCommand, startContainerCommand } from './container';
import { codeBlock } from './markdown';
import { spawnCli } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { httpGet, ROOT, waitForStatus, wsRoundTrip } from './support';

const README = join(ROOT, 'README.md');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const itWithPython = hasPythonWebsockets() ? it : it.skip;

describe("README's commands", () => {
  it('demo: `npm ci && npm run demo` starts healthgate in front of the demo app and names the port to connect to', async () => {
    expect(codeBlock(README, 'demo').text).toBe('npm ci && npm run demo');
    // `npm ci` is .ci/run's first step and `npm run build` ran before the tests (pretest): the
    // rest of the script runs here as written, with the public port from PORT=0 and the demo's
    // fixed internal port swapped for a free one.
    const script = pkg.scripts.demo;
    expect(script.startsWith('npm run build && ')).toBe(true);
    const backendPort = await freePort();
    const rest = script
      .slice('npm run build && '.length)
      .replaceAll('${PORT:-8080}', '0')
      .replace('--backend-port 8081', `--backend-port ${backendPort}`)
      .replaceAll(/(^|\s)node(?=\s)/g, `$1${process.execPath}`);
    expect(rest).toContain(String(backendPort));
    // Through a shell, as npm runs a script: SIGTERM to that process must reach healthgate (the
    // script execs it). Regression: without exec, the shell died and left healthgate and the
    // demo app running, holding the port.
    const demo = spawnCli([], { command: ['sh', '-c', rest], cwd: ROOT, env: { HEALTHGATE_HOST: '127.0.0.1' } });
    const startLine = await demo.waitForLine((l) => l.includes('healthgate listening'));
    const port = Number(/\bport=(\d+)/.exec(startLine)?.[1]);
    expect(port).toBeGreaterThan(0);
    await waitForStatus(port, '/health', 200);
    expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
    // The README sends browsers to /app: the demo's page, served by the app through healthgate.
    const page = await httpGet(port, '/app');
    expect(page.body).toContain('healthgate demo');
    await demo.stop();
    expect(await demo.exited).toEqual({ code: 0, signal: null });
  });

  it('usage: `node dist/healthgate.cjs ... -- node dist/demo.cjs` runs from a checkout after the build', async () => {
    const block = codeBlock(README, 'usage').text;
    const command = await localCommand(block.split(/\s+/));
    const gate = startContainerCommand(command, ROOT);
    await gate.listening();
    const port = gate.port;
    await waitForStatus(port, '/health', 200);
    expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
  });

  itWithPython('entrypoint: `healthgate --backend-port 8081 -- python app.py` with the Python example app', async () => {
    const block = codeBlock(README, 'entrypoint').text;
    expect(block).toBe('healthgate --backend-port 8081 -- python app.py');
    const mapped = await localCommand(block.split(/\s+/));
    const argv = [process.execPath, join(ROOT, 'bin', 'healthgate'), ...mapped.argv.slice(1)];
    const gate = startContainerCommand({ argv, notes: [] }, join(ROOT, 'docs', 'examples', 'railway-python'));
    await gate.listening();
    const port = gate.port;
    await waitForStatus(port, '/health', 200);
    const echo = await wsRoundTrip(port);
    expect(echo.text).toBe('hello through healthgate');
    expect(echo.binary).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));
    await gate.stop();
    expect(await gate.exited).toEqual({ code: 0, signal: null });
  });
});
