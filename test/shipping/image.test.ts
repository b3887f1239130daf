import { buildImage, ensureBaseImages, nodeBaseMajors, podman, podmanUnavailable } from './podman';
import { defer, freePort, httpGet, waitForStatus, wsRoundTrip } from './support';

// The real thing: `podman build` of the Dockerfile and of the Node example's Dockerfile, each
// image run as a platform would run it (PORT published, a SIGTERM to stop it). The base images
// are stand-ins built by scripts/base-images.sh (no image registry is reachable here).

const IMAGES = [
  { name: 'Dockerfile', dockerfile: 'Dockerfile', tag: 'localhost/healthgate-test/healthgate:latest' },
  { name: 'docs/examples/railway-node', dockerfile: 'docs/examples/railway-node/Dockerfile', tag: 'localhost/healthgate-test/railway-node:latest' },
];

const unavailable = podmanUnavailable();
if (unavailable) console.warn(`SKIPPED the real image builds: ${unavailable}`);
const describeWithPodman = unavailable ? describe.skip : describe;

/** Every process in the container: name and real uid, read from /proc by a process inside it. */
async function processes(container: string): Promise<Array<{ pid: number; name: string; uid: number }>> {
  const out = await podman(['exec', container, 'sh', '-c', 'for s in /proc/[0-9]*/status; do echo "$s $(grep -E "^(Name|Uid):" "$s" | tr "\\n" " ")"; done']);
  return out
    .trim()
    .split('\n')
    .map((line) => /^\/proc\/(\d+)\/status Name:\s+(\S+)\s+Uid:\s+(\d+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), name: m[2], uid: Number(m[3]) }));
}

describeWithPodman('real image builds (podman)', () => {
  beforeAll(async () => {
    await ensureBaseImages(nodeBaseMajors(IMAGES.map((i) => i.dockerfile)));
  }, 900_000);

  describe.each(IMAGES)('$name', ({ name, dockerfile, tag }) => {
    beforeAll(async () => {
      const { seconds, megabytes } = await buildImage(dockerfile, tag);
      console.log(`${name}: podman build took ${seconds.toFixed(1)} s (layer cache may apply); image ${megabytes.toFixed(1)} MB`);
    }, 900_000);

    it('answers /health, echoes a WebSocket, runs as uid 1000 under tini as PID 1, and exits 0 on podman stop', async () => {
      const port = await freePort();
      const name = `healthgate-test-${process.pid}-${port}`;
      await podman(['run', '-d', '--name', name, '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096', '-p', `127.0.0.1:${port}:8080`, tag]);
      defer(() => podman(['rm', '-f', '-t', '0', name]).then(() => undefined));

      // The image starts node twice: a minute on a loaded 2-core machine is 5× what it takes.
      await waitForStatus(port, '/health', 200, 60_000);
      expect(await httpGet(port, '/health')).toEqual({ status: 200, body: 'ok\n' });
      const echo = await wsRoundTrip(port, '/');
      expect(echo.text).toBe('hello through healthgate');
      expect(echo.binary).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));

      const procs = await processes(name);
      expect(procs.find((p) => p.pid === 1)?.name).toBe('tini');
      // healthgate and the app are node processes (Node 26 names its main thread node-MainThread):
      // two of them, both unprivileged.
      expect(procs.filter((p) => /^node\b/.test(p.name)).length).toBe(2);
      expect(procs.filter((p) => p.uid !== 1000)).toEqual([]);

      // podman stop sends SIGTERM (the image's STOPSIGNAL is the default) and waits 10 s before
      // SIGKILL, which would show as 137: 0 means healthgate drained and the app exited cleanly.
      await podman(['stop', name]);
      expect((await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).trim()).toBe('0');
    }, 120_000);
  });
});
