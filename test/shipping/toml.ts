// smol-toml's package.json names ESM types under every condition, so TypeScript refuses to import
// it from a CommonJS test file, although its `require` build (what jest loads) is the same API.
// The types are taken from the ESM side and the code from `require`.
import type * as Toml from 'smol-toml' with { 'resolution-mode': 'import' };

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const parseToml: typeof Toml.parse = (require('smol-toml') as typeof Toml).parse;
