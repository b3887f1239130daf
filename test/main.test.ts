import { loopbackArgs } from './helpers/cli';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { EchoBackend } from './helpers/backends';
import { drainCleanup } from './helpers/cleanup';
import { parseConfig } from '../src/config';
import { createLog } from '../src/log';
import { start } from '../src/main';

// src/main.ts as an embedder uses it: start(config, deps) with its own signal emitter.

afterEach(drainCleanup);

const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });

it('regression: a SIGTERM while start() is still binding leaves no listening port once exited resolves', async () => {
  const backend = await EchoBackend.start('app');
  const outcome = parseConfig(loopbackArgs(backend.port), {});
  if (outcome.kind !== 'run') throw new Error('expected a config to run');
  const signals = new EventEmitter();
  const starting = start(outcome.config, { log: createLog({ level: 'error', format: 'json', stream: discard }), signals });
  // start() has put in its signal handlers and is waiting for the bind.
  signals.emit('SIGTERM', 'SIGTERM');
  const gate = await starting;
  expect(await gate.exited).toBe(0);
  const probe = connect({ port: gate.address.port, host: '127.0.0.1' });
  const connected = await new Promise<string | undefined>((resolve) => {
    probe.once('connect', () => resolve('connected'));
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
  });
  probe.destroy();
  expect(connected).toBe('ECONNREFUSED');
});
