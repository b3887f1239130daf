import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WsBackend } from '../helpers/backends';
import { defer } from '../helpers/cleanup';
import { cliEnv, spawnCli } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { httpGet, ROOT, waitForStatus, wsRoundTrip } from './support';

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/** An empty folder holding one copy of `file`, removed after the test. */
function alone(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'healthgate-bundle-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, 'dist', file), join(dir, file));
  return dir;
}

describe('dist/healthgate.cjs, the single-file build', () => {
  it('prints the package version with no package.json or node_modules beside it', () => {
    const dir = alone('healthgate.cjs');
    expect(readdirSync(dir)).toEqual(['healthgate.cjs']);
    const out = execFileSync(process.execPath, ['healthgate.cjs', '--version'], { cwd: dir, env: cliEnv(), encoding: 'utf8' });
    expect(out.trim()).toBe(version);
  });

  it('answers health and pipes a WebSocket to a live backend when copied alone into an empty folder', async () => {
    const dir = alone('healthgate.cjs');
    const backend = await WsBackend.start();
    const gate = spawnCli(['--port', '0', '--host', '127.0.0.1', '--backend-port', String(backend.port), '--backend-host', '127.0.0.1'], {
      command: [process.execPath, 'healthgate.cjs'],
      cwd: dir,
      env: { NODE_PATH: '' },
    });
    await gate.listening();
    const port = gate.port;
    await waitForStatus(port, '/health', 200);
    expect(await httpGet(port, '/')).toEqual({ status: 200, body: 'ok\n' });
    const echo = await wsRoundTrip(port, '/');
    expect(echo.text).toBe('hello through healthgate');
    expect(echo.binary).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));
    await gate.stop();
    expect(await gate.exited).toEqual({ code: 0, signal: null });
  });

  it('runs the bundled demo app (dist/demo.cjs, ws inside) behind it in entrypoint mode, both files alone', async () => {
    const dir = alone('healthgate.cjs');
    copyFileSync(join(ROOT, 'dist', 'demo.cjs'), join(dir, 'demo.cjs'));
    const backendPort = await freePort();
    const gate = spawnCli(
      ['--port', '0', '--host', '127.0.0.1', '--backend-port', String(backendPort), '--', process.execPath, 'demo.cjs'],
      {
        command: [process.execPath, 'healthgate.cjs'],
        cwd: dir,
      },
    );
    await gate.listening();
    const port = gate.port;
    await waitForStatus(port, '/health', 200);
    const echo = await wsRoundTrip(port, '/');
    expect(echo.text).toBe('hello through healthgate');
    // The demo's page for browsers comes from the app itself: GET /app is not a health path.
    const page = await httpGet(port, '/app');
    expect(page.status).toBe(200);
    expect(page.body).toContain('healthgate demo');
    await gate.stop();
    expect(await gate.exited).toEqual({ code: 0, signal: null });
  });
});
