import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localCommand, startContainerCommand, TINI } from './container';
import { applyCopy, copyContext, dockerignore, only, readDockerfile, type Stage } from './dockerfile';
import { codeBlock } from './markdown';
import { httpGet, ROOT, waitForStatus, wsRoundTrip } from './support';

// No Docker engine runs here. What can be checked without one: the build stage's steps are the
// README's and succeed here in order on the context that .dockerignore lets through, and the final
// stage's ENTRYPOINT + CMD start and answer, with the image's paths mapped onto that build.

const stages = readDockerfile(ROOT);
const build = stages.find((s) => s.name === 'build')!;
const final = stages.at(-1)!;
const runCommands = (stage: Stage): string[] => only(stage, 'RUN').map((i) => i.text);

/** The emulated build stage's root folder: /src inside it is the build's WORKDIR. */
let buildRoot: string;
let buildLog = '';

beforeAll(() => {
  buildRoot = mkdtempSync(join(tmpdir(), 'healthgate-docker-build-'));
  const context = mkdtempSync(join(tmpdir(), 'healthgate-docker-context-'));
  try {
    copyContext(ROOT, context, dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8')));
    let workdir = '/';
    for (const step of build.instructions) {
      switch (step.keyword) {
        case 'WORKDIR':
          workdir = step.text;
          mkdirSync(join(buildRoot, workdir), { recursive: true });
          break;
        case 'COPY':
          applyCopy(step.text, context, buildRoot, workdir);
          break;
        case 'RUN':
          // The command as written; only npm's cache is shared with this machine.
          buildLog += `$ ${step.text}\n`;
          buildLog += execSync(step.text, {
            cwd: join(buildRoot, workdir),
            env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' },
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          break;
        default:
          throw new Error(`the build stage emulation does not know ${step.keyword}`);
      }
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}, 300_000);

afterAll(() => rmSync(buildRoot, { recursive: true, force: true }));

describe('Dockerfile', () => {
  it("the build stage runs the README's build commands, in the README's order", () => {
    const readme = codeBlock(join(ROOT, 'README.md'), 'build-steps');
    const readmeCommands = readme.text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(runCommands(build)).toEqual(readmeCommands);
    expect(runCommands(build)).toEqual(['npm ci', 'npm run build']);
  });

  it('those commands succeed here on the build context that .dockerignore lets through', () => {
    for (const copy of only(final, 'COPY').filter((c) => c.text.startsWith('--from=build'))) {
      const sources = copy.text.split(/\s+/).slice(1, -1);
      for (const source of sources) expect(existsSync(join(buildRoot, source))).toBe(true);
    }
    expect(buildLog).toContain('$ npm run build');
  });

  it('.dockerignore keeps node_modules, dist and .git out of the context', () => {
    const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    for (const path of ['node_modules', 'node_modules/ws/index.js', 'dist/healthgate.cjs', '.git/HEAD', 'healthgate-0.1.0.tgz']) {
      expect(ignored(path)).toBe(true);
    }
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/main.ts', 'bin/healthgate.ts', 'demo/echo-server.ts', 'scripts/bundle.js']) {
      expect(ignored(path)).toBe(false);
    }
  });

  it('the final stage is node, tini from apt, the two bundles and a non-root user', () => {
    expect(stages).toHaveLength(2);
    expect(final.from).toMatch(/^node:20-[a-z]+-slim$/);
    expect(runCommands(final).join('\n')).toMatch(/apt-get install -y --no-install-recommends tini\b/);
    const copies = only(final, 'COPY').map((c) => c.text);
    expect(copies).toEqual(['--from=build /src/dist/healthgate.cjs /src/dist/demo.cjs /app/']);
    const user = only(final, 'USER').map((u) => u.text);
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(only(final, 'ENTRYPOINT')[0].args).toEqual(['tini', '--', 'node', '--max-semi-space-size=2', '/app/healthgate.cjs']);
    expect(only(final, 'CMD')[0].args).toEqual(['--backend-port', '8081', '--', 'node', '/app/demo.cjs']);
  });

  it('ENTRYPOINT + CMD, on the emulated build, answer GET /health with 200 and echo over WebSocket', async () => {
    const argv = [...only(final, 'ENTRYPOINT')[0].args!, ...only(final, 'CMD')[0].args!];
    const command = await localCommand(argv, join(buildRoot, 'src', 'dist'));
    if (command.notes.length > 0) console.warn(`Dockerfile ENTRYPOINT: ${command.notes.join('; ')}`);
    if (existsSync(TINI)) expect(command.argv[0]).toBe(TINI);
    const container = startContainerCommand(command, buildRoot, { NODE_ENV: 'production' });
    await container.listening();
    const port = container.port;
    await waitForStatus(port, '/health', 200);
    expect(await httpGet(port, '/health')).toEqual({ status: 200, body: 'ok\n' });
    const echo = await wsRoundTrip(port);
    expect(echo.text).toBe('hello through healthgate');
    await container.stop();
    // tini passes on healthgate's exit code: the demo app exits 0 on SIGTERM.
    expect(await container.exited).toEqual({ code: 0, signal: null });
  });
});
