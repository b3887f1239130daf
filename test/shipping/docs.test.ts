import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { localCommand, startContainerCommand } from './container';
import { codeBlock, codeBlocks } from './markdown';
import { cliEnv } from '../helpers/cli';
import { freePort } from '../helpers/raw';
import { httpGet, ROOT, waitForStatus } from './support';

const DOCS = join(ROOT, 'docs');
const MARKDOWN = [
  'README.md',
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const help = execFileSync(process.execPath, [join(ROOT, 'bin', 'healthgate'), '--help'], { env: cliEnv(), encoding: 'utf8' });

/** Every flag (`--port`, `-p`) and env variable (`(env NAME;`) that --help names. */
function helpNames(): { flags: string[]; envs: string[] } {
  const options = help.slice(help.indexOf('Options:'));
  const flags = [...options.matchAll(/(?:^|\s|,)(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1]);
  // --help wraps lines, so an env name may sit on the line after "(env".
  const envs = [...options.matchAll(/\(env\s+([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]);
  return { flags: [...new Set(flags)], envs: [...new Set(envs)] };
}

describe('docs/configuration.md and the README keep up with --help', () => {
  const { flags, envs } = helpNames();

  it('--help names the options this test expects to find', () => {
    expect(flags).toEqual(expect.arrayContaining(['--port', '-p', '--backend-port', '--log-format', '--version', '--help']));
    expect(envs).toEqual(expect.arrayContaining(['PORT', 'HEALTHGATE_BACKEND_PORT', 'LOG_LEVEL']));
    expect(envs.length).toBeGreaterThanOrEqual(18);
  });

  it.each(['docs/configuration.md', 'README.md'])('%s names every flag and env variable of --help', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const missing = [...flags, ...envs].filter((name) => !new RegExp(`\`[^\`]*(?<![\\w-])${name}(?![\\w-])[^\`]*\``).test(text));
    expect(missing).toEqual([]);
  });

  it('configuration.md gives each option its env variable and default on one table row', () => {
    const text = readFileSync(join(DOCS, 'configuration.md'), 'utf8');
    const rows = text.split('\n').filter((l) => l.startsWith('| `-'));
    const rowOf = (flag: string): string | undefined => rows.find((r) => r.split('|')[1].includes(flag));
    for (const match of help.matchAll(/\n {2}(-\w, )?(--[\w-]+)[^\n]*(?:\n {20,}[^\n]*)*/g)) {
      const block = match[0].replace(/\s+/g, ' ');
      const flag = match[2];
      const row = rowOf(flag);
      expect({ flag, row: row !== undefined }).toEqual({ flag, row: true });
      const env = /\(env ([A-Z0-9_]+);/.exec(block)?.[1];
      if (env) expect({ flag, env: row!.split('|')[2].includes(`\`${env}\``) }).toEqual({ flag, env: true });
      const defaultText = /default ([^)]*)\)\s*$/.exec(block)?.[1];
      // --help's defaults in the doc's words: the first token of each must appear in the row's default cell.
      if (defaultText) {
        const cell = row!.split('|')[3];
        const first = defaultText.split(/[ ,]/)[0].replace(/\*.*/, '');
        expect({ flag, defaultText, cell: cell.includes(first) }).toEqual({ flag, defaultText, cell: true });
      }
    }
  });
});

describe('docs/configuration.md keeps up with `healthgate check --help`', () => {
  const checkHelp = execFileSync(process.execPath, [join(ROOT, 'bin', 'healthgate'), 'check', '--help'], {
    env: cliEnv(),
    encoding: 'utf8',
  });
  const text = readFileSync(join(DOCS, 'configuration.md'), 'utf8');
  const start = text.indexOf('## `healthgate check`');
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);

  it('healthgate --help points to the check command', () => {
    expect(help).toMatch(/\n {2}check <url> /);
    expect(start).toBeGreaterThan(0);
  });

  it('the `healthgate check` section gives each option of its --help a table row with its default', () => {
    const rows = section.split('\n').filter((l) => l.startsWith('| `-'));
    const blocks = [...checkHelp.matchAll(/\n {2}(-\w, )?(--[\w-]+)[^\n]*(?:\n {20,}[^\n]*)*/g)];
    expect(blocks.map((m) => m[2])).toEqual(['--health-path', '--ws-path', '--json', '--timeout', '--ca', '--insecure', '--help']);
    for (const match of blocks) {
      const flag = match[2];
      const row = rows.find((r) => r.split('|')[1].includes(`${flag} `) || r.split('|')[1].includes(`${flag}\``));
      expect({ flag, row: row !== undefined }).toEqual({ flag, row: true });
      const defaultText = /\(default ([^)]*)\)\s*$/.exec(match[0].replace(/\s+/g, ' '))?.[1];
      if (defaultText)
        expect({ flag, defaultText, cell: row!.split('|')[2].includes(defaultText) }).toEqual({ flag, defaultText, cell: true });
    }
  });
});

describe('code blocks in the README and docs/', () => {
  const blocks = MARKDOWN.flatMap((file) => codeBlocks(join(ROOT, file)).map((block) => ({ file, ...block })));

  it('every block a user would paste is a tested file, a tested command, or says why it cannot run here', () => {
    const unmarked = blocks.filter((b) => b.lang !== 'text' && b.marker === undefined).map((b) => `${b.file}:${b.line}`);
    expect(unmarked).toEqual([]);
  });

  it('a block marked `file:` is that file, whole', () => {
    for (const block of blocks.filter((b) => b.marker?.kind === 'file')) {
      const path = join(ROOT, block.marker!.value);
      expect({ at: `${block.file}:${block.line}`, exists: existsSync(path) }).toEqual({ at: `${block.file}:${block.line}`, exists: true });
      expect(block.text.trimEnd()).toBe(readFileSync(path, 'utf8').trimEnd());
    }
  });

  it('a block marked `run:` is read by the test it names, or is a step of .ci/run', () => {
    const ciSteps = readFileSync(join(ROOT, '.ci', 'run'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const block of blocks.filter((b) => b.marker?.kind === 'run')) {
      const [path, id] = block.marker!.value.split('#');
      const where = `${block.file}:${block.line}`;
      if (path === '.ci/run') {
        const commands = block.text
          .split(/\n|&&/)
          .map((c) => c.trim())
          .filter((c) => c !== '');
        for (const command of commands)
          expect({ where, command, inCi: ciSteps.some((s) => s === command || s.startsWith(`${command} `)) }).toEqual({
            where,
            command,
            inCi: true,
          });
        continue;
      }
      expect({ where, id }).toEqual({ where, id: expect.any(String) });
      const test = readFileSync(join(ROOT, path), 'utf8');
      expect({ where, read: test.includes(`'${id}'`) }).toEqual({ where, read: true });
      expect(codeBlock(join(ROOT, block.file), id).line).toBe(block.line);
    }
  });

  it('a block that cannot run here says why, and there are few of them', () => {
    const notRun = blocks.filter((b) => b.marker?.kind === 'not-run');
    for (const block of notRun) expect(block.marker!.value.length).toBeGreaterThan(10);
    // railway config plan/apply, kubectl apply: a Railway account, a cluster. (The image builds
    // run for real in image.test.ts and recipes.test.ts.)
    expect(notRun.map((b) => `${b.file}:${b.line}`)).toHaveLength(2);
  });

  it('relative links point at files that exist', () => {
    for (const file of MARKDOWN) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const path = join(ROOT, dirname(file), target);
        expect({ file, target, exists: existsSync(path) }).toEqual({ file, target, exists: true });
      }
    }
  });
});

