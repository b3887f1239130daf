'use strict';
// Preloaded into a proxy under study (`node --expose-gc --require bench/memory-probe.js …`) by
// bench/profile.js: on SIGUSR2 it collects garbage and appends one JSON line of
// process.memoryUsage() to $MEMORY_PROBE_FILE; with $MEMORY_PROBE_SNAPSHOTS set, it also writes a
// heap snapshot beside it. The proxy's own code is untouched.
const { appendFileSync } = require('node:fs');
const v8 = require('node:v8');

const file = process.env.MEMORY_PROBE_FILE;
let count = 0;
process.on('SIGUSR2', () => {
  count++;
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
  const line = { at: count, ...process.memoryUsage() };
  if (process.env.MEMORY_PROBE_SNAPSHOTS) line.snapshot = v8.writeHeapSnapshot(`${file}.${count}.heapsnapshot`);
  appendFileSync(file, `${JSON.stringify(line)}\n`);
});
