import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEBIAN_PYTHON } from '../helpers/python';
import { spawnCli, type CliProcess } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { ROOT } from './support';

/** Debian's tini, installed by .ci/run; without it the commands run without their init. */
export const TINI = '/usr/bin/tini';
/** Where the image's files are on this machine: /app/*.cjs are the local build's bundles. */
function localPath(containerPath: string, distDir: string): string {
  const match = /^\/app\/(healthgate|demo)\.cjs$/.exec(containerPath);
  return match ? join(distDir, `${match[1]}.cjs`) : containerPath;
}

/** A container's command (ENTRYPOINT + CMD, or a start command) mapped onto this machine. */
export interface LocalCommand {
  readonly argv: readonly string[];
  /** What had to change beyond paths, for the test's own record. */
  readonly notes: readonly string[];
}

/**
 * Maps a container's argv onto this machine: `tini` → Debian's tini (dropped with a note when it is
 * missing), `node` → this node, `python` → Debian's python3, `/app/*.cjs` → `distDir`, and the fixed
 * backend port 8081 → a free port, since tests choose their ports at run time.
 */
export async function localCommand(argv: readonly string[], distDir = join(ROOT, 'dist')): Promise<LocalCommand> {
  const notes: string[] = [];
  let args = [...argv];
  if (args[0] === 'tini') {
    if (existsSync(TINI)) args[0] = TINI;
    else {
      notes.push(`${TINI} is missing (.ci/run installs it with apt): ran without tini`);
      args = args.slice(args[1] === '--' ? 2 : 1);
    }
  }
  const backendPort = String(await freePort());
  args = args.map((arg, i) => {
    if (arg === 'node') return process.execPath;
    if (arg === 'python' || arg === 'python3') return DEBIAN_PYTHON;
    if (args[i - 1] === '--backend-port' && arg === '8081') return backendPort;
    if (arg === '--backend-port=8081') return `--backend-port=${backendPort}`;
    return localPath(arg, distDir);
  });
  return { argv: args, notes };
}

/**
 * Starts a mapped container command on loopback: PORT=0 (the start line names the real port) and
 * HEALTHGATE_HOST=127.0.0.1, as a platform would set them through the environment.
 */
export function startContainerCommand(command: LocalCommand, cwd: string, env: Record<string, string> = {}): CliProcess {
  return spawnCli([], { command: command.argv, cwd, env: { ...env, PORT: '0', HEALTHGATE_HOST: '127.0.0.1' } });
}