describe('docs/configuration.md: configuring with variables', () => {
  it('the env-only example starts the demo with two liveness paths', async () => {
    const block = codeBlock(join(DOCS, 'configuration.md'), 'env-example').text;
    const words = block.split(/\s+/);
    const env: Record<string, string> = {};
    while (/^[A-Z_]+=/.test(words[0])) {
      const [name, value] = words.shift()!.split('=');
      env[name] = value;
    }
    expect(env).toEqual({ HEALTHGATE_BACKEND_PORT: '8081', HEALTHGATE_LIVE_PATHS: '/livez,/alive' });
    // The demo's port 8081 becomes a free one, as everywhere in the tests.
    env.HEALTHGATE_BACKEND_PORT = String(await freePort());
    const gate = startContainerCommand(await localCommand(words), ROOT, env);
    await gate.listening();
    const port = gate.port;
    await waitForStatus(port, '/health', 200);
    for (const path of ['/livez', '/alive']) expect(await httpGet(port, path)).toEqual({ status: 200, body: 'ok\n' });
  });
});

describe('docs/railway.md', () => {
  const text = readFileSync(join(DOCS, 'railway.md'), 'utf8');

  it('leads with .railway/railway.ts and says that Railway stops reading railway.toml on 2026-12-01', () => {
    expect(text.indexOf('.railway/railway.ts')).toBeLessThan(text.indexOf('railway.toml'));
    expect(text).toMatch(/stops reading `railway.toml` on\s+2026-12-01/);
  });

  it('covers the variables, the healthcheck, draining and the start-command trap', () => {
    for (const needle of [
      'RAILWAY_DEPLOYMENT_DRAINING_SECONDS',
      'drainingSeconds',
      'healthcheckPath',
      'healthcheck.railway.app',
      'ENTRYPOINT',
      'COPY --from=healthgate',
    ]) {
      expect({ needle, found: text.includes(needle) }).toEqual({ needle, found: true });
    }
  });
});

