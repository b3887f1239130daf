import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDockerfile } from './dockerfile';
import { ROOT } from './support';

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
    throw new Error(`podman ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
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
    throw new Error(`scripts/base-images.sh ${majors.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** `podman build` of a Dockerfile with this repository as the context; returns seconds taken and the image's size. */
export async function buildImage(dockerfile: string, tag: string): Promise<{ seconds: number; megabytes: number }> {
  const started = Date.now();
  await podman(['build', '--isolation', 'chroot', '--pull=never', '-f', join(ROOT, dockerfile), '-t', tag, ROOT], 900_000);
  const seconds = (Date.now() - started) / 1000;
  const bytes = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
  return { seconds, megabytes: bytes / 1e6 };
}
