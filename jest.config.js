/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testTimeout: 30000,
  // The load tests measure time, memory and CPU: they run alone, in `npm run test:hardening`.
  testPathIgnorePatterns: ['/node_modules/', '\\.load\\.test\\.ts$'],
  // Most of a test's time is spent waiting on a child, a socket or a timer, not on CPU: with two
  // workers on two cores the suite used 116 CPU-seconds in 86 s of wall time (67% busy); with
  // three, 69-73 s, every bound still holding, also beside image builds that miss their layer
  // cache (78 s, load average 2-4). A number: jest reads '150%' as 150 workers (load 37, and
  // tests fail their bounds).
  maxWorkers: 3,
  testSequencer: '<rootDir>/test/sequencer.js',
};
