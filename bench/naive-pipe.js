'use strict';
// The reference point, "a naive Node pipe": the first chunk is sniffed, a complete
// `GET /health` (or `/`) head without `Upgrade` is answered from pre-rendered bytes (keep-alive
// honoured), anything else is written to a new backend connection and then `pipe()`d both ways.
// No timeouts, no limits, no metrics: the floor that healthgate's extra work is measured against.
// Usage: node bench/naive-pipe.js PORT BACKEND_PORT
const net = require('node:net');

const [port, backendPort] = process.argv.slice(2).map(Number);
const OK = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n',
);
const OK_CLOSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n',
);
const HEALTH = /^(?:GET|HEAD) \/(?:health)?(?:\?[^ ]*)? HTTP\/1\.[01]\r\n/;

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
  client.on('error', () => client.destroy());
  const onData = (chunk) => {
    for (;;) {
      const text = chunk.toString('latin1', 0, Math.min(chunk.length, 8192));
      const end = text.indexOf('\r\n\r\n');
      if (end < 0 || !HEALTH.test(text) || /\r\nupgrade:/i.test(text.slice(0, end))) break;
      const close = /\r\nconnection:\s*close/i.test(text.slice(0, end));
      client.write(close ? OK_CLOSE : OK);
      if (close) {
        client.end();
        return;
      }
      chunk = chunk.subarray(end + 4);
      if (chunk.length === 0) return;
    }
    client.removeListener('data', onData);
    client.pause();
    const backend = net.connect({ port: backendPort, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
    backend.on('error', () => {
      backend.destroy();
      client.destroy();
    });
    client.on('error', () => backend.destroy());
    backend.on('connect', () => {
      backend.write(chunk);
      client.pipe(backend);
      backend.pipe(client);
    });
  };
  client.on('data', onData);
});
server.listen({ port, host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