describe('docs/recipes.md', () => {
  const text = readFileSync(join(DOCS, 'recipes.md'), 'utf8');
  const sections = new Map(
    text
      .split(/^## /m)
      .slice(1)
      .map((s) => [s.slice(0, s.indexOf('\n')), s] as const),
  );

  it('has a recipe per platform, the "when you don\'t need healthgate" section, and says which part of the image build is a stand-in', () => {
    expect([...sections.keys()]).toEqual(
      expect.arrayContaining([
        "When you don't need healthgate",
        'Any Dockerfile: three lines',
        'Railway with a Dockerfile',
        'Railway with Railpack, no Dockerfile',
        'Render',
        'Fly.io',
        'Kubernetes',
        'Without entrypoint mode',
      ]),
    );
    expect(text).toMatch(/\*\*stand-ins\*\*/);
  });

  it.each([
    ['Railway with Railpack, no Dockerfile', /https:\/\/(railpack\.com|docs\.railway\.com|github\.com\/railwayapp)/],
    ['Render', /https:\/\/render\.com\//],
    ['Fly.io', /https:\/\/fly\.io\//],
    ["When you don't need healthgate", /https:\/\/docs\.railway\.com\//],
  ])('the %s section keeps a source for its platform claims beside them', (name, source) => {
    expect(sections.get(name)).toMatch(source);
  });

  it('says what each recipe test covers and what it does not', () => {
    for (const [name, body] of sections) {
      if (["When you don't need healthgate", 'Kubernetes', 'What the image tests build'].includes(name)) continue;
      expect({ name, tested: body.includes('*Tested:*'), notTested: body.includes('*Not tested:*') }).toEqual({
        name,
        tested: true,
        notTested: true,
      });
    }
  });
});

describe('docs/railway.md: what a deploy gets wrong', () => {
  const text = readFileSync(join(DOCS, 'railway.md'), 'utf8');

  it('treats railway.toml as legacy, and names the target port and the client-IP headers', () => {
    expect(text).toMatch(/Legacy: services still on `railway.toml`/);
    expect(text).toMatch(/target port/);
    expect(text).toContain('X-Real-IP');
    expect(text).toContain('X-Forwarded-For');
    expect(text).toContain('https://docs.railway.com/guides/public-networking');
  });
});
