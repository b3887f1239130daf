import { existsSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { parseToml } from './toml';
import ts from 'typescript';
import { ROOT } from './support';

const IAC_FILE = join(ROOT, '.railway', 'railway.ts');
const TOML_FILE = join(ROOT, 'railway.toml');

/** Type-checks `.railway/railway.ts` (or other text in its place) against the installed `railway` package. */
function typeErrors(text?: string): string[] {
  const fileName = text === undefined ? IAC_FILE : join(ROOT, '.railway', 'railway.negative-control.ts');
  // As the Railway CLI evaluates it: an ES module, resolved through the package's "import" exports.
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Preserve,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  if (text !== undefined) {
    const original = {
      getSourceFile: host.getSourceFile.bind(host),
      fileExists: host.fileExists.bind(host),
      readFile: host.readFile.bind(host),
    };
    host.fileExists = (f) => f === fileName || original.fileExists(f);
    host.readFile = (f) => (f === fileName ? text : original.readFile(f));
    host.getSourceFile = (f, language, ...rest) =>
      f === fileName ? ts.createSourceFile(f, text, language) : original.getSourceFile(f, language, ...rest);
  }
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

interface ServiceSettings {
  build: Record<string, unknown>;
  deploy: Record<string, unknown>;
  variables?: Record<string, { type: string; value?: string }>;
}

/** Runs the IaC program as the CLI would (with a context for an unnamed project) and returns its one service. */
async function evaluateIac(): Promise<{ projectName: string; services: Array<ServiceSettings & { name: string }> }> {
  const { code } = transformSync(readFileSync(IAC_FILE, 'utf8'), { loader: 'ts', format: 'cjs', target: 'node22' });
  const mod = new Module(IAC_FILE) as Module & { _compile(code: string, file: string): void; paths: string[] };
  mod.filename = IAC_FILE;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(join(ROOT, '.railway'));
  mod._compile(code, IAC_FILE);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const iac = require('railway/iac') as typeof import('railway/iac');
  const program = (mod.exports as { default: import('railway/iac').RailwayProgram }).default;
  const definition = await program(iac.createRailwayContext({ projectName: 'my-project' }), iac.project);
  return {
    projectName: definition.name,
    services: (definition.resources ?? []).flat().filter((r) => r.type === 'service') as Array<ServiceSettings & { name: string }>,
  };
}

describe('Railway configuration', () => {
  it('.railway/railway.ts type-checks against the real railway/iac package', () => {
    expect(typeErrors()).toEqual([]);
  });

  it('the type-check is real: a restart policy the package does not know is an error', () => {
    const bad = readFileSync(IAC_FILE, 'utf8').replace("'ON_FAILURE'", "'SOMETIMES'");
    expect(typeErrors(bad).join('\n')).toMatch(/SOMETIMES/);
  });

  it('railway.toml sets what .railway/railway.ts sets, key by key', async () => {
    const toml = parseToml(readFileSync(TOML_FILE, 'utf8')) as { build: Record<string, unknown>; deploy: Record<string, unknown> };
    const { projectName, services } = await evaluateIac();
    expect(projectName).toBe('my-project');
    expect(services).toHaveLength(1);
    const [svc] = services;
    expect(svc.build).toEqual(toml.build);
    expect(svc.deploy).toEqual(toml.deploy);
    expect(Object.keys(toml).sort()).toEqual(['build', 'deploy']);
  });

  it('builds this Dockerfile, probes a path healthgate answers, and restarts on failure', () => {
    const toml = parseToml(readFileSync(TOML_FILE, 'utf8')) as { build: Record<string, unknown>; deploy: Record<string, unknown> };
    expect(toml.build).toEqual({ builder: 'DOCKERFILE', dockerfilePath: 'Dockerfile' });
    expect(existsSync(join(ROOT, toml.build.dockerfilePath as string))).toBe(true);
    // healthgate's default readiness paths are / and /health (SPEC: Command line).
    expect(toml.deploy.healthcheckPath).toBe('/health');
    expect(toml.deploy.healthcheckTimeout).toBe(120);
    expect(toml.deploy.restartPolicyType).toBe('ON_FAILURE');
    expect(toml.deploy.restartPolicyMaxRetries).toBe(10);
    // Railway's parser wants numbers here, not strings.
    expect(typeof toml.deploy.drainingSeconds).toBe('number');
    expect(toml.deploy.drainingSeconds).toBeGreaterThan(0);
  });

  it('hands healthgate the same draining budget Railway uses, through RAILWAY_DEPLOYMENT_DRAINING_SECONDS', async () => {
    const [svc] = (await evaluateIac()).services;
    expect(svc.variables?.RAILWAY_DEPLOYMENT_DRAINING_SECONDS).toEqual({ type: 'literal', value: String(svc.deploy.drainingSeconds) });
  });

  it('says in railway.toml that Railway stops reading it on 2026-12-01, and points to .railway/railway.ts', () => {
    const text = readFileSync(TOML_FILE, 'utf8');
    expect(text).toContain('2026-12-01');
    expect(text).toContain('.railway/railway.ts');
  });
});
