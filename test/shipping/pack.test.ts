import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeBlock } from './markdown';
import { WsBackend } from '../helpers/backends';
import { cliEnv, spawnCli } from '../helpers/cli';
import { httpGet, ROOT, waitForStatus, wsRoundTrip } from './support';

// `npm pack`, then `npm install -g` of the tarball into a private prefix, as on a machine with
// only Node: the README's "Install as a package" block, step by step.

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  dependencies: Record<string, string>;
};
const NPM_ENV = {
  npm_config_prefer_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

let work: string;
let tarball: string;
let packedFiles: string[];
let prefix: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'healthgate-pack-'));
  // The README's `npm pack` builds first (prepack); the tests' pretest has built already, and a
  // second build here would rewrite dist/ under the other test files' feet.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...NPM_ENV },
  });
  const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, info.filename);
  packedFiles = info.files.map((f) => f.path);
  prefix = join(work, 'prefix');
  execFileSync('npm', ['install', '-g', '--prefix', prefix, tarball], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, ...NPM_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the npm package', () => {
  it("is the README's healthgate-<version>.tgz, and the README installs that file", () => {
    expect(tarball.endsWith(`${pkg.name}-${pkg.version}.tgz`)).toBe(true);
    const block = codeBlock(join(ROOT, 'README.md'), 'pack').text.split('\n');
    expect(block).toEqual(['npm pack', `npm install -g ./${pkg.name}-${pkg.version}.tgz`, 'healthgate --version']);
  });

  it('holds the bin, the compiled CLI, the single-file build and no tests or TypeScript sources', () => {
    for (const file of ['package.json', 'bin/healthgate', 'dist/bin/healthgate.js', 'dist/src/main.js', 'dist/healthgate.cjs']) {
      expect(packedFiles).toContain(file);
    }
    expect(packedFiles.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.endsWith('.ts'))).toEqual([]);
  });

  it('installs its runtime dependencies, and the installed bin prints the version', () => {
    const installed = join(prefix, 'lib', 'node_modules', pkg.name);
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(installed, 'node_modules', dep))).toBe(true);
    const bin = join(prefix, 'bin', 'healthgate');
    expect(execFileSync(bin, ['--version'], { env: cliEnv(), encoding: 'utf8' }).trim()).toBe(pkg.version);
  });

  it('the installed bin answers health and pipes a WebSocket', async () => {
    const backend = await WsBackend.start();
    const gate = spawnCli(['--port', '0', '--host', '127.0.0.1', '--backend-port', String(backend.port)], {
      command: [join(prefix, 'bin', 'healthgate')],
      cwd: work,
    });
    await gate.listening();
    const port = gate.port;
    await waitForStatus(port, '/health', 200);
    expect(await httpGet(port, '/')).toEqual({ status: 200, body: 'ok\n' });
    expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
  });
});
