// The second phase of `npm test`: the real podman builds (test/shipping/image.test.ts), after the
// socket tests and never beside them. A build that cannot use its layer cache (after any change to
// src/) takes both cores and the disk for a minute; run beside the socket tests it once made 18 of
// them miss their bounds on a 2-core machine.
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/shipping/image.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};
