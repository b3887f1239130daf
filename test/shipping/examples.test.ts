import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEBIAN_PYTHON, hasPythonWebsockets } from '../helpers/python';
import { localCommand, startContainerCommand } from './container';
import { dockerignore, only, parseDockerfile, readDockerfile, type Stage } from './dockerfile';
import { codeBlock } from './markdown';
import { httpGet, ROOT, waitForStatus, wsFirstMessage, wsRoundTrip } from './support';

// The deployment examples in docs/: their container commands, run here with the image's paths
// mapped onto the local build (no Docker engine, no Railway, no cluster on this machine).

const EXAMPLES = join(ROOT, 'docs', 'examples');

// .ci/run installs Debian's python3-websockets; elsewhere the Python cases say why they skip.
const withPython = hasPythonWebsockets();
const itWithPython = withPython ? it : it.skip;
if (!withPython)
  console.warn(`${DEBIAN_PYTHON} has no websockets module: the Python examples are skipped (apt-get install python3-websockets)`);

function exampleStages(name: string): Stage[] {
  return parseDockerfile(readFileSync(join(EXAMPLES, name, 'Dockerfile'), 'utf8'));
}

/** ENTRYPOINT + CMD of a Dockerfile's last stage. */
function containerArgv(stages: Stage[]): string[] {
  const last = stages.at(-1)!;
  return [...only(last, 'ENTRYPOINT')[0].args!, ...only(last, 'CMD')[0].args!];
}

/** Starts a container command here and checks health and a WebSocket echo through it. */
async function checkHealthAndEcho(argv: readonly string[], cwd: string): Promise<void> {
  const command = await localCommand(argv);
  if (command.notes.length > 0) console.warn(command.notes.join('; '));
  const container = startContainerCommand(command, cwd);
  await container.listening();
  const port = container.port;
  await waitForStatus(port, '/health', 200);
  expect(await httpGet(port, '/health')).toEqual({ status: 200, body: 'ok\n' });
  const echo = await wsRoundTrip(port, '/');
  expect(echo.text).toBe('hello through healthgate');
  expect(echo.binary).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));
  await container.stop();
  expect(await container.exited).toEqual({ code: 0, signal: null });
}

describe('docs/examples: the app images build healthgate from this repository', () => {
  const build = readDockerfile(ROOT).find((s) => s.name === 'build')!;
  const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));

  it.each(['railway-python', 'railway-node'])(
    "%s: its first stage is the Dockerfile's build, and it copies only the bundle and node",
    (name) => {
      const stages = exampleStages(name);
      expect(stages[0].name).toBe('healthgate');
      expect(stages[0].from).toBe(build.from);
      expect(only(stages[0], 'RUN').map((r) => r.text)).toEqual(only(build, 'RUN').map((r) => r.text));
      const copies = only(stages.at(-1)!, 'COPY').filter((c) => c.text.startsWith('--from=healthgate'));
      const sources = copies.map((c) => c.text.split(/\s+/)[1]);
      expect(sources).toContain('/src/dist/healthgate.cjs');
      for (const source of sources) expect(['/src/dist/healthgate.cjs', '/usr/local/bin/node']).toContain(source);
      // tini is Debian's, installed in the app's own (Debian-based) stage.
      expect(only(stages.at(-1)!, 'RUN').some((r) => /apt-get install .*\btini\b/.test(r.text))).toBe(true);
    },
  );

  it.each(['railway-python', 'railway-node'])(
    '%s: every file it COPYs from the context exists and .dockerignore lets it through',
    (name) => {
      const files = exampleStages(name)
        .flatMap((stage) => only(stage, 'COPY'))
        .filter((c) => !c.text.startsWith('--from='))
        .flatMap((c) => c.text.split(/\s+/).slice(0, -1));
      expect(files).toContain(`docs/examples/${name}/${name === 'railway-node' ? 'server.js' : 'app.py'}`);
      for (const file of files)
        expect({ file, exists: existsSync(join(ROOT, file)), ignored: ignored(file) }).toEqual({ file, exists: true, ignored: false });
    },
  );

  it('says how to build it as pasted: from the root of this repository, with -f', () => {
    for (const name of ['railway-python', 'railway-node']) {
      const text = readFileSync(join(EXAMPLES, name, 'Dockerfile'), 'utf8');
      expect(text).toContain(`docker build -f docs/examples/${name}/Dockerfile`);
    }
  });
});

describe('docs/examples: the containers run', () => {
  itWithPython('railway-python: ENTRYPOINT + CMD answer /health and echo over WebSocket', async () => {
    await checkHealthAndEcho(containerArgv(exampleStages('railway-python')), join(EXAMPLES, 'railway-python'));
  });

  it('railway-node: ENTRYPOINT + CMD answer /health and echo over WebSocket', async () => {
    await checkHealthAndEcho(containerArgv(exampleStages('railway-node')), join(EXAMPLES, 'railway-node'));
  });

  itWithPython("railway.md's start command keeps tini and healthgate in front of the app", async () => {
    const block = codeBlock(join(ROOT, 'docs', 'railway.md'), 'railway-start-command').text;
    // Railway runs a start command in exec form: split on spaces, no shell.
    const argv = block.trim().split(/\s+/);
    expect(argv.slice(0, 4)).toEqual(['tini', '--', 'node', '/app/healthgate.cjs']);
    await checkHealthAndEcho(argv, join(EXAMPLES, 'railway-python'));
  });
});

