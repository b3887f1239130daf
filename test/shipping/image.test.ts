import { buildImage, checkContainer, ensureBaseImages, nodeBaseMajors, podmanUnavailable } from './podman';

// The real thing: `podman build` of the Dockerfile and of the Node example's Dockerfile, each
// image run as a platform would run it (PORT published, a SIGTERM to stop it). The base images
// are stand-ins built by scripts/base-images.sh (no image registry is reachable here).

const IMAGES = [
  { name: 'Dockerfile', dockerfile: 'Dockerfile', tag: 'localhost/healthgate-test/healthgate:latest' },
  {
    name: 'docs/examples/railway-node',
    dockerfile: 'docs/examples/railway-node/Dockerfile',
    tag: 'localhost/healthgate-test/railway-node:latest',
  },
];

const unavailable = podmanUnavailable();
if (unavailable) console.warn(`SKIPPED the real image builds: ${unavailable}`);
const describeWithPodman = unavailable ? describe.skip : describe;

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
      await checkContainer(tag, { uid: 1000 });
    }, 120_000);
  });
});
