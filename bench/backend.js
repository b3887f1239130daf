'use strict';
// The bench's backend, in a process of its own: a `ws` WebSocket echo server (binary stays
// binary, no compression) whose HTTP side answers every plain request `200 ok`, so that rows
// which pass health checks through (direct, HAProxy in tcp mode) have something to reach.
// Usage: node bench/backend.js PORT — prints "listening PORT" once it accepts.
const { createServer } = require('node:http');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const OK = Buffer.from('ok\n');

const server = createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': OK.length, 'Cache-Control': 'no-store' });
  res.end(OK);
});
// wrk's keep-alive connections must not be cut while a row runs.
server.keepAliveTimeout = 60_000;
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, clientTracking: false });
wss.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => process.stdout.write(`listening ${port}\n`));
process.on('SIGTERM', () => process.exit(0));
