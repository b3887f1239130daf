import { execFileSync } from 'node:child_process';

/** Debian's interpreter: `python3` on PATH may be another one that does not see Debian's packages. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** True when Debian's python3 has the websockets package (.ci/run installs python3-websockets). */
export function hasPythonWebsockets(): boolean {
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', 'import websockets'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