describe('docs/examples/kubernetes/pod.yaml', () => {
  interface Probe {
    httpGet: { path: string; port: string | number };
  }
  interface Container {
    args: string[];
    env: Array<{ name: string; value: string }>;
    ports: Array<{ name: string; containerPort: number }>;
    readinessProbe: Probe;
    livenessProbe: Probe;
  }
  const pod = parseYaml(readFileSync(join(EXAMPLES, 'kubernetes', 'pod.yaml'), 'utf8')) as {
    kind: string;
    spec: { terminationGracePeriodSeconds: number; containers: Container[] };
  };
  const [container] = pod.spec.containers;
  const flag = (name: string): string | undefined => container.args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

  it('probes the port healthgate listens on: readiness on a readiness path, liveness on a live path', () => {
    expect(pod.kind).toBe('Pod');
    const port = container.env.find((e) => e.name === 'PORT')?.value;
    const named = container.ports.find((p) => p.name === container.readinessProbe.httpGet.port);
    expect(String(named?.containerPort)).toBe(port);
    expect(container.livenessProbe.httpGet.port).toBe(container.readinessProbe.httpGet.port);
    expect(container.readinessProbe.httpGet.path).toBe(flag('health-path'));
    expect(container.livenessProbe.httpGet.path).toBe(flag('live-path'));
  });

  it('fits the shutdown delay and the drain timeout inside terminationGracePeriodSeconds, with room to exit', () => {
    const budgetMs = Number(flag('shutdown-delay')) + Number(flag('drain-timeout'));
    expect(budgetMs).toBeGreaterThan(0);
    expect(budgetMs + 2000).toBeLessThanOrEqual(pod.spec.terminationGracePeriodSeconds * 1000);
  });

  it("runs as the image's ENTRYPOINT + args: both probes 200, then on SIGTERM readiness 503, liveness 200, still accepting", async () => {
    const entrypoint = only(readDockerfile(ROOT).at(-1)!, 'ENTRYPOINT')[0].args!;
    const command = await localCommand([...entrypoint, ...container.args]);
    const gate = startContainerCommand(command, ROOT);
    await gate.listening();
    const port = gate.port;
    const readiness = container.readinessProbe.httpGet.path;
    const liveness = container.livenessProbe.httpGet.path;
    await waitForStatus(port, readiness, 200);
    expect((await httpGet(port, liveness)).status).toBe(200);
    // The pod is deleted: SIGTERM reaches healthgate through tini.
    gate.child.kill('SIGTERM');
    await gate.waitForLine((l) => l.includes('"message":"shutdown delay"'));
    expect(await httpGet(port, readiness)).toEqual({ status: 503, body: 'unavailable: draining\n' });
    expect((await httpGet(port, liveness)).status).toBe(200);
    // During the delay a client that still arrives is piped to the app.
    expect((await wsRoundTrip(port)).text).toBe('hello through healthgate');
    await gate.stop();
  });
});

describe("docs/examples/client-ip: the app reads the client's address from the handshake", () => {
  const CASES = [
    { app: 'client_ip.py', command: ['python', 'client_ip.py'], needsPython: true },
    { app: 'client-ip.js', command: ['node', 'client-ip.js'], needsPython: false },
  ];

  for (const { app, command, needsPython } of CASES) {
    (needsPython ? itWithPython : it)(
      `${app}: X-Real-IP and X-Forwarded-For reach the app through healthgate unchanged; without them it sees 127.0.0.1`,
      async () => {
        const argv = ['node', '/app/healthgate.cjs', '--backend-port', '8081', '--', ...command];
        const gate = startContainerCommand(await localCommand(argv), join(EXAMPLES, 'client-ip'));
        await gate.listening();
        const port = gate.port;
        await waitForStatus(port, '/health', 200);
        // As Railway's edge sends it.
        expect(await wsFirstMessage(port, { 'X-Real-IP': '203.0.113.7', 'X-Forwarded-For': '198.51.100.1, 203.0.113.7' })).toBe(
          '203.0.113.7',
        );
        // A list whose first entry the client wrote: the last one is the proxy's.
        expect(await wsFirstMessage(port, { 'X-Forwarded-For': '198.51.100.9, 192.0.2.4' })).toBe('192.0.2.4');
        // What the app sees without the edge's headers: healthgate's own connection.
        expect(await wsFirstMessage(port)).toBe('127.0.0.1');
      },
    );
  }
});
