import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerignore, only, parseDockerfile, readDockerfile, type Stage } from './dockerfile';
import { codeBlock } from './markdown';
import { ROOT } from './support';

// What the Dockerfile promises in words, checked on its text. image.test.ts builds and runs it for
// real with podman (where podman can run); these checks hold everywhere: the build stage is the
// README's build, the context leaves out what it should, and the final stage's shape.

const stages = readDockerfile(ROOT);
const build = stages.find((s) => s.name === 'build')!;
const final = stages.at(-1)!;
const runCommands = (stage: Stage): string[] => only(stage, 'RUN').map((i) => i.text);

describe('Dockerfile', () => {
  it("the build stage runs the README's build commands, in the README's order", () => {
    const readme = codeBlock(join(ROOT, 'README.md'), 'build-steps');
    const readmeCommands = readme.text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(runCommands(build)).toEqual(readmeCommands);
    expect(runCommands(build)).toEqual(['npm ci', 'npm run build']);
  });

  it('.dockerignore keeps node_modules, dist and .git out of the context', () => {
    const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    for (const path of ['node_modules', 'node_modules/ws/index.js', 'dist/healthgate.cjs', '.git/HEAD', 'healthgate-0.1.0.tgz']) {
      expect(ignored(path)).toBe(true);
    }
    for (const path of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'src/main.ts',
      'bin/healthgate.ts',
      'demo/echo-server.ts',
      'scripts/bundle.js',
    ]) {
      expect(ignored(path)).toBe(false);
    }
  });

  it('the final stage is node, tini from apt, the two bundles and a non-root user', () => {
    expect(stages).toHaveLength(2);
    expect(final.from).toMatch(/^node:26-[a-z]+-slim$/);
    expect(runCommands(final).join('\n')).toMatch(/apt-get install -y --no-install-recommends tini\b/);
    const copies = only(final, 'COPY').map((c) => c.text);
    expect(copies).toEqual(['--from=build /src/dist/healthgate.cjs /src/dist/demo.cjs /app/']);
    const user = only(final, 'USER').map((u) => u.text);
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(only(final, 'ENTRYPOINT')[0].args).toEqual(['tini', '--', 'node', '--max-semi-space-size=2', '/app/healthgate.cjs']);
    expect(only(final, 'CMD')[0].args).toEqual(['--backend-port', '8081', '--', 'node', '/app/demo.cjs']);
  });

  it('every Dockerfile starts from a Node line that CI tests (scripts/node-line.sh), none end-of-life', () => {
    const pinned = readFileSync(join(ROOT, 'scripts', 'node-line.sh'), 'utf8');
    const ciLines = [...pinned.matchAll(/\[(\d+)\]=\d+\.\d+\.\d+/g)].map((m) => m[1]);
    expect(ciLines).toEqual(['22', '24', '26']);
    const examples = readdirSync(join(ROOT, 'docs', 'examples'))
      .map((d) => `docs/examples/${d}/Dockerfile`)
      .filter((f) => existsSync(join(ROOT, f)));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const file of ['Dockerfile', ...examples]) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect({ file, eol: /^FROM node:(1\d|20|21)\b/m.test(text) }).toEqual({ file, eol: false });
      for (const stage of parseDockerfile(text)) {
        const major = /^node:(\d+)-/.exec(stage.from)?.[1];
        if (major) expect({ file, major, tested: ciLines.includes(major) }).toEqual({ file, major, tested: true });
      }
    }
  });
});
