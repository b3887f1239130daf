import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseDockerfile } from './dockerfile';
import { defer } from '../helpers/cleanup';
import { freePort } from '../helpers/raw';
import { httpGet, ROOT, waitForStatus, wsRoundTrip } from './support';

// Real image builds with podman, as root, without a Docker engine or an image registry: the
// flags below are what works on CI's machine (runc, no systemd, chroot isolation for builds).

const run = promisify(execFile);

/** podman's global flags on CI's machine: runc as the runtime, cgroups without systemd. */
export const PODMAN = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];

/** Why podman cannot build and run images here, or undefined when it can (root, podman, debootstrap). */
export function podmanUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (the stand-in base images and podman flags here assume root)';
  for (const tool of ['podman', 'debootstrap']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (.ci/run installs it: apt-get install podman buildah debootstrap runc)`;
    }
  }
  return undefined;
}

/** Runs podman with CI's global flags; resolves with stdout, rejects with stderr in the message. */
export async function podman(args: readonly string[], timeoutMs = 600_000): Promise<string> {
  try {
    const { stdout } = await run('podman', [...PODMAN, ...args], { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`podman ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err });
  }
}

/** The majors of the `node:<major>-bookworm-slim` base images that these Dockerfiles start from. */
export function nodeBaseMajors(dockerfiles: readonly string[]): string[] {
  const majors = new Set<string>();
  for (const file of dockerfiles) {
    for (const stage of parseDockerfile(readFileSync(join(ROOT, file), 'utf8'))) {
      const match = /^node:(\d+)-bookworm-slim$/.exec(stage.from);
      if (match) majors.add(match[1]);
    }
  }
  return [...majors];
}

/** Builds (or finds current) the stand-in base images with scripts/base-images.sh. */
export async function ensureBaseImages(majors: readonly string[]): Promise<void> {
  try {
    await run(join(ROOT, 'scripts', 'base-images.sh'), [...majors], { cwd: ROOT, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`scripts/base-images.sh ${majors.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`, { cause: err });
  }
}

/**
 * `podman build` of a Dockerfile (a path from this repository's root, or absolute) with `context`
 * (this repository by default); returns the seconds taken and the image's size.
 */
export async function buildImage(dockerfile: string, tag: string, context = ROOT): Promise<{ seconds: number; megabytes: number }> {
  const started = Date.now();
  await podman(['build', '--isolation', 'chroot', '--pull=never', '-f', resolve(ROOT, dockerfile), '-t', tag, context], 900_000);
  const seconds = (Date.now() - started) / 1000;
  const bytes = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
  return { seconds, megabytes: bytes / 1e6 };
}

/** Every process in a container: name and real uid, read from /proc by a process inside it. */
async function processes(container: string): Promise<Array<{ pid: number; name: string; uid: number }>> {
  const out = await podman([
    'exec',
    container,
    'sh',
    '-c',
    'for s in /proc/[0-9]*/status; do echo "$s $(grep -E "^(Name|Uid):" "$s" | tr "\\n" " ")"; done',
  ]);
  return out
    .trim()
    .split('\n')
    .map((line) => /^\/proc\/(\d+)\/status Name:\s+(\S+)\s+Uid:\s+(\d+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), name: m[2], uid: Number(m[3]) }));
}

/**
 * Runs an image as a platform would (its port 8080 published on loopback, explicit ulimits) and
 * checks it: /health answers 200, a WebSocket echoes, tini is PID 1 with healthgate and the app
 * (two node processes) under it, every process runs as `uid` when given, and `podman stop`
 * (SIGTERM, SIGKILL 10 s later) ends in exit code 0.
 */
export async function checkContainer(tag: string, expected: { uid?: number } = {}): Promise<void> {
  const port = await freePort();
  const name = `healthgate-test-${process.pid}-${port}`;
  await podman([
    'run',
    '-d',
    '--name',
    name,
    '--ulimit',
    'nofile=4096:4096',
    '--ulimit',
    'nproc=4096:4096',
    '-p',
    `127.0.0.1:${port}:8080`,
    tag,
  ]);
  defer(() => podman(['rm', '-f', '-t', '0', name]).then(() => undefined));

  // The image starts node twice: a minute on a loaded 2-core machine is 5× what it takes.
  await waitForStatus(port, '/health', 200, 60_000);
  expect(await httpGet(port, '/health')).toEqual({ status: 200, body: 'ok\n' });
  const echo = await wsRoundTrip(port, '/');
  expect(echo.text).toBe('hello through healthgate');
  expect(echo.binary).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));

  const procs = await processes(name);
  expect(procs.find((p) => p.pid === 1)?.name).toBe('tini');
  // healthgate and the app are node processes (Node 26 names its main thread node-MainThread).
  expect(procs.filter((p) => /^node\b/.test(p.name)).length).toBe(2);
  if (expected.uid !== undefined) expect(procs.filter((p) => p.uid !== expected.uid)).toEqual([]);

  // podman stop sends SIGTERM and waits 10 s before SIGKILL, which would show as 137: 0 means
  // healthgate drained and the app exited cleanly.
  await podman(['stop', name]);
  expect((await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).trim()).toBe('0');
}
