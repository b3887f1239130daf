import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defer } from '../helpers/cleanup';
import { codeBlock } from './markdown';
import { buildImage, checkContainer, ensureBaseImages, nodeBaseMajors, podmanUnavailable } from './podman';
import { ROOT } from './support';

// The real thing: `podman build` of the Dockerfile, of the Node example's Dockerfile and of
// docs/recipes.md's three lines, each image run as a platform would run it (PORT published, a
// SIGTERM to stop it). The base images are stand-ins built by scripts/base-images.sh (no image
// registry is reachable here).

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

  it("recipes.md's three lines, built into a bare Debian image (no node, no libatomic1): it answers /health, echoes, and stops with 0", async () => {
    const [copyNode, , installTini, entrypoint] = codeBlock(join(ROOT, 'docs', 'recipes.md'), 'any-dockerfile').text.split('\n');
    const major = /node:(\d+)-/.exec(copyNode)![1];
    await ensureBaseImages([major]);
    const context = mkdtempSync(join(tmpdir(), 'healthgate-three-lines-'));
    defer(() => rmSync(context, { recursive: true, force: true }));
    for (const file of ['healthgate.cjs', 'demo.cjs']) copyFileSync(join(ROOT, 'dist', file), join(context, file));
    // What release.yml publishes beside the file: `sha256sum healthgate.cjs`.
    const sha256 = createHash('sha256')
      .update(readFileSync(join(context, 'healthgate.cjs')))
      .digest('hex');
    writeFileSync(join(context, 'healthgate.cjs.sha256'), `${sha256}  healthgate.cjs\n`);
    const dockerfile = [
      // Any Debian-based app image: here the bare bookworm of scripts/base-images.sh.
      'FROM localhost/healthgate-standin/debian:bookworm-minbase',
      copyNode,
      // buildah 1.28 has no ADD --checksum: the same file from this build, checked the same way.
      'COPY healthgate.cjs healthgate.cjs.sha256 /app/',
      'RUN cd /app && sha256sum -c healthgate.cjs.sha256',
      installTini,
      'COPY demo.cjs /app/demo.cjs',
      entrypoint,
      // The app: the demo echo server, which reads PORT as healthgate sets it.
      'CMD ["node", "/app/demo.cjs"]',
    ].join('\n');
    writeFileSync(join(context, 'Dockerfile'), `${dockerfile}\n`);
    const { seconds, megabytes } = await buildImage(join(context, 'Dockerfile'), 'localhost/healthgate-test/three-lines:latest', context);
    console.log(`three-line recipe: podman build took ${seconds.toFixed(1)} s (layer cache may apply); image ${megabytes.toFixed(1)} MB`);
    await checkContainer('localhost/healthgate-test/three-lines:latest');
  }, 900_000);
});
