// The load part of the hardening suite (test/hardening/*.load.test.ts): figures of time, memory
// and CPU under attack and churn. One file at a time, so that no other test shares the two cores
// with the one that is measuring: `npm run test:hardening` (after `npm test` in .ci/run).
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/hardening/**/*.load.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};
