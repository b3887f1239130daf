'use strict';
// The "before" of a speed-up, in the same run as the "after": healthgate's bundle built from an
// older commit (BENCH_BASELINE, a git ref), so that docs/performance.md shows both side by side
// with the same machine, load and noise. The sources of bin/ and src/ at that ref are taken with
// `git archive` into a temp dir and bundled as scripts/bundle.js does, with this checkout's
// node_modules.
const { spawnSync } = require('node:child_process');
const { mkdirSync } = require('node:fs');
const { join } = require('node:path');

const { BUNDLE_OPTIONS } = require('../scripts/bundle');

const ROOT = join(__dirname, '..');

/** The commit that a ref names, short, or undefined when git does not know it. */
function resolveRef(ref) {
  const out = spawnSync('git', ['rev-parse', '--short', '--verify', `${ref}^{commit}`], { cwd: ROOT, encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

/** Builds dist/healthgate.cjs of `ref` into `dir`; resolves with the bundle's path. */
async function buildBaseline(ref, dir) {
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git archive --format=tar '${ref}' bin src | tar -x -C '${dir}'`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (archive.status !== 0) throw new Error(`git archive ${ref}: ${archive.stderr.trim()}`);
  const esbuild = require('esbuild');
  const outfile = join(dir, 'healthgate.cjs');
  await esbuild.build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: dir,
    nodePaths: [join(ROOT, 'node_modules')],
    entryPoints: [join(dir, 'bin', 'healthgate.ts')],
    outfile,
    define: { HEALTHGATE_VERSION: JSON.stringify(`${require(join(ROOT, 'package.json')).version}+${ref}`) },
  });
  return outfile;
}

module.exports = { resolveRef, buildBaseline };
