import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

/**
 * The bundled demo app: a plain WebSocket echo server that knows nothing about health checks.
 * It listens on $PORT, which healthgate sets to the backend port in entrypoint mode; its optional
 * argument is healthgate's public port, only to print where to connect.
 */
const port = Number(process.env.PORT ?? 8081);
const server = createServer((req, res) => {
  // A page for browsers, so that the demo shows where to connect; health checks never get here.
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>healthgate demo</title>
<p>WebSocket echo: <code>new WebSocket(location.href.replace('http', 'ws'))</code></p>
<script>const ws = new WebSocket(location.href.replace('http', 'ws'));
ws.onopen = () => ws.send('hello through healthgate');
ws.onmessage = (e) => document.body.insertAdjacentHTML('beforeend', '<p>echo: ' + e.data + '</p>');</script>`);
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.listen(port, () => {
  // The app's own port is internal: users connect through healthgate's public port.
  const publicPort = Number(process.argv[2] ?? 0);
  const where =
    publicPort > 0
      ? `http://localhost:${publicPort}/app (page), ws://localhost:${publicPort}/ (echo)`
      : "healthgate's port (see its start line)";
  process.stdout.write(`demo echo app on internal port ${port}; connect through healthgate: ${where}\n`);
});
const stop = (): void => {
  for (const client of wss.clients) client.close(1001, 'server shutting down');
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
