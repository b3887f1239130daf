import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseToml } from './toml';
import { parse as parseYaml } from 'yaml';
import { DEBIAN_PYTHON, hasPythonWebsockets } from '../helpers/python';
import { localCommand, startContainerCommand, TINI } from './container';
import { only, parseDockerfile } from './dockerfile';
import { codeBlock } from './markdown';
import { defer } from '../helpers/cleanup';
import { spawnCli, type CliProcess } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { httpGet, ROOT, waitForStatus, wsRoundTrip } from './support';

// docs/recipes.md, recipe by recipe, as far as this machine allows: no Railway, Render, Fly or
// Railpack here, so each platform's file is checked against what healthgate needs, and the
// commands it would run are run here.

const RECIPES = join(ROOT, 'docs', 'recipes.md');
const EXAMPLES = join(ROOT, 'docs', 'examples');
/** The Node lines CI tests: the ones scripts/node-line.sh pins. */
const CI_LINES = [...readFileSync(join(ROOT, 'scripts', 'node-line.sh'), 'utf8').matchAll(/\[(\d+)\]=\d+\.\d+\.\d+/g)].map((m) => m[1]);

const withPython = hasPythonWebsockets();
const itWithPython = withPython ? it : it.skip;
if (!withPython)
  console.warn(`${DEBIAN_PYTHON} has no websockets module: the Python recipes are skipped (apt-get install python3-websockets)`);

/** ENTRYPOINT + CMD of the Python example, which the Render and Fly recipes build. */
function pythonExampleArgv(dockerfile: string): string[] {
  const last = parseDockerfile(readFileSync(join(ROOT, dockerfile), 'utf8')).at(-1)!;
  return [...only(last, 'ENTRYPOINT')[0].args!, ...only(last, 'CMD')[0].args!];
}

/**
 * A folder laid out like the app's: the Python example app, healthgate.cjs from this build, and
 * bin/ with node, python and tini under the names a start command uses.
 */
