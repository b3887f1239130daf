// ESLint flat config: typescript-eslint's type-aware recommended rules on TypeScript, ESLint's
// recommended rules on the plain JavaScript (bench, scripts, fixtures, config files).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'node_modules/', 'coverage/'],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // tsconfig.lint.json: tsconfig.json's settings over src, bin, demo and test.
      parserOptions: { project: './tsconfig.lint.json', tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node, ...globals.jest },
    },
  },
  {
    // STYLE: small functions; issue 11 set the bound at about 60 lines.
    files: ['src/**/*.ts', 'bin/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // @types/jest types asymmetric matchers (expect.any, expect.stringMatching, …) as any, so
      // every one of them inside an expected value would trip this rule.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node, ...globals.jest } },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
);
