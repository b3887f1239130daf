#!/usr/bin/env node
'use strict';
// Bundles the CLI and the demo app into single files that run with a plain `node` and no
// node_modules: dist/healthgate.cjs (what an app image copies) and dist/demo.cjs (the image's
// default backend). Run by `npm run build` after tsc, which type-checks the same sources.
const { join } = require('node:path');
const { chmodSync } = require('node:fs');
const esbuild = require('esbuild');

const root = join(__dirname, '..');
const { version } = require(join(root, 'package.json'));

/** The options of every healthgate bundle; bench/baseline.js bundles an older commit with them too. */
const common = {
  bundle: true,
  // ws (the demo app's server, and the client of `healthgate check`) loads these native
  // speed-ups only when installed, in a try/catch; the bundles run without them.
  external: ['bufferutil', 'utf-8-validate'],
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  logLevel: 'warning',
  legalComments: 'none',
  absWorkingDir: root,
};

async function main() {
  await esbuild.build({
    ...common,
    entryPoints: ['bin/healthgate.ts'],
    outfile: 'dist/healthgate.cjs',
    banner: { js: '#!/usr/bin/env node' },
    // bin/healthgate.ts reads this instead of package.json, which a lone bundle does not have.
    define: { HEALTHGATE_VERSION: JSON.stringify(version) },
  });
  chmodSync(join(root, 'dist', 'healthgate.cjs'), 0o755);
  await esbuild.build({
    ...common,
    entryPoints: ['demo/echo-server.ts'],
    outfile: 'dist/demo.cjs',
  });
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

module.exports = { BUNDLE_OPTIONS: common };