function appFolder(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'healthgate-recipe-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, 'dist', 'healthgate.cjs'), join(dir, 'healthgate.cjs'));
  copyFileSync(join(EXAMPLES, 'railway-python', 'app.py'), join(dir, 'app.py'));
  mkdirSync(join(dir, 'bin'));
  symlinkSync(process.execPath, join(dir, 'bin', 'node'));
  symlinkSync(DEBIAN_PYTHON, join(dir, 'bin', 'python'));
  expect({ tini: existsSync(TINI) }).toEqual({ tini: true });
  symlinkSync(TINI, join(dir, 'bin', 'tini'));
  return { dir, path: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` };
}

/** Runs shell text with bash, as a platform runs a start command, in its own process group. */
function startShell(text: string, cwd: string, env: Record<string, string>): CliProcess {
  const child = spawnCli([], { command: ['/bin/bash', '-c', text], cwd, env, detached: true });
  // An app started with `&` is not tini's to signal: SIGTERM the whole group at cleanup (tini
  // passes it on to healthgate, which runs in a group of its own); then stop() waits for the exit.
  const pid = child.child.pid!;
  defer(() => {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  return child;
}

describe('recipes.md: any Dockerfile, three lines', () => {
  const lines = codeBlock(RECIPES, 'any-dockerfile').text.split('\n');
  const [copyNode, addBundle, installTini, entrypoint, cmd] = lines;

  it('node from an official image of a line CI tests, healthgate.cjs from the release with its checksum, tini', () => {
    expect(lines).toHaveLength(5);
    const major = /^COPY --from=node:(\d+)-bookworm-slim \/usr\/local\/bin\/node \/usr\/local\/bin\/node$/.exec(copyNode)?.[1];
    expect(CI_LINES).toContain(major);
    expect(addBundle).toMatch(
      /^ADD --checksum=sha256:\S.* https:\/\/github\.com\/\S+\/healthgate\/releases\/download\/v\d+\.\d+\.\d+\/healthgate\.cjs \/app\/healthgate\.cjs$/,
    );
    expect(installTini).toMatch(/apt-get install -y --no-install-recommends tini libatomic1\b/);
    // The same ENTRYPOINT as the example images, so the rest of the docs apply unchanged.
    const example = parseDockerfile(readFileSync(join(EXAMPLES, 'railway-python', 'Dockerfile'), 'utf8')).at(-1)!;
    expect(JSON.parse(entrypoint.replace(/^ENTRYPOINT /, ''))).toEqual(only(example, 'ENTRYPOINT')[0].args);
    expect(cmd).toMatch(/^CMD \[/);
  });
  // Built with podman and run: test/shipping/image.test.ts, with the other real images.
});

describe('recipes.md: Railway with Railpack', () => {
  const config = JSON.parse(readFileSync(join(EXAMPLES, 'railpack-python', 'railpack.json'), 'utf8')) as {
    packages: Record<string, string>;
    deploy: { aptPackages: string[]; startCommand: string };
  };

  it('asks mise for a Node line that CI tests and apt for tini, and sets nothing else', () => {
    expect(Object.keys(config).sort()).toEqual(['$schema', 'deploy', 'packages']);
    expect(CI_LINES).toContain(config.packages.node);
    expect(config.deploy.aptPackages).toEqual(['tini']);
    expect(config.deploy.startCommand).toMatch(/^exec tini -- node .*healthgate\.cjs --backend-port 8081 -- python app\.py$/);
  });

  itWithPython(
    'its start command, run by bash -c as a Railpack image runs it, puts tini first and answers /health and a WebSocket',
    async () => {
      const { dir, path } = appFolder();
      const backendPort = await freePort();
      const command = config.deploy.startCommand.replace('--backend-port 8081', `--backend-port ${backendPort}`);
      expect(command).not.toBe(config.deploy.startCommand);
      const gate = startShell(command, dir, { PATH: path, PORT: '0', HEALTHGATE_HOST: '127.0.0.1' });
      await gate.listening();
      const port = gate.port;
      // The process Railway signals is tini, not bash.
      expect(readFileSync(`/proc/${gate.child.pid}/comm`, 'utf8').trim()).toBe('tini');
      await waitForStatus(port, '/health', 200);
      expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
      await gate.stop();
      expect(await gate.exited).toEqual({ code: 0, signal: null });
    },
  );
});

describe('recipes.md: Render', () => {
  const blueprint = parseYaml(readFileSync(join(EXAMPLES, 'render', 'render.yaml'), 'utf8')) as {
    services: Array<{
      type: string;
      runtime: string;
      dockerfilePath: string;
      dockerContext: string;
      healthCheckPath: string;
      maxShutdownDelaySeconds: number;
      envVars: Array<{ key: string; value: string }>;
    }>;
  };
  const [svc] = blueprint.services;
  const env = Object.fromEntries(svc.envVars.map((v) => [v.key, v.value]));

  it('builds an example Dockerfile from the root, checks a readiness path, and drains inside maxShutdownDelaySeconds', () => {
    expect(svc).toMatchObject({ type: 'web', runtime: 'docker', dockerContext: '.' });
    expect(existsSync(join(ROOT, svc.dockerfilePath))).toBe(true);
    // healthgate's default readiness paths (SPEC: Command line).
    expect(['/', '/health']).toContain(svc.healthCheckPath);
    const drainMs = Number(env.HEALTHGATE_DRAIN_TIMEOUT);
    expect(drainMs).toBeGreaterThan(0);
    expect(drainMs + 2000).toBeLessThanOrEqual(svc.maxShutdownDelaySeconds * 1000);
  });

  itWithPython("the Dockerfile's command runs with the Blueprint's variables and answers its health check", async () => {
    const gate = startContainerCommand(await localCommand(pythonExampleArgv(svc.dockerfilePath)), join(EXAMPLES, 'railway-python'), env);
    await gate.listening();
    const port = gate.port;
    await waitForStatus(port, svc.healthCheckPath, 200);
    expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
  });
});

describe('recipes.md: Fly.io', () => {
  const fly = parseToml(readFileSync(join(EXAMPLES, 'fly', 'fly.toml'), 'utf8')) as {
    kill_signal: string;
    kill_timeout: number;
    env: Record<string, string>;
    services: Array<{ internal_port: number; http_checks: Array<{ path: string; method: string }> }>;
  };
  const dockerfile = /--dockerfile (\S+)/.exec(readFileSync(join(EXAMPLES, 'fly', 'fly.toml'), 'utf8'))![1];

  it('stops with SIGTERM and waits longer than the drain; the proxy and the check reach healthgate', () => {
    expect(fly.kill_signal).toBe('SIGTERM');
    // healthgate's default drain is 10 s (SPEC: --drain-timeout); 2 s for the app's own exit.
    expect(fly.kill_timeout * 1000).toBeGreaterThanOrEqual(10_000 + 2000);
    const [service] = fly.services;
    expect(String(service.internal_port)).toBe(fly.env.PORT);
    expect(['/', '/health']).toContain(service.http_checks[0].path);
    expect(existsSync(join(ROOT, dockerfile))).toBe(true);
  });

  itWithPython(
    "after a WebSocket echo, a SIGTERM to the Dockerfile's command ends in exit 0 within kill_timeout",
    async () => {
      const gate = startContainerCommand(await localCommand(pythonExampleArgv(dockerfile)), join(EXAMPLES, 'railway-python'));
      await gate.listening();
      const port = gate.port;
      await waitForStatus(port, fly.services[0].http_checks[0].path, 200);
      expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
      const started = Date.now();
      gate.child.kill(fly.kill_signal as NodeJS.Signals);
      expect(await gate.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(fly.kill_timeout * 1000);
    },
    60_000,
  );
});

describe('recipes.md: without entrypoint mode', () => {
  const block = codeBlock(RECIPES, 'separate').text;

  it('gives the app another PORT than the platform gives healthgate', () => {
    expect(block.split('\n')).toEqual(['PORT=8081 python app.py &', 'exec tini -- node healthgate.cjs --backend-port 8081']);
  });

  /** Runs the recipe's lines with a platform's fixed PORT; 8081 becomes a free port. */
  async function runRecipe(text: string): Promise<{ port: number; gate: CliProcess }> {
    const { dir, path } = appFolder();
    const [port, backendPort] = [await freePort(), await freePort()];
    const gate = startShell(text.replaceAll('8081', String(backendPort)), dir, {
      PATH: path,
      PORT: String(port),
      HEALTHGATE_HOST: '127.0.0.1',
    });
    return { port, gate };
  }

  itWithPython('as written: /health answers 200 and a WebSocket echoes', async () => {
    const { port } = await runRecipe(block);
    await waitForStatus(port, '/health', 200);
    expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
  });

  itWithPython('the trap: without PORT=8081 the app takes the public port too, and /health never answers 200', async () => {
    const trap = block.replace(/^PORT=8081 /, '');
    expect(trap).not.toBe(block);
    const { port, gate } = await runRecipe(trap);
    // Both bind the platform's port, and the second to try fails and says so: healthgate exits
    // ("cannot listen"), or Python raises "Address already in use" and healthgate's backend port
    // stays empty. Either is for good: /health is the app's 426, or healthgate's 503, never 200.
    const loser = await gate.until('a bind failure', () => {
      const output = [...gate.stderrLines, ...gate.stdoutLines].join('\n');
      if (/cannot listen: .*EADDRINUSE/.test(output)) return 'healthgate';
      if (/address already in use/i.test(output)) return 'app';
      return undefined;
    });
    const status = await httpGet(port, '/health').then(
      (answer) => answer.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect({ loser, status }).toEqual({ loser, status: loser === 'healthgate' ? 426 : 503 });
  });
});
