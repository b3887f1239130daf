/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testTimeout: 30000,
  // The load tests measure time, memory and CPU: they run alone, in `npm run test:hardening`.
  testPathIgnorePatterns: ['/node_modules/', '\\.load\\.test\\.ts$'],
  // Socket tests share two cores with the CLI children they start.
  maxWorkers: 2,
};
